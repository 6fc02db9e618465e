using System.Text.Json.Nodes;
using MergeQueue.Simulator.Engine;
using MergeQueue.Simulator.Git;

namespace MergeQueue.Simulator.Api;

/// <summary>Git data: references, commits, trees; and the repository-level merges API.</summary>
internal static class GitDataEndpoints
{
    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine)
    {
        var git = app.MapGroup("/repos/{owner}/{repo}/git");

        // GET refs/{ref}: an exact ref as an object; otherwise every ref starting with it, as an array (GitHub's legacy behaviour Octokit relies on).
        git.MapGet("/refs/{**name}", async (HttpContext ctx, string owner, string repo, string? name) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var prefix = "refs/" + Uri.UnescapeDataString(name ?? "").TrimStart('/');
            var refs = await r.Git.ListRefsAsync(prefix.TrimEnd('/') == "refs" ? "refs/" : prefix, ctx.RequestAborted);
            var exact = refs.FirstOrDefault(x => x.Ref == prefix);
            if (exact.Ref is not null) return ApiRequest.Json(engine.Json.Reference(r.Model, exact.Ref, exact.Sha));
            if (refs.Count == 0) throw SimulatorError.NotFound();
            return ApiRequest.Paged(ctx, refs.Select(x => (JsonNode)engine.Json.Reference(r.Model, x.Ref, x.Sha)).ToList());
        });

        git.MapGet("/ref/{**name}", async (HttpContext ctx, string owner, string repo, string? name) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var fullRef = "refs/" + Uri.UnescapeDataString(name ?? "");
            var sha = await r.Git.GetRefAsync(fullRef, ctx.RequestAborted) ?? throw SimulatorError.NotFound();
            return ApiRequest.Json(engine.Json.Reference(r.Model, fullRef, sha));
        });

        git.MapGet("/matching-refs/{**name}", async (HttpContext ctx, string owner, string repo, string? name) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var refs = await r.Git.ListRefsAsync("refs/" + Uri.UnescapeDataString(name ?? ""), ctx.RequestAborted);
            return ApiRequest.Json(new JsonArray(refs.Select(x => (JsonNode)engine.Json.Reference(r.Model, x.Ref, x.Sha)).ToArray()));
        });

        git.MapPost("/refs", async (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var fullRef = body.Str("ref", required: true)!;
            var sha = body.Str("sha", required: true)!;
            if (!fullRef.StartsWith("refs/", StringComparison.Ordinal) || fullRef.Count(c => c == '/') < 2 || !await GitRepository.IsValidRefNameAsync(fullRef, ctx.RequestAborted))
                throw SimulatorError.Validation("Reference name is invalid");
            if (!GitHubEngine.IsSha(sha) || await r.Git.ObjectTypeAsync(sha, ctx.RequestAborted) is null) throw SimulatorError.Validation("Object does not exist");
            if (!fullRef.StartsWith("refs/heads/", StringComparison.Ordinal))
            {
                if (!await r.Git.UpdateRefAsync(fullRef, sha, GitRepository.ZeroSha, ctx.RequestAborted)) throw SimulatorError.Validation("Reference already exists");
                return ApiRequest.Json(engine.Json.Reference(r.Model, fullRef, sha), 201);
            }
            if (await r.Git.ObjectTypeAsync(sha, ctx.RequestAborted) != "commit") throw SimulatorError.Validation("Object does not exist");
            var user = ctx.User();
            var outcome = await engine.MoveBranchAsync(r, fullRef["refs/heads/".Length..], sha, new MoveRequest(GitRepository.ZeroSha, false, user.Login, user), ctx.RequestAborted);
            if (outcome != MoveOutcome.Moved) throw SimulatorError.Validation("Reference already exists");
            return ApiRequest.Json(engine.Json.Reference(r.Model, fullRef, sha), 201);
        });

        git.MapMethods("/refs/{**name}", ["PATCH"], async (HttpContext ctx, string owner, string repo, string? name) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var sha = body.Str("sha", required: true)!;
            var force = body.Bool("force") ?? false;
            var fullRef = "refs/" + Uri.UnescapeDataString(name ?? "");
            if (!GitHubEngine.IsSha(sha) || await r.Git.ObjectTypeAsync(sha, ctx.RequestAborted) != "commit") throw SimulatorError.Validation("Object does not exist");
            if (!fullRef.StartsWith("refs/heads/", StringComparison.Ordinal))
            {
                var old = await r.Git.GetRefAsync(fullRef, ctx.RequestAborted) ?? throw SimulatorError.Validation("Reference does not exist");
                if (!force && !await r.Git.IsAncestorAsync(old, sha, ctx.RequestAborted)) throw SimulatorError.Validation("Update is not a fast forward");
                await r.Git.UpdateRefAsync(fullRef, sha, old, ctx.RequestAborted);
                return ApiRequest.Json(engine.Json.Reference(r.Model, fullRef, sha));
            }
            var user = ctx.User();
            var branch = fullRef["refs/heads/".Length..];
            var current = await r.Git.GetRefAsync(fullRef, ctx.RequestAborted) ?? throw SimulatorError.Validation("Reference does not exist");
            var outcome = await engine.MoveBranchAsync(r, branch, sha, new MoveRequest(current, !force, user.Login, user), ctx.RequestAborted);
            return outcome switch
            {
                MoveOutcome.Moved => ApiRequest.Json(engine.Json.Reference(r.Model, fullRef, sha)),
                MoveOutcome.NotFastForward => throw SimulatorError.Validation("Update is not a fast forward"),
                MoveOutcome.Missing => throw SimulatorError.Validation("Reference does not exist"),
                _ => throw SimulatorError.Validation("Reference cannot be updated"),
            };
        });

        git.MapDelete("/refs/{**name}", async (HttpContext ctx, string owner, string repo, string? name) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var fullRef = "refs/" + Uri.UnescapeDataString(name ?? "");
            if (fullRef == GitHubEngine.BranchRef(r.Model.DefaultBranch)) throw SimulatorError.Validation("Cannot delete the default branch");
            if (!fullRef.StartsWith("refs/heads/", StringComparison.Ordinal))
            {
                var old = await r.Git.GetRefAsync(fullRef, ctx.RequestAborted) ?? throw SimulatorError.Validation("Reference does not exist");
                await r.Git.DeleteRefAsync(fullRef, old, ctx.RequestAborted);
                return Results.NoContent();
            }
            var user = ctx.User();
            var outcome = await engine.MoveBranchAsync(r, fullRef["refs/heads/".Length..], null, new MoveRequest(null, false, user.Login, user), ctx.RequestAborted);
            return outcome == MoveOutcome.Moved ? Results.NoContent() : throw SimulatorError.Validation("Reference does not exist");
        });

        git.MapGet("/commits/{sha}", async (HttpContext ctx, string owner, string repo, string sha) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            if (!GitHubEngine.IsSha(sha) || await r.Git.ObjectTypeAsync(sha, ctx.RequestAborted) != "commit") throw SimulatorError.NotFound();
            var commit = await engine.CommitOrThrowAsync(r, sha, ct: ctx.RequestAborted);
            return ApiRequest.Json(engine.Json.GitCommit(r.Model, commit));
        });

        git.MapPost("/commits", async (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var message = body.Str("message", required: true)!;
            var tree = body.Str("tree", required: true)!;
            var parents = ApiRequest.Strings(body["parents"], "parents") ?? [];
            if (!GitHubEngine.IsSha(tree) || await r.Git.ObjectTypeAsync(tree, ctx.RequestAborted) != "tree") throw SimulatorError.Validation("Tree SHA does not exist", "Commit", "tree");
            foreach (var p in parents)
                if (!GitHubEngine.IsSha(p) || await r.Git.ObjectTypeAsync(p, ctx.RequestAborted) != "commit") throw SimulatorError.Validation("Parent SHA does not exist or is not a commit object", "Commit", "parents");
            var user = ctx.User();
            var author = Signature(body["author"] as JsonObject, "author", engine.Now) ?? engine.SignatureOf(user);
            var committer = Signature(body["committer"] as JsonObject, "committer", engine.Now) ?? author;
            var sha = await r.Git.CommitTreeAsync(tree, parents, message, author, committer, ctx.RequestAborted);
            var commit = await engine.CommitOrThrowAsync(r, sha, ct: ctx.RequestAborted);
            return ApiRequest.Json(engine.Json.GitCommit(r.Model, commit), 201);
        });

        git.MapGet("/trees/{**sha}", async (HttpContext ctx, string owner, string repo, string? sha) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            var treeish = Uri.UnescapeDataString(sha ?? "");
            var tree = await r.Git.ResolveTreeAsync(treeish, ctx.RequestAborted) ?? throw SimulatorError.NotFound();
            var recursive = ctx.Request.Query.ContainsKey("recursive");
            var entries = await r.Git.ReadTreeAsync(tree, recursive, ctx.RequestAborted);
            return ApiRequest.Json(ApiJson.Tree(engine.Json, r.Model, tree, entries));
        });

        git.MapGet("/blobs/{sha}", async (HttpContext ctx, string owner, string repo, string sha) =>
        {
            var r = engine.Repo(ctx, owner, repo);
            if (!GitHubEngine.IsSha(sha) || await r.Git.ObjectTypeAsync(sha, ctx.RequestAborted) != "blob") throw SimulatorError.NotFound();
            var bytes = await r.Git.ReadBlobAsync(sha, ctx.RequestAborted);
            return ApiRequest.Json(new JsonObject { ["sha"] = sha, ["size"] = bytes.Length, ["encoding"] = "base64", ["content"] = Convert.ToBase64String(bytes), ["url"] = engine.Json.ApiUrl($"repos/{r.FullName}/git/blobs/{sha}") });
        });

        app.MapPost("/repos/{owner}/{repo}/merges", async (HttpContext ctx, string owner, string repo) =>
        {
            var r = engine.Repo(ctx, owner, repo, write: true);
            var body = await ApiRequest.ReadObjectAsync(ctx);
            var baseBranch = body.Str("base", required: true)!;
            var head = body.Str("head", required: true)!;
            var user = ctx.User();
            await r.Git.WriteLock.WaitAsync(ctx.RequestAborted);
            try
            {
                var baseSha = await r.Git.GetRefAsync(GitHubEngine.BranchRef(baseBranch), ctx.RequestAborted) ?? throw new SimulatorError(404, "Base does not exist");
                var headSha = await r.Git.GetRefAsync(GitHubEngine.BranchRef(head), ctx.RequestAborted)
                    ?? (GitHubEngine.IsSha(head) ? await r.Git.ResolveCommitAsync(head, ctx.RequestAborted) : null)
                    ?? throw new SimulatorError(404, "Head does not exist");
                if (await r.Git.IsAncestorAsync(headSha, baseSha, ctx.RequestAborted)) return Results.NoContent();
                var merge = await r.Git.MergeTreeAsync(baseSha, headSha, ctx.RequestAborted);
                if (!merge.Clean) throw new SimulatorError(409, "Merge conflict");
                var message = body.Str("commit_message") ?? $"Merge {head} into {baseBranch}";
                var sha = await r.Git.CommitTreeAsync(merge.TreeSha!, [baseSha, headSha], message, engine.SignatureOf(user), engine.GitHubSignature(), ctx.RequestAborted);
                var outcome = await engine.MoveBranchLockedAsync(r, baseBranch, sha, new MoveRequest(baseSha, true, user.Login, user), ctx.RequestAborted);
                if (outcome != MoveOutcome.Moved) throw new SimulatorError(409, "Base branch was modified");
                var commit = await engine.CommitOrThrowAsync(r, sha, ct: ctx.RequestAborted);
                return ApiRequest.Json(engine.Json.RepoCommit(r.Model, commit), 201);
            }
            finally
            {
                r.Git.WriteLock.Release();
            }
        });
    }

    private static SimSignature? Signature(JsonObject? o, string field, DateTimeOffset now)
    {
        if (o is null) return null;
        var name = o.Str("name") ?? throw ApiRequest.Missing(field + ".name");
        var email = o.Str("email") ?? throw ApiRequest.Missing(field + ".email");
        var date = o.Date("date") ?? now;
        return new SimSignature(name, email, date);
    }
}
