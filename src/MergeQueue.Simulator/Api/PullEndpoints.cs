using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Api;

/// <summary>Pull requests: list, get, create, update (close/reopen), merge, reviews, commits.</summary>
internal static class PullEndpoints
{
    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        var pulls = app.MapGroup("/repos/{owner}/{repo}/pulls");

        pulls.MapGet("", (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var q = ctx.Request.Query;
            var state = q["state"].ToString() is { Length: > 0 } s ? s : "open";
            if (state is not ("open" or "closed" or "all")) throw SimulatorError.Validation("Validation Failed", "Issue", "state", "invalid");
            var head = q["head"].ToString();
            var baseRef = q["base"].ToString();
            var list = engine.Pulls(r)
                .Where(p => state == "all" || p.State == state)
                .Where(p => head.Length == 0 || head == p.HeadRef || head == $"{r.Model.Owner.Login}:{p.HeadRef}")
                .Where(p => baseRef.Length == 0 || p.BaseRef == baseRef);
            list = q["direction"] == "asc" ? list.OrderBy(p => p.Number) : list.OrderByDescending(p => p.Number);
            lock (engine.Sync) return ApiRequest.Paged(ctx, list.Select(p => (JsonNode)engine.Json.PullRequest(r.Model, p, null)).ToList());
        });

        pulls.MapPost("", async (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var head = body.Str("head", required: true)!;
            if (head.Contains(':')) head = head[(head.IndexOf(':') + 1)..];
            var pr = await engine.OpenPullRequestAsync(r, new OpenPullRequestRequest(head, body.Str("title", required: true)!, body.Str("base", required: true), body.Str("body"), null, body.Bool("draft") ?? false), ctx.User(), ctx.RequestAborted);
            return ApiRequest.Json(await PullJsonAsync(engine, r, pr, ctx), 201);
        });

        pulls.MapGet("/{number}", async (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            return ApiRequest.Json(await PullJsonAsync(engine, r, pr, ctx));
        });

        pulls.MapMethods("/{number}", ["PATCH"], async (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var user = ctx.User();
            if (pr.User.Id != user.Id) engine.RequireWrite(r, user);
            var state = body.Str("state");
            if (state is not null and not ("open" or "closed")) throw SimulatorError.Validation("Validation Failed", "PullRequest", "state", "invalid");
            var baseRef = body.Str("base");
            if (baseRef is not null && await r.Git.GetRefAsync(GitHubEngine.BranchRef(baseRef), ctx.RequestAborted) is null)
                throw SimulatorError.Validation($"Proposed base branch '{baseRef}' was not found", "PullRequest", "base", "invalid");
            engine.EditPull(r, pr, user, body.Str("title"), body.Str("body"), baseRef);
            if (state == "closed") engine.ClosePull(r, pr, user);
            if (state == "open") await engine.ReopenPullAsync(r, pr, user, ctx.RequestAborted);
            return ApiRequest.Json(await PullJsonAsync(engine, r, pr, ctx));
        });

        pulls.MapPut("/{number}/merge", async (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var result = await engine.MergePullRequestAsync(r, pr, ctx.User(), body.Str("merge_method") ?? "merge", body.Str("sha"), body.Str("commit_title"), body.Str("commit_message"), ctx.RequestAborted);
            return ApiRequest.Json(ApiJson.MergeResult(result.Sha, result.Message));
        });

        pulls.MapGet("/{number}/merge", (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            return pr.Merged ? Results.NoContent() : throw SimulatorError.NotFound();
        });

        pulls.MapGet("/{number}/reviews", (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            lock (engine.Sync) return ApiRequest.Paged(ctx, pr.Reviews.OrderBy(x => x.Id).Select(x => (JsonNode)engine.Json.Review(r.Model, pr, x)).ToList());
        });

        pulls.MapPost("/{number}/reviews", async (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var review = engine.SubmitReview(r, pr, ctx.User(), body.Str("event", required: true)!, body.Str("body"), body.Str("commit_id"));
            lock (engine.Sync) return ApiRequest.Json(engine.Json.Review(r.Model, pr, review));
        });

        pulls.MapPut("/{number}/reviews/{id}/dismissals", async (HttpContext ctx, string owner, string repo, string number, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            await ApiRequest.ReadObjectAsync(ctx);
            var review = engine.DismissReview(r, pr, ApiRequest.Id(id), ctx.User());
            lock (engine.Sync) return ApiRequest.Json(engine.Json.Review(r.Model, pr, review));
        });

        pulls.MapGet("/{number}/commits", async (HttpContext ctx, string owner, string repo, string number) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var pr = engine.GetPull(r, ApiRequest.Number(number));
            var commits = await engine.PullCommitsAsync(r, pr, ctx.RequestAborted);
            // As GitHub: the list stops at the first 250 commits (the compare API pages through more).
            return ApiRequest.Paged(ctx, commits.Take(ApiRequest.PullCommitsLimit).Select(c => (JsonNode)engine.Json.RepoCommit(r.Model, c)).ToList());
        });
    }

    /// <summary>A single pull request, with mergeability computed as GitHub's test merge would.</summary>
    public static async Task<JsonObject> PullJsonAsync(GitHubEngine engine, RepoHandle repo, SimPullRequest pr, HttpContext ctx)
    {
        var mergeable = await engine.MergeableAsync(repo, pr, ctx.RequestAborted);
        var stats = await engine.PullStatsAsync(repo, pr, ctx.RequestAborted);
        lock (engine.Sync)
        {
            var json = engine.Json.PullRequest(repo.Model, pr, mergeable, stats);
            // mergeable_state mirrors GitHub's MergeStateStatus for the cases the simulator knows.
            json["mergeable_state"] = pr.State != "open" ? "unknown" : pr.Draft ? "draft" : mergeable == false ? "dirty" : "clean";
            json.TryAdd("merged_by", pr.MergedBy is null ? null : engine.Json.User(pr.MergedBy));
            return json;
        }
    }
}
