using MergeQueue.Simulator.Api;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Control;

/// <summary>
/// The control API under /_sim/: what tests and the sandbox do "as GitHub users" or "as the
/// world" (create repositories, push, review, comment), what they read back (branch moves, CI
/// runs, API calls, deliveries) and the faults they inject. Documented in docs/simulator.md.
/// </summary>
internal static class ControlEndpoints
{
    public static void Map(IEndpointRouteBuilder app, GitHubEngine engine, ApiFaultInjector faults, ApiCallLog log)
    {
        var sim = app.MapGroup("/_sim");

        SimUser Actor(string? login, SimUser fallback) => login is null ? fallback : engine.FindUser(login) ?? engine.CreateUser(new CreateUserRequest(login));

        sim.MapPost("/users", (CreateUserRequest request) =>
        {
            var u = engine.CreateUser(request);
            return Results.Ok(new UserInfo(u.Id, u.Login, u.Type, u.Token!));
        });

        sim.MapPost("/oauth/apps", (OAuthAppRequest request) =>
        {
            var created = engine.RegisterOAuthApp(new SimOAuthApp(request.ClientId, request.ClientSecret, request.CallbackUrl));
            return Results.Ok(new OAuthAppRequest(created.ClientId, created.ClientSecret, created.CallbackUrl));
        });

        sim.MapPost("/oauth/browser-login", (BrowserLoginRequest request) =>
        {
            engine.BrowserLogin = request.Login;
            return Results.Ok(new BrowserLoginRequest(engine.BrowserLogin));
        });

        InstallationInfo Info(SimInstallation i) => new(i.Id, i.App.Id, i.Account.Login, engine.RepositoriesOf(i).Select(r => r.FullName).ToList());

        sim.MapPost("/apps", (AppRequest request) =>
        {
            var (app, privateKey) = engine.RegisterApp(request);
            return Results.Ok(new AppInfo(app.Id, app.Slug, app.Bot.Login, privateKey, app.Hook?.Id));
        });

        sim.MapPut("/apps/{id:long}/hook", (long id, HookRequest request) =>
        {
            var hook = engine.SetAppHook(id, request);
            return Results.Ok(new HookInfo(hook.Id, hook.Url, hook.Events, null));
        });

        sim.MapPost("/apps/{id:long}/installations", (long id, InstallationRequest request) => Results.Ok(Info(engine.Install(id, request))));

        sim.MapPost("/installations/{id:long}/repositories", (long id, InstallationRepositoriesRequest request) =>
            Results.Ok(Info(engine.ChangeInstallationRepositories(id, request.Repositories, add: true))));

        sim.MapDelete("/installations/{id:long}/repositories/{owner}/{repo}", (long id, string owner, string repo) =>
            Results.Ok(Info(engine.ChangeInstallationRepositories(id, [$"{owner}/{repo}"], add: false))));

        sim.MapDelete("/installations/{id:long}", (long id) =>
        {
            engine.Uninstall(id);
            return Results.NoContent();
        });

        sim.MapDelete("/installations/{id:long}/tokens", (long id) => Results.Ok(engine.RevokeInstallationTokens(id)));

        sim.MapPost("/repos", async (CreateRepositoryRequest request, CancellationToken ct) =>
        {
            var r = await engine.CreateRepositoryAsync(request, ct);
            var head = await r.Git.GetRefAsync(GitHubEngine.BranchRef(r.Model.DefaultBranch), ct);
            return Results.Ok(new RepositoryInfo(r.Model.Id, r.FullName, r.Model.DefaultBranch, head!));
        });

        var repo = sim.MapGroup("/repos/{owner}/{repo}");

        repo.MapGet("/branches", async (string owner, string repo, CancellationToken ct) =>
            Results.Ok(await engine.BranchesAsync(engine.GetRepo(owner, repo), ct)));

        repo.MapDelete("/branches/{**name}", async (string owner, string repo, string name, CancellationToken ct) =>
        {
            var r = engine.GetRepo(owner, repo);
            var outcome = await engine.MoveBranchAsync(r, name, null, new MoveRequest(null, false, "control", r.Model.Owner), ct);
            return outcome == MoveOutcome.Moved ? Results.NoContent() : throw SimulatorError.NotFound();
        });

        repo.MapPost("/commits", async (string owner, string repo, CommitRequest request, CancellationToken ct) =>
            Results.Ok(await engine.CommitFilesAsync(engine.GetRepo(owner, repo), request, "control", ct)));

        repo.MapPost("/pulls", async (string owner, string repo, OpenPullRequestRequest request, CancellationToken ct) =>
        {
            var r = engine.GetRepo(owner, repo);
            var pr = await engine.OpenPullRequestAsync(r, request, Actor(request.Author, r.Model.Owner), ct);
            return Results.Ok(engine.PullInfo(pr));
        });

        repo.MapGet("/pulls/{number:int}", (string owner, string repo, int number) =>
        {
            var r = engine.GetRepo(owner, repo);
            return Results.Ok(engine.PullInfo(engine.GetPull(r, number)));
        });

        repo.MapPost("/pulls/{number:int}/push", async (string owner, string repo, int number, PushRequest request, CancellationToken ct) =>
        {
            var r = engine.GetRepo(owner, repo);
            var pr = engine.GetPull(r, number);
            var info = await engine.CommitFilesAsync(r, new CommitRequest(pr.HeadRef, request.Files, request.Message, request.Author ?? pr.User.Login, CreateBranch: false), "control", ct);
            return Results.Ok(info);
        });

        repo.MapPost("/pulls/{number:int}/reviews", (string owner, string repo, int number, ReviewRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            var review = engine.SubmitReview(r, engine.GetPull(r, number), Actor(request.User, r.Model.Owner), request.State, request.Body, request.CommitId);
            return Results.Ok(new ReviewInfo(review.Id, review.User.Login, review.State, review.CommitId, review.SubmittedAt));
        });

        repo.MapPost("/pulls/{number:int}/reviews/{id:long}/dismiss", (string owner, string repo, int number, long id, DismissRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            var review = engine.DismissReview(r, engine.GetPull(r, number), id, Actor(request.User, r.Model.Owner));
            return Results.Ok(new ReviewInfo(review.Id, review.User.Login, review.State, review.CommitId, review.SubmittedAt));
        });

        repo.MapPost("/pulls/{number:int}/draft", (string owner, string repo, int number, DraftRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            var pr = engine.GetPull(r, number);
            engine.SetDraft(r, pr, request.Draft, Actor(request.User, pr.User));
            return Results.Ok(engine.PullInfo(pr));
        });

        repo.MapPost("/pulls/{number:int}/close", (string owner, string repo, int number, CloseRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            var pr = engine.GetPull(r, number);
            engine.ClosePull(r, pr, Actor(request.User, pr.User));
            return Results.Ok(engine.PullInfo(pr));
        });

        repo.MapPost("/pulls/{number:int}/reopen", async (string owner, string repo, int number, CloseRequest request, CancellationToken ct) =>
        {
            var r = engine.GetRepo(owner, repo);
            var pr = engine.GetPull(r, number);
            await engine.ReopenPullAsync(r, pr, Actor(request.User, pr.User), ct);
            return Results.Ok(engine.PullInfo(pr));
        });

        repo.MapGet("/issues/{number:int}/comments", (string owner, string repo, int number) =>
        {
            var r = engine.GetRepo(owner, repo);
            return Results.Ok(engine.Comments(r, number).Select(engine.CommentInfo).ToList());
        });

        repo.MapPost("/issues/{number:int}/comments", (string owner, string repo, int number, CommentRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            return Results.Ok(engine.CommentInfo(engine.CreateComment(r, number, Actor(request.User, r.Model.Owner), request.Body)));
        });

        repo.MapMethods("/comments/{id:long}", ["PATCH"], (string owner, string repo, long id, EditCommentRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            var author = engine.GetComment(r, id).User;
            return Results.Ok(engine.CommentInfo(engine.EditComment(r, id, Actor(request.User, author), request.Body)));
        });

        repo.MapDelete("/comments/{id:long}", (string owner, string repo, long id, string? user) =>
        {
            var r = engine.GetRepo(owner, repo);
            engine.DeleteComment(r, id, Actor(user, engine.GetComment(r, id).User));
            return Results.NoContent();
        });

        repo.MapPost("/issues/{number:int}/labels", (string owner, string repo, int number, LabelsRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            return Results.Ok(engine.AddLabels(r, number, request.Labels, Actor(request.User, r.Model.Owner)).Select(l => l.Name).ToList());
        });

        repo.MapDelete("/issues/{number:int}/labels/{name}", (string owner, string repo, int number, string name, string? user) =>
        {
            var r = engine.GetRepo(owner, repo);
            return Results.Ok(engine.RemoveLabel(r, number, name, Actor(user, r.Model.Owner)).Select(l => l.Name).ToList());
        });

        repo.MapPut("/permissions/{user}", (string owner, string repo, string user, PermissionRequest request) =>
        {
            var r = engine.GetRepo(owner, repo);
            Actor(user, r.Model.Owner);
            engine.SetPermission(r, user, request.Permission);
            return Results.NoContent();
        });

        repo.MapPut("/protection/{**branch}", (string owner, string repo, string branch, BranchProtectionRequest request) =>
            Results.Ok(engine.SetBranchProtection(engine.GetRepo(owner, repo), branch, request)));
        repo.MapGet("/protection/{**branch}", (string owner, string repo, string branch) =>
            engine.BranchProtection(engine.GetRepo(owner, repo), branch) is { } p ? Results.Ok(p) : throw new SimulatorError(404, "Branch not protected"));
        repo.MapDelete("/protection/{**branch}", (string owner, string repo, string branch) =>
        {
            engine.RemoveBranchProtection(engine.GetRepo(owner, repo), branch);
            return Results.NoContent();
        });

        repo.MapGet("/commits/{sha}/checks", async (string owner, string repo, string sha, CancellationToken ct) =>
        {
            var r = engine.GetRepo(owner, repo);
            var commit = await r.Git.ResolveCommitAsync(sha, ct) ?? throw SimulatorError.NotFound();
            return Results.Ok(engine.ChecksOf(r, commit));
        });

        repo.MapGet("/moves", (string owner, string repo, string? branch) =>
            Results.Ok(engine.Moves(engine.GetRepo(owner, repo).FullName, branch)));

        repo.MapPost("/ci/rerun", async (string owner, string repo, RerunRequest request, CancellationToken ct) =>
        {
            var r = engine.GetRepo(owner, repo);
            var sha = await r.Git.ResolveCommitAsync(request.Sha, ct) ?? throw SimulatorError.NotFound();
            var branch = request.Branch ?? (await engine.BranchesAsync(r, ct)).FirstOrDefault(b => b.Sha == sha)?.Name ?? sha;
            engine.Ci.Rerun(r, branch, sha);
            return Results.NoContent();
        });

        sim.MapGet("/ci", () => Results.Ok(engine.Ci.Config.Current));
        sim.MapPut("/ci", (CiConfig request) => Results.Ok(engine.Ci.Config.Update(request)));
        sim.MapGet("/ci/runs", (string? repo, string? branch, string? context, bool? held) => Results.Ok(engine.Ci.Runs(repo, branch, context, held)));
        sim.MapPost("/ci/release", (CiReleaseRequest? request) => Results.Ok(engine.Ci.Release(request?.Repo, request?.Sha, request?.Branch)));

        sim.MapGet("/api-calls", (long? after) => Results.Ok(log.Calls(after ?? 0)));
        sim.MapDelete("/api-calls", () =>
        {
            log.Clear();
            return Results.NoContent();
        });
        sim.MapGet("/errors", () => Results.Ok(log.UnexpectedErrors()));

        sim.MapPost("/faults/api", (ApiFault request) =>
        {
            faults.Add(request);
            return Results.NoContent();
        });
        sim.MapPut("/faults/api/random", (RandomApiFaults request) =>
        {
            faults.SetRandom(request);
            return Results.NoContent();
        });
        sim.MapDelete("/faults/api", () =>
        {
            faults.Clear();
            return Results.NoContent();
        });

        sim.MapPost("/hooks", (HookRequest request) =>
        {
            var hook = engine.AddGlobalHook(request);
            return Results.Ok(new HookInfo(hook.Id, hook.Url, hook.Events, null));
        });
        sim.MapGet("/hooks", () => Results.Ok(engine.GlobalHooks().Select(h => new HookInfo(h.Id, h.Url, h.Events, null)).ToList()));

        sim.MapGet("/deliveries", (string? @event, long? after) =>
            Results.Ok(engine.Webhooks.Deliveries().Where(d => (@event is null || d.Event == @event) && d.Sequence > (after ?? 0)).ToList()));
        sim.MapPost("/deliveries/{id:guid}/redeliver", (Guid id) =>
        {
            try
            {
                return Results.Ok(engine.Webhooks.Redeliver(id));
            }
            catch (KeyNotFoundException)
            {
                throw SimulatorError.NotFound();
            }
        });
        sim.MapPut("/faults/webhooks", (WebhookFaults request) =>
        {
            if (request.ShuffleWindow < 0) throw SimulatorError.Validation("shuffleWindow must be >= 0", "WebhookFaults", "shuffleWindow");
            engine.Webhooks.SetFaults(request);
            return Results.NoContent();
        });

        sim.MapGet("/idle", () =>
        {
            var pending = engine.Webhooks.Pending;
            var running = engine.Ci.Running;
            // Held CI runs wait for the test, not for time: they do not make the simulator busy.
            return Results.Ok(new IdleInfo(pending == 0 && running == 0, pending, running, engine.Ci.Held));
        });
    }
}
