using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Api;

/// <summary>GitHub App endpoints: the App itself and its installations (JWT), installation tokens, a repository's installation.</summary>
internal static class AppEndpoints
{
    /// <summary>The App whose JWT authenticated the request; any other credential gets GitHub's 401.</summary>
    private static SimApp App(HttpContext ctx) =>
        ctx.Items[ApiMiddleware.AppKey] as SimApp ?? throw new SimulatorError(401, GitHubEngine.JwtUndecodable);

    private static (SimInstallation Installation, string Token) Installation(HttpContext ctx) =>
        ctx.Items[ApiMiddleware.InstallationKey] as (SimInstallation, string)? ?? throw new SimulatorError(401, "Bad credentials");

    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        app.MapGet("/app", (HttpContext ctx) =>
        {
            var a = App(ctx);
            return ApiRequest.Json(engine.Json.App(a, engine.Installations(a).Count));
        });

        app.MapGet("/app/installations", (HttpContext ctx) =>
            ApiRequest.Json(new JsonArray(engine.Installations(App(ctx)).Select(i => (JsonNode?)engine.Json.Installation(i)).ToArray())));

        app.MapGet("/app/installations/{id:long}", (HttpContext ctx, long id) =>
            ApiRequest.Json(engine.Json.Installation(engine.GetInstallation(App(ctx), id))));

        app.MapPost("/app/installations/{id:long}/access_tokens", (HttpContext ctx, long id) =>
        {
            var a = App(ctx);
            var installation = engine.GetInstallation(a, id);
            var (token, expires) = engine.CreateInstallationToken(a, id);
            var repositories = engine.RepositoriesOf(installation);
            return ApiRequest.Json(new JsonObject
            {
                ["token"] = token,
                ["expires_at"] = GitHubJson.Timestamp(expires),
                ["permissions"] = engine.Json.Installation(installation)["permissions"]!.DeepClone(),
                ["repository_selection"] = "selected",
                ["repositories"] = new JsonArray(repositories.Select(r => (JsonNode?)GitHubJson.InstallationRepository(r)).ToArray()),
            }, 201);
        });

        app.MapGet("/repos/{owner}/{repo}/installation", (HttpContext ctx, string owner, string repo) =>
        {
            var installation = engine.InstallationFor(App(ctx), engine.GetRepo(owner, repo)) ?? throw SimulatorError.NotFound();
            return ApiRequest.Json(engine.Json.Installation(installation));
        });

        app.MapGet("/installation/repositories", (HttpContext ctx) =>
        {
            var installation = Installation(ctx).Installation;
            var repositories = engine.RepositoriesOf(installation);
            return ApiRequest.Json(new JsonObject
            {
                ["total_count"] = repositories.Count,
                ["repository_selection"] = "selected",
                ["repositories"] = new JsonArray(repositories.Select(r => (JsonNode?)engine.Json.Repository(r)).ToArray()),
            });
        });

        app.MapDelete("/installation/token", (HttpContext ctx) =>
        {
            var (installation, token) = Installation(ctx);
            engine.RevokeInstallationTokens(installation.Id, token);
            return Results.NoContent();
        });
    }
}
