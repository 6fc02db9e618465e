using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Api;

/// <summary>Repository commits, compare, commit statuses and check runs.</summary>
internal static class CommitEndpoints
{
    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        var repos = app.MapGroup("/repos/{owner}/{repo}");

        // Branch names may contain slashes, so /commits/{ref}/status cannot be a route template:
        // one catch-all reads the sub-resource from the end of the path.
        repos.MapGet("/commits/{**rest}", async (HttpContext ctx, string owner, string repo, string? rest) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var path = Uri.UnescapeDataString(rest ?? "").Trim('/');
            foreach (var (suffix, handler) in new (string, Func<string, Task<IResult>>)[]
            {
                ("/status", async gitRef => await CombinedAsync(engine, ctx, r, gitRef)),
                ("/statuses", async gitRef => await StatusesAsync(engine, ctx, r, gitRef)),
                ("/check-runs", async gitRef => await CheckRunsAsync(engine, ctx, r, gitRef)),
                ("/check-suites", async gitRef => await CheckSuitesAsync(engine, ctx, r, gitRef)),
            })
            {
                if (path.EndsWith(suffix, StringComparison.Ordinal) && path.Length > suffix.Length)
                    return await handler(path[..^suffix.Length]);
            }
            if (path.Length == 0) throw SimulatorError.NotFound();
            var commit = await ResolveAsync(engine, r, path, ctx) ?? throw new SimulatorError(422, $"No commit found for SHA: {path}");
            if (ctx.Request.Headers.Accept.ToString().Contains("application/vnd.github.sha", StringComparison.OrdinalIgnoreCase))
                return Results.Text(commit.Sha, "application/vnd.github.sha");
            return ApiRequest.Json(engine.Json.RepoCommit(r.Model, commit));
        });

        repos.MapGet("/statuses/{**gitRef}", async (HttpContext ctx, string owner, string repo, string? gitRef) =>
            await StatusesAsync(engine, ctx, engine.Repo(ctx, owner, repo), Uri.UnescapeDataString(gitRef ?? "")));

        repos.MapPost("/statuses/{sha}", async (HttpContext ctx, string owner, string repo, string sha) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var status = await engine.CreateStatusAsync(r, sha, body.Str("state", required: true), body.Str("context"), body.Str("description"), body.Str("target_url"), ctx.User(), ctx.RequestAborted);
            lock (engine.Sync) return ApiRequest.Json(engine.Json.Status(r.Model, status), 201);
        });

        repos.MapGet("/compare/{**basehead}", async (HttpContext ctx, string owner, string repo, string? basehead) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var text = Uri.UnescapeDataString(basehead ?? "");
            var dots = text.IndexOf("...", StringComparison.Ordinal);
            if (dots <= 0 || dots + 3 >= text.Length) throw SimulatorError.NotFound();
            var baseCommit = await ResolveAsync(engine, r, StripOwner(text[..dots]), ctx) ?? throw SimulatorError.NotFound();
            var headCommit = await ResolveAsync(engine, r, StripOwner(text[(dots + 3)..]), ctx) ?? throw SimulatorError.NotFound();
            var mergeBaseSha = await r.Git.MergeBaseAsync(baseCommit.Sha, headCommit.Sha, ctx.RequestAborted);
            var mergeBase = mergeBaseSha is null ? null : await r.Git.ReadCommitAsync(mergeBaseSha, ctx.RequestAborted);
            var ahead = await r.Git.RevListAsync(headCommit.Sha, baseCommit.Sha, ctx.RequestAborted);
            var behind = await r.Git.RevListAsync(baseCommit.Sha, headCommit.Sha, ctx.RequestAborted);
            var status = ahead.Count == 0 && behind.Count == 0 ? "identical" : behind.Count == 0 ? "ahead" : ahead.Count == 0 ? "behind" : "diverged";
            // Unpaged, at most 250 commits; with page or per_page (at most 100) GitHub pages through all of them, oldest first.
            var q = ctx.Request.Query;
            var paged = q.ContainsKey("page") || q.ContainsKey("per_page");
            var perPage = int.TryParse(q["per_page"], out var pp) ? Math.Clamp(pp, 1, 100) : 30;
            var page = int.TryParse(q["page"], out var p) ? Math.Max(1, p) : 1;
            var commits = await r.Git.ReadCommitsAsync(
                (paged ? ahead.Skip((page - 1) * perPage).Take(perPage) : ahead.TakeLast(ApiRequest.PullCommitsLimit)).ToList(), ctx.RequestAborted);
            return ApiRequest.Json(ApiJson.Compare(engine.Json, r.Model, text, baseCommit, mergeBase, status, ahead.Count, behind.Count, commits));
        });

        repos.MapPost("/check-runs", async (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var headSha = body.Str("head_sha", required: true)!;
            var run = await engine.CreateCheckRunAsync(r, headSha, null, Fields(body, requireName: true), ctx.User(), ctx.RequestAborted);
            lock (engine.Sync) return ApiRequest.Json(ApiJson.CheckRun(engine.Json, r.Model, run, engine.SuiteOf(r, run)), 201);
        });

        repos.MapMethods("/check-runs/{id}", ["PATCH"], async (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var run = engine.UpdateCheckRun(r, ApiRequest.Id(id), Fields(body, requireName: false), ctx.User());
            lock (engine.Sync) return ApiRequest.Json(ApiJson.CheckRun(engine.Json, r.Model, run, engine.SuiteOf(r, run)));
        });

        repos.MapGet("/check-runs/{id}", (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var run = engine.GetCheckRun(r, ApiRequest.Id(id));
            lock (engine.Sync) return ApiRequest.Json(ApiJson.CheckRun(engine.Json, r.Model, run, engine.SuiteOf(r, run)));
        });
    }

    private static string StripOwner(string side) => side.Contains(':') ? side[(side.IndexOf(':') + 1)..] : side;

    /// <summary>A sha, a branch name, or heads/x / tags/x, as GitHub accepts for {ref}.</summary>
    private static async Task<SimCommit?> ResolveAsync(GitHubEngine engine, RepoHandle repo, string gitRef, HttpContext ctx)
    {
        if (gitRef.StartsWith("heads/", StringComparison.Ordinal) || gitRef.StartsWith("tags/", StringComparison.Ordinal))
        {
            var viaRef = await repo.Git.ReadCommitAsync("refs/" + gitRef, ctx.RequestAborted);
            if (viaRef is not null) return viaRef;
        }
        var branch = await repo.Git.GetRefAsync(GitHubEngine.BranchRef(gitRef), ctx.RequestAborted);
        return await repo.Git.ReadCommitAsync(branch ?? gitRef, ctx.RequestAborted);
    }

    private static async Task<IResult> CombinedAsync(GitHubEngine engine, HttpContext ctx, RepoHandle r, string gitRef)
    {
        var commit = await ResolveAsync(engine, r, gitRef, ctx) ?? throw SimulatorError.NotFound();
        lock (engine.Sync)
        {
            var latest = engine.LatestStatusesOf(r, commit.Sha);
            return ApiRequest.Json(ApiJson.CombinedStatus(engine.Json, r.Model, commit.Sha, GitHubEngine.CombinedState(latest.ToList()), latest));
        }
    }

    private static async Task<IResult> StatusesAsync(GitHubEngine engine, HttpContext ctx, RepoHandle r, string gitRef)
    {
        var commit = await ResolveAsync(engine, r, gitRef, ctx) ?? throw SimulatorError.NotFound();
        lock (engine.Sync) return ApiRequest.Paged(ctx, engine.StatusesOf(r, commit.Sha).Select(s => (JsonNode)engine.Json.Status(r.Model, s)).ToList());
    }

    private static async Task<IResult> CheckRunsAsync(GitHubEngine engine, HttpContext ctx, RepoHandle r, string gitRef)
    {
        var commit = await ResolveAsync(engine, r, gitRef, ctx) ?? throw SimulatorError.NotFound();
        var q = ctx.Request.Query;
        var runs = engine.CheckRunsOf(r, commit.Sha).AsEnumerable();
        if (q["check_name"].ToString() is { Length: > 0 } name) runs = runs.Where(x => x.Name == name);
        if (q["status"].ToString() is { Length: > 0 } status) runs = runs.Where(x => x.Status == status);
        // filter=latest (the default) keeps the most recent run of each name.
        if (q["filter"].ToString() != "all") runs = runs.GroupBy(x => x.Name).Select(g => g.MaxBy(x => x.Id)!);
        lock (engine.Sync)
            return ApiRequest.Json(ApiJson.CheckRuns(engine.Json, r.Model, runs.OrderByDescending(x => x.Id).Select(x => (x, engine.SuiteOf(r, x))).ToList()));
    }

    private static async Task<IResult> CheckSuitesAsync(GitHubEngine engine, HttpContext ctx, RepoHandle r, string gitRef)
    {
        var commit = await ResolveAsync(engine, r, gitRef, ctx) ?? throw SimulatorError.NotFound();
        lock (engine.Sync) return ApiRequest.Json(ApiJson.CheckSuites(engine.Json, r.Model, engine.CheckSuitesOf(r, commit.Sha)));
    }

    private static GitHubEngine.CheckRunFields Fields(JsonObject body, bool requireName)
    {
        var output = body["output"] as JsonObject;
        return new GitHubEngine.CheckRunFields(
            body.Str("name", required: requireName),
            body.Str("status"),
            body.Str("conclusion"),
            body.Str("details_url"),
            body.Str("external_id"),
            output?.Str("title"),
            output?.Str("summary"),
            body.Date("started_at"),
            body.Date("completed_at"));
    }
}
