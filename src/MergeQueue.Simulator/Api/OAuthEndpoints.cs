using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;
using Microsoft.AspNetCore.WebUtilities;

namespace MergeQueue.Simulator.Api;

/// <summary>
/// GitHub's OAuth web flow: the browser goes to /login/oauth/authorize, the user signed in at
/// GitHub (<see cref="GitHubEngine.BrowserLogin"/>, set through the control API) approves at once,
/// and the app exchanges the code at /login/oauth/access_token for a token that works on the REST
/// API (GET /user says whose it is). Like GitHub, refusals of the exchange are 200 answers with an
/// <c>error</c> field, form-encoded unless the client accepts JSON.
/// </summary>
internal static class OAuthEndpoints
{
    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        app.MapGet("/login/oauth/authorize", (HttpContext ctx) =>
        {
            var q = ctx.Request.Query;
            var client = engine.FindOAuthApp(q["client_id"]);
            if (client is null) return Results.Text("Not Found: no OAuth app has this client_id.\n", "text/plain", statusCode: 404);
            string? state = q["state"];
            string redirect = q["redirect_uri"].ToString() is { Length: > 0 } r ? r : client.CallbackUrl;
            if (!GitHubEngine.RedirectAllowed(client, redirect))
            {
                return Results.Redirect(WithQuery(client.CallbackUrl, ("error", "redirect_uri_mismatch"),
                    ("error_description", "The redirect_uri MUST match the registered callback URL for this application."),
                    ("error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch"),
                    ("state", state)));
            }
            var login = engine.BrowserLogin;
            if (login is null)
                return Results.Text("Sign in to GitHub to continue: nobody is signed in at the simulator (POST /_sim/oauth/browser-login).\n", "text/plain", statusCode: 401);
            var code = engine.IssueOAuthCode(client, engine.GetUser(login), q["redirect_uri"].ToString() is { Length: > 0 } given ? given : null);
            return Results.Redirect(WithQuery(redirect, ("code", code), ("state", state)));
        });

        app.MapPost("/login/oauth/access_token", async (HttpContext ctx) =>
        {
            var fields = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var (key, value) in ctx.Request.Query) fields[key] = value;
            if (ctx.Request.HasFormContentType)
                foreach (var (key, value) in await ctx.Request.ReadFormAsync(ctx.RequestAborted)) fields[key] = value;
            else if (ctx.Request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true
                     && await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted) is JsonObject body)
                foreach (var (key, value) in body) fields[key] = value?.ToString();

            (string Key, string? Value)[] answer;
            try
            {
                var (_, token) = engine.ExchangeOAuthCode(fields.GetValueOrDefault("client_id"), fields.GetValueOrDefault("client_secret"),
                    fields.GetValueOrDefault("code"), fields.GetValueOrDefault("redirect_uri"));
                answer = [("access_token", token), ("token_type", "bearer"), ("scope", fields.GetValueOrDefault("scope") ?? "")];
            }
            catch (OAuthRefusal refusal)
            {
                answer = [("error", refusal.Error), ("error_description", refusal.Description),
                    ("error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" + refusal.Error.Replace('_', '-'))];
            }
            var accept = ctx.Request.Headers.Accept.ToString();
            if (accept.Contains("application/json", StringComparison.OrdinalIgnoreCase))
            {
                var json = new JsonObject();
                foreach (var (key, value) in answer) json[key] = value;
                return ApiRequest.Json(json);
            }
            var form = string.Join("&", answer.Select(a => Uri.EscapeDataString(a.Key) + "=" + Uri.EscapeDataString(a.Value ?? "")));
            return Results.Text(form, "application/x-www-form-urlencoded; charset=utf-8");
        });
    }

    private static string WithQuery(string url, params (string Key, string? Value)[] pairs)
    {
        foreach (var (key, value) in pairs)
            if (value is not null) url = QueryHelpers.AddQueryString(url, key, value);
        return url;
    }
}
