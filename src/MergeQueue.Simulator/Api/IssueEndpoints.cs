using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Api;

/// <summary>The issues side of pull requests: the issue itself, comments, reactions, labels.</summary>
internal static class IssueEndpoints
{
    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        var issues = app.MapGroup("/repos/{owner}/{repo}/issues");

        issues.MapGet("/{number}", (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            lock (engine.Sync)
            {
                var json = engine.Json.Issue(r.Model, pr);
                json.TryAdd("labels", new JsonArray(engine.LabelsOf(r, pr).Select(l => (JsonNode)engine.Json.Label(r.Model, l)).ToArray()));
                return ApiRequest.Json(json);
            }
        });

        issues.MapGet("/{number}/comments", (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var comments = engine.Comments(r, ApiRequest.Number(number));
            lock (engine.Sync) return ApiRequest.Paged(ctx, comments.Select(c => (JsonNode)engine.Json.IssueComment(r.Model, c)).ToList());
        });

        issues.MapPost("/{number}/comments", async (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var n = ApiRequest.Number(number);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var comment = engine.CreateComment(r, n, ctx.User(), body.Str("body", required: true)!);
            lock (engine.Sync) return ApiRequest.Json(engine.Json.IssueComment(r.Model, comment), 201);
        });

        issues.MapGet("/comments/{id}", (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var comment = engine.GetComment(r, ApiRequest.Id(id));
            lock (engine.Sync) return ApiRequest.Json(engine.Json.IssueComment(r.Model, comment));
        });

        issues.MapMethods("/comments/{id}", ["PATCH"], async (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var commentId = ApiRequest.Id(id);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var comment = engine.EditComment(r, commentId, ctx.User(), body.Str("body", required: true)!);
            lock (engine.Sync) return ApiRequest.Json(engine.Json.IssueComment(r.Model, comment));
        });

        issues.MapDelete("/comments/{id}", (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            engine.DeleteComment(r, ApiRequest.Id(id), ctx.User());
            return Results.NoContent();
        });

        issues.MapGet("/comments/{id}/reactions", (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var comment = engine.GetComment(r, ApiRequest.Id(id));
            var content = ctx.Request.Query["content"].ToString();
            lock (engine.Sync)
                return ApiRequest.Paged(ctx, comment.Reactions.Where(x => content.Length == 0 || x.Content == content).Select(x => (JsonNode)engine.Json.Reaction(x)).ToList());
        });

        issues.MapPost("/comments/{id}/reactions", async (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var commentId = ApiRequest.Id(id);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var (reaction, created) = engine.AddReaction(r, commentId, ctx.User(), body.Str("content", required: true)!);
            lock (engine.Sync) return ApiRequest.Json(engine.Json.Reaction(reaction), created ? 201 : 200);
        });

        issues.MapDelete("/comments/{id}/reactions/{reactionId}", (HttpContext ctx, string owner, string repo, string id, string reactionId) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            engine.DeleteReaction(r, ApiRequest.Id(id), ApiRequest.Id(reactionId));
            return Results.NoContent();
        });

        issues.MapGet("/{number}/labels", (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            return LabelsJson(engine, r, engine.LabelsOf(r, pr));
        });

        issues.MapPost("/{number}/labels", async (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var n = ApiRequest.Number(number);
            // GitHub takes {"labels": [...]} or a bare array (Octokit sends the bare array).
            var node = await ApiRequest.ReadNodeAsync(ctx);
            var names = node is JsonArray ? ApiRequest.Strings(node, "labels") : ApiRequest.Strings((node as JsonObject)?["labels"], "labels");
            return LabelsJson(engine, r, engine.AddLabels(r, n, names ?? throw ApiRequest.Missing("labels"), ctx.User()));
        });

        issues.MapDelete("/{number}/labels/{name}", (HttpContext ctx, string owner, string repo, string number, string name) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            return LabelsJson(engine, r, engine.RemoveLabel(r, ApiRequest.Number(number), Uri.UnescapeDataString(name), ctx.User()));
        });
    }

    private static IResult LabelsJson(GitHubEngine engine, RepoHandle r, IReadOnlyList<SimLabel> labels)
    {
        lock (engine.Sync) return ApiRequest.Json(new JsonArray(labels.Select(l => (JsonNode)engine.Json.Label(r.Model, l)).ToArray()));
    }
}
