using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Api;

/// <summary>
/// GitHub's App manifest flow (<see cref="GitHubEngine.ConfirmManifest"/>): the web page
/// /settings/apps/new (or /organizations/{org}/settings/apps/new) takes the posted <c>manifest</c>
/// (a form field, or a query parameter on GET for scripts), confirms it at once and redirects to the
/// manifest's redirect_url with <c>code</c> and <c>state</c>; the REST call
/// <c>POST /app-manifests/{code}/conversions</c> (no authentication) answers 201 with the App and its
/// <c>pem</c>, <c>webhook_secret</c>, <c>client_id</c> and <c>client_secret</c>.
/// </summary>
internal static class ManifestEndpoints
{
    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        app.MapGet("/settings/apps/new", (HttpContext ctx, string? state) => ConfirmAsync(ctx, engine, null, state));
        app.MapPost("/settings/apps/new", (HttpContext ctx, string? state) => ConfirmAsync(ctx, engine, null, state));
        app.MapGet("/organizations/{org}/settings/apps/new", (HttpContext ctx, string org, string? state) => ConfirmAsync(ctx, engine, org, state));
        app.MapPost("/organizations/{org}/settings/apps/new", (HttpContext ctx, string org, string? state) => ConfirmAsync(ctx, engine, org, state));

        app.MapPost("/app-manifests/{code}/conversions", (string code) =>
        {
            var c = engine.ConvertManifest(code);
            var json = engine.Json.App(c.App, 0);
            json["name"] = c.Name;
            json["description"] = c.Manifest["description"]?.DeepClone() ?? "";
            json["external_url"] = c.Manifest["url"]?.DeepClone();
            json["client_id"] = c.OAuth.ClientId;
            if (c.Manifest["default_permissions"] is JsonObject permissions) json["permissions"] = permissions.DeepClone();
            if (c.Manifest["default_events"] is JsonArray events) json["events"] = events.DeepClone();
            json["client_secret"] = c.OAuth.ClientSecret;
            json["webhook_secret"] = c.WebhookSecret;
            json["pem"] = c.Pem;
            return ApiRequest.Json(json, StatusCodes.Status201Created);
        });
    }

    private static async Task<IResult> ConfirmAsync(HttpContext ctx, GitHubEngine engine, string? organization, string? state)
    {
        string? manifest = ctx.Request.Query["manifest"];
        if (ctx.Request.HasFormContentType)
            manifest = (await ctx.Request.ReadFormAsync(ctx.RequestAborted))["manifest"].ToString() is { Length: > 0 } posted ? posted : manifest;
        if (string.IsNullOrEmpty(manifest))
            return Results.Text("Register new GitHub App: the simulator creates Apps from a posted manifest (form field `manifest`), or through POST /_sim/apps.\n", "text/plain", statusCode: 200);
        return Results.Redirect(engine.ConfirmManifest(manifest, state, organization));
    }
}
