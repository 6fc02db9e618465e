using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;
using MergeQueue.Simulator.Git;

namespace MergeQueue.Simulator.Api;

/// <summary>Repositories, the authenticated user, collaborator permission, contents and repository hooks.</summary>
internal static class RepoEndpoints
{
    /// <summary>The repository named in the route, if the caller may read it (GitHub answers 404 otherwise).</summary>
    public static RepoHandle Repo(this GitHubEngine engine, HttpContext ctx, string owner, string name, bool write = false)
    {
        var repo = engine.GetRepo(owner, name);
        if (write) engine.RequireWrite(repo, ctx.User());
        else engine.RequireRead(repo, ctx.User());
        return repo;
    }

    /// <summary>Where tarball downloads are served: GitHub's codeload.github.com, here on the simulator's own host.</summary>
    public const string CodeloadPath = "/_codeload/";

    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        MapTarball(app, engine);
        app.MapGet("/user", (HttpContext ctx) => ApiRequest.Json(engine.Json.User(ctx.User())));

        app.MapGet("/rate_limit", (HttpContext ctx) =>
        {
            var h = ctx.Response.Headers;
            var core = new JsonObject { ["limit"] = int.Parse(h["x-ratelimit-limit"]!), ["remaining"] = int.Parse(h["x-ratelimit-remaining"]!), ["reset"] = long.Parse(h["x-ratelimit-reset"]!), ["used"] = int.Parse(h["x-ratelimit-used"]!) };
            return ApiRequest.Json(new JsonObject { ["resources"] = new JsonObject { ["core"] = core }, ["rate"] = core.DeepClone() });
        });

        var repos = app.MapGroup("/repos/{owner}/{repo}");

        repos.MapGet("", (HttpContext ctx, string owner, string repo) =>
            ApiRequest.Json(engine.Json.Repository(engine.Repo(ctx, owner, repo).Model)));

        repos.MapGet("/collaborators/{user}/permission", (HttpContext ctx, string owner, string repo, string user) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var target = engine.FindUser(user) ?? throw new SimulatorError(404, $"{user} is not a user");
            return ApiRequest.Json(ApiJson.CollaboratorPermission(engine.Json, target, engine.RoleOf(r, target)));
        });

        // Branch protection: its required status checks only (GitHub shows it to admins and Apps with Administration).
        repos.MapGet("/branches/{branch}/protection", (HttpContext ctx, string owner, string repo, string branch) =>
        {
            var r = engine.GetRepo(owner, repo);
            engine.RequireProtectionRead(r, ctx.User());
            return ApiRequest.Json(engine.BranchProtectionJson(r, Uri.UnescapeDataString(branch)));
        });
        repos.MapGet("/branches/{branch}/protection/required_status_checks", (HttpContext ctx, string owner, string repo, string branch) =>
        {
            var r = engine.GetRepo(owner, repo);
            engine.RequireProtectionRead(r, ctx.User());
            return ApiRequest.Json(engine.RequiredStatusChecksJson(r, Uri.UnescapeDataString(branch)));
        });
        repos.MapPut("/branches/{branch}/protection", async (HttpContext ctx, string owner, string repo, string branch) =>
        {
            var r = engine.GetRepo(owner, repo);
            engine.RequireProtectionRead(r, ctx.User());
            var body = await ApiRequest.ReadObjectAsync(ctx);
            if (!body.ContainsKey("required_status_checks"))
                throw SimulatorError.Validation("Invalid request.\n\n\"required_status_checks\" wasn't supplied.");
            var checks = body["required_status_checks"] as JsonObject;
            var contexts = checks?["contexts"] is JsonArray list ? list.Select(c => c?.GetValue<string>() ?? "").ToArray() : checks is null ? null : [];
            var name = Uri.UnescapeDataString(branch);
            engine.SetBranchProtection(r, name, new Control.BranchProtectionRequest(contexts, checks?["strict"]?.GetValue<bool>() ?? false));
            return ApiRequest.Json(engine.BranchProtectionJson(r, name));
        });
        repos.MapDelete("/branches/{branch}/protection", (HttpContext ctx, string owner, string repo, string branch) =>
        {
            var r = engine.GetRepo(owner, repo);
            engine.RequireProtectionRead(r, ctx.User());
            return engine.RemoveBranchProtection(r, Uri.UnescapeDataString(branch)) ? Results.NoContent() : throw new SimulatorError(404, "Branch not protected");
        });

        // GitHub's repository activity: every branch move, newest first unless direction=asc.
        repos.MapGet("/activity", (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var q = ctx.Request.Query;
            var gitRef = q["ref"].ToString();
            var branch = gitRef.StartsWith("refs/heads/", StringComparison.Ordinal) ? gitRef["refs/heads/".Length..] : gitRef;
            var type = q["activity_type"].ToString();
            var actor = q["actor"].ToString();
            var items = engine.Moves(r.FullName, branch.Length == 0 ? null : branch)
                .Select(m => (Move: m, Type: m.OldSha is null ? "branch_creation" : m.NewSha is null ? "branch_deletion" : m.Forced ? "force_push" : "push"))
                .Where(x => (type.Length == 0 || x.Type == type) && (actor.Length == 0 || string.Equals(x.Move.Actor, actor, StringComparison.OrdinalIgnoreCase)))
                .Select(x => (JsonNode)new JsonObject
                {
                    ["id"] = x.Move.Sequence,
                    ["node_id"] = GitHubJson.NodeId("RepositoryActivity", x.Move.Sequence),
                    ["before"] = x.Move.OldSha ?? GitRepository.ZeroSha,
                    ["after"] = x.Move.NewSha ?? GitRepository.ZeroSha,
                    ["ref"] = $"refs/heads/{x.Move.Branch}",
                    ["timestamp"] = GitHubJson.Timestamp(x.Move.Time),
                    ["activity_type"] = x.Type,
                    ["actor"] = engine.FindUser(x.Move.Actor) is { } user ? engine.Json.User(user) : null,
                })
                .ToList();
            if (q["direction"] != "asc") items.Reverse();
            return ApiRequest.Paged(ctx, items);
        });

        repos.MapGet("/contents/{**path}", async (HttpContext ctx, string owner, string repo, string? path) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var gitRef = ctx.Request.Query["ref"].ToString();
            if (string.IsNullOrEmpty(gitRef)) gitRef = r.Model.DefaultBranch;
            var commit = await r.Git.ResolveCommitAsync(gitRef, ctx.RequestAborted) ?? throw new SimulatorError(404, $"No commit found for the ref {gitRef}");
            path = Uri.UnescapeDataString(path ?? "").Trim('/');
            if (path.Length == 0)
            {
                var root = await r.Git.ReadTreeAsync(commit, false, ctx.RequestAborted);
                return ApiRequest.Json(new JsonArray(root.Select(e => (JsonNode)ApiJson.ContentFile(engine.Json, r.Model, e, gitRef, null)).ToArray()));
            }
            var entry = await r.Git.GetEntryAsync(commit, path, ctx.RequestAborted) ?? throw SimulatorError.NotFound();
            if (entry.Type == "tree")
            {
                var children = await r.Git.ReadTreeAsync(commit + ":" + path, false, ctx.RequestAborted);
                return ApiRequest.Json(new JsonArray(children.Select(e => (JsonNode)ApiJson.ContentFile(engine.Json, r.Model, e with { Path = path + "/" + e.Path }, gitRef, null)).ToArray()));
            }
            var bytes = entry.Type == "blob" ? await r.Git.ReadBlobAsync(entry.Sha, ctx.RequestAborted) : null;
            var accept = ctx.Request.Headers.Accept.ToString();
            if (bytes is not null && accept.Contains(".raw", StringComparison.OrdinalIgnoreCase))
            {
                // Answer with the raw media type that was asked for (Octokit reads that one as bytes).
                return Results.Bytes(bytes, accept.Contains("application/vnd.github.v3.raw", StringComparison.OrdinalIgnoreCase) ? "application/vnd.github.v3.raw" : "application/vnd.github.raw");
            }
            return ApiRequest.Json(ApiJson.ContentFile(engine.Json, r.Model, entry, gitRef, bytes));
        });

        repos.MapGet("/hooks", (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            RequireAdmin(engine, ctx, r);
            lock (engine.Sync) return ApiRequest.Json(new JsonArray(r.Model.Hooks.Select(h => (JsonNode)ApiJson.Hook(engine.Json, r.Model, h)).ToArray()));
        });

        repos.MapPost("/hooks", async (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            RequireAdmin(engine, ctx, r);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var config = body["config"] as JsonObject ?? throw ApiRequest.Missing("config");
            var url = config.Str("url", required: true)!;
            var hook = engine.AddRepoHook(r, url, config.Str("secret"), ApiRequest.Strings(body["events"], "events"), body.Bool("active") ?? true, config.Str("content_type") ?? "form");
            lock (engine.Sync)
            {
                var ping = new JsonObject { ["zen"] = "Keep it logically awesome.", ["hook_id"] = hook.Id, ["hook"] = ApiJson.Hook(engine.Json, r.Model, hook), ["repository"] = engine.Json.Repository(r.Model), ["sender"] = engine.Json.User(ctx.User()) };
                engine.Webhooks.Enqueue(hook, "ping", null, r.FullName, ping.ToJsonString());
                return ApiRequest.Json(ApiJson.Hook(engine.Json, r.Model, hook), 201);
            }
        });

        repos.MapDelete("/hooks/{id}", (HttpContext ctx, string owner, string repo, string id) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            RequireAdmin(engine, ctx, r);
            var hookId = ApiRequest.Id(id);
            lock (engine.Sync)
            {
                if (r.Model.Hooks.RemoveAll(h => h.Id == hookId) == 0) throw SimulatorError.NotFound();
            }
            return Results.NoContent();
        });
    }

    private static void RequireAdmin(GitHubEngine engine, HttpContext ctx, RepoHandle repo)
    {
        if (GitHubEngine.PermissionRank(engine.RoleOf(repo, ctx.User())) < GitHubEngine.PermissionRank("admin"))
            throw SimulatorError.NotFound();
    }

    /// <summary>
    /// <c>GET /repos/{o}/{r}/tarball/{ref}</c> as GitHub answers it: 302 to codeload with a short-lived
    /// token in the URL (so a client that drops its Authorization header on the redirect still gets
    /// it), which serves the commit's tree as <c>{owner}-{repo}-{sha7}/...</c> in a gzipped tar.
    /// </summary>
    private static void MapTarball(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        var tokens = new System.Collections.Concurrent.ConcurrentDictionary<string, (string Repo, string Sha, DateTimeOffset Until)>();
        app.MapGet("/repos/{owner}/{repo}/tarball/{**gitRef}", async (HttpContext ctx, string owner, string repo, string? gitRef) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            gitRef = string.IsNullOrEmpty(gitRef) ? r.Model.DefaultBranch : Uri.UnescapeDataString(gitRef);
            var sha = await r.Git.ResolveCommitAsync(gitRef, ctx.RequestAborted) ?? throw SimulatorError.NotFound();
            var token = Guid.NewGuid().ToString("N");
            tokens[token] = (r.Model.FullName, sha, engine.Now.AddMinutes(5));
            var url = $"{ctx.Request.Scheme}://{ctx.Request.Host}{CodeloadPath}{r.Model.FullName}/legacy.tar.gz/{Uri.EscapeDataString(gitRef)}?token={token}";
            return Results.Redirect(url);
        });
        app.MapGet(CodeloadPath + "{owner}/{repo}/legacy.tar.gz/{**gitRef}", async (HttpContext ctx, string owner, string repo) =>
        {
            if (!tokens.TryGetValue(ctx.Request.Query["token"].ToString(), out var grant) || grant.Until < engine.Now
                || !string.Equals(grant.Repo, $"{owner}/{repo}", StringComparison.OrdinalIgnoreCase))
                return Results.NotFound();
            var r = engine.GetRepo(owner, repo);
            var name = $"{r.Model.Owner.Login}-{r.Model.Name}-{grant.Sha[..7]}";
            var bytes = await r.Git.ArchiveTarGzAsync(grant.Sha, name + "/", ctx.RequestAborted);
            ctx.Response.Headers.ContentDisposition = $"attachment; filename={name}.tar.gz";
            return Results.Bytes(bytes, "application/x-gzip");
        });
    }
}
