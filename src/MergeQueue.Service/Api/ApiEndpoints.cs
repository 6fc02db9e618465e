using System.Text.Json;
using System.Text.RegularExpressions;
using MergeQueue.Core;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Data;
using MergeQueue.Service.Dashboard;
using MergeQueue.Service.Repositories;

namespace MergeQueue.Service.Api;

/// <summary>
/// <c>/api/v1</c> (CONTRACT §2, docs/api.md). Every request needs a key; reads need any role, actions
/// on a repository need admin or a user assigned to it, users and keys need admin. Actions run the
/// same flows as the comment commands, with <see cref="Cause.Api"/> and the key's name as actor.
/// </summary>
public static partial class ApiEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static void MapApiEndpoints(this IEndpointRouteBuilder app)
    {
        MapRunnerEndpoints(app);
        var api = app.MapGroup(ApiSetup.Prefix)
            .AddEndpointFilter(AuthenticateAsync)
            .AddEndpointFilter(RefuseRunnerKeys)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithTags("api");

        api.MapGet("/status", StatusAsync).WithName("GetStatus");

        api.MapGet("/repos", ListReposAsync).WithName("ListRepositories");
        api.MapGet("/repos/{owner}/{repo}", GetRepoAsync).WithName("GetRepository").ProducesProblem(404);
        api.MapPost("/repos/{owner}/{repo}/enable", (string owner, string repo, HttpContext http, RepoSwitches switches, DashboardReader reader, CancellationToken ct) =>
            SwitchAsync(owner, repo, true, http, switches, reader, ct)).WithName("EnableRepository").AddEndpointFilter(RequireAdmin).ProducesProblem(403).ProducesProblem(404);
        api.MapPost("/repos/{owner}/{repo}/disable", (string owner, string repo, HttpContext http, RepoSwitches switches, DashboardReader reader, CancellationToken ct) =>
            SwitchAsync(owner, repo, false, http, switches, reader, ct)).WithName("DisableRepository").AddEndpointFilter(RequireAdmin).ProducesProblem(403).ProducesProblem(404);

        api.MapPost("/repos/{owner}/{repo}/statuses/reconcile", ReconcileStatusesAsync).WithName("ReconcileRunnerStatuses").AddEndpointFilter(RequireAdmin)
            .Produces<Runner.ReconcileReport>().ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

        api.MapGet("/repos/{owner}/{repo}/pulls", ListPullsAsync).WithName("ListPullRequests").ProducesProblem(404).ProducesProblem(422);
        api.MapGet("/repos/{owner}/{repo}/pulls/{number:int}", GetPullAsync).WithName("GetPullRequest").ProducesProblem(404);
        api.MapPost("/repos/{owner}/{repo}/pulls/{number:int}/merge", MergeAsync).WithName("MergePullRequest")
            .Accepts<MergeBody>("application/json").ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        api.MapPost("/repos/{owner}/{repo}/pulls/{number:int}/cancel", CancelAsync).WithName("CancelPullRequest")
            .ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);
        api.MapPost("/repos/{owner}/{repo}/pulls/{number:int}/retry", RetryAsync).WithName("RetryPullRequest")
            .ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

        api.MapGet("/repos/{owner}/{repo}/attempts", ListAttemptsAsync).WithName("ListMergeAttempts").ProducesProblem(404);
        api.MapGet("/repos/{owner}/{repo}/attempts/{id:long}", GetAttemptAsync).WithName("GetMergeAttempt").ProducesProblem(404);

        api.MapPost("/trigger/{owner}/{repo}", TriggerAsync).WithName("TriggerRepository").Accepts<TriggerBody>("application/json")
            .Produces<TriggeredJobs>(StatusCodes.Status202Accepted).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        api.MapPost("/repos/{owner}/{repo}/targets/{target}/freeze", FreezeAsync).WithName("FreezeTarget")
            .Accepts<FreezeBody>("application/json").ProducesProblem(403).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        api.MapPost("/repos/{owner}/{repo}/targets/{target}/unfreeze", UnfreezeAsync).WithName("UnfreezeTarget")
            .ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

        MapHistoryEndpoints(api);

        var admin = api.MapGroup("").AddEndpointFilter(RequireAdmin).ProducesProblem(403);
        admin.MapGet("/users", ListUsersAsync).WithName("ListUsers");
        admin.MapPost("/users", CreateUserAsync).WithName("CreateUser").Accepts<UserBody>("application/json").ProducesProblem(409).ProducesProblem(422);
        admin.MapGet("/users/{id:long}", GetUserAsync).WithName("GetUser").ProducesProblem(404);
        admin.MapPut("/users/{id:long}", UpdateUserAsync).WithName("UpdateUser").Accepts<UserBody>("application/json")
            .ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        admin.MapDelete("/users/{id:long}", DeleteUserAsync).WithName("DeleteUser").ProducesProblem(404);
        admin.MapPost("/keys", CreateKeyAsync).WithName("CreateKey").Accepts<CreateKeyBody>("application/json").ProducesProblem(422);
        admin.MapGet("/keys", ListKeysAsync).WithName("ListKeys");
        admin.MapDelete("/keys/{id:long}", RevokeKeyAsync).WithName("RevokeKey").ProducesProblem(404);
        admin.MapGet("/deliveries/dead", ListDeadDeliveriesAsync).WithName("ListDeadDeliveries");
        admin.MapPost("/deliveries/{id}/replay", ReplayDeliveryAsync).WithName("ReplayDelivery").ProducesProblem(404).ProducesProblem(409);
    }

    // ---- webhook deliveries (admin) ----

    /// <summary>Deliveries whose handling failed every try, newest first: what an admin may replay.</summary>
    private static async Task<IResult> ListDeadDeliveriesAsync(WebhookInbox inbox, CancellationToken ct, int limit = 100)
    {
        if (limit is < 1 or > 1000) return Invalid("limit must be between 1 and 1000.");
        var dead = await inbox.GetDeadAsync(limit, ct);
        return Results.Ok(dead.Select(d => new DeadDelivery(d.DeliveryId, d.Event, d.Action, d.Repo?.ToString(), d.ReceivedAt, d.ProcessedAt, d.Attempts, d.Error)));
    }

    /// <summary>Queues a dead (or refused) delivery again with a fresh retry budget.</summary>
    private static async Task<IResult> ReplayDeliveryAsync(string id, HttpContext http, WebhookInbox inbox, Webhooks.DeliveryProcessor processor,
        ILogger<Webhooks.DeliveryProcessor> logger, CancellationToken ct)
    {
        if (await inbox.GetAsync(id, ct) is not { } delivery) return Problem(StatusCodes.Status404NotFound, "Not found", $"No delivery {id}.");
        if (!await inbox.ReplayAsync(id, ct))
            return Problem(StatusCodes.Status409Conflict, "Not replayed",
                delivery.ProcessedAt is null ? $"Delivery {id} is still pending." : $"Delivery {id} was handled ({delivery.Outcome}); only a failed one is replayed.");
        logger.LogInformation("Delivery {DeliveryId} replayed by {Actor} through the API", id, Caller(http).Name);
        processor.Signal();
        return Results.Accepted(value: new { delivery = id, replayed = true });
    }

    // ---- authentication and roles ----

    private static async ValueTask<object?> AuthenticateAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var authenticator = http.RequestServices.GetRequiredService<ApiKeyAuthenticator>();
        var client = http.Connection.RemoteIpAddress;
        if (authenticator.Blocked(client) is { } wait)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Problem(StatusCodes.Status429TooManyRequests, "Too many failed attempts",
                $"Too many wrong API keys from this address; retry in {seconds} s.");
        }
        var caller = await authenticator.AuthenticateAsync(http.Request, http.RequestAborted);
        if (caller is null)
        {
            // Only a wrong key counts: a request without one guesses nothing.
            if (ApiKeyAuthenticator.BearerKey(http.Request) is not null) authenticator.NoteFailure(client);
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Problem(StatusCodes.Status401Unauthorized, "Unauthorized",
                ApiKeyAuthenticator.BearerKey(http.Request) is null ? "An API key is required: Authorization: Bearer <key>." : "The API key is not valid (unknown or revoked).");
        }
        http.Items[typeof(ApiCaller)] = caller;
        return await next(context);
    }

    /// <summary>A runner key claims and runs jobs (<c>/api/v1/runner</c>) and nothing else.</summary>
    private static async ValueTask<object?> RefuseRunnerKeys(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        Caller(context.HttpContext).Role == ApiRoles.Runner
            ? Forbidden(Caller(context.HttpContext), $"it may only claim and run jobs ({ApiSetup.Prefix}/runner/...)")
            : await next(context);

    private static async ValueTask<object?> RequireAdmin(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        Caller(context.HttpContext).IsAdmin ? await next(context) : Forbidden(Caller(context.HttpContext), "this needs the admin role");

    private static ApiCaller Caller(HttpContext http) => (ApiCaller)http.Items[typeof(ApiCaller)]!;

    private static IResult Problem(int status, string title, string detail) => Results.Problem(statusCode: status, title: title, detail: detail);

    private static IResult Forbidden(ApiCaller caller, string why) =>
        Problem(StatusCodes.Status403Forbidden, "Forbidden", $"The key '{caller.Name}' has the {caller.Role} role: {why}.");

    private static IResult NotFound(string detail) => Problem(StatusCodes.Status404NotFound, "Not found", detail);

    private static IResult Invalid(string detail) => Problem(StatusCodes.Status422UnprocessableEntity, "Invalid request", detail);

    /// <summary>A flow's answer: 200 when accepted, 409 with its message when the queue refused.</summary>
    private static IResult FromFlow(FlowResult result) => result.Accepted
        ? Results.Ok(new ActionResult(true, result.Message))
        : Problem(StatusCodes.Status409Conflict, "Refused by the queue", result.Message);

    /// <summary>Reads an optional JSON body; a body that is not JSON of this shape is a 422.</summary>
    private static async Task<(T? Body, IResult? Error)> ReadBodyAsync<T>(HttpRequest request, CancellationToken ct) where T : class
    {
        if (request.ContentLength is 0 || request.ContentLength is null && !request.Headers.TransferEncoding.Any()) return (null, null);
        try
        {
            return (await JsonSerializer.DeserializeAsync<T>(request.Body, Json, ct), null);
        }
        catch (JsonException e)
        {
            return (null, Invalid($"The body is not valid JSON for this request: {e.Message}"));
        }
    }

    /// <summary>The repository if the service knows it (from its tables or a loaded config).</summary>
    private static async Task<RepoId?> KnownRepoAsync(string owner, string repo, DashboardReader reader, CancellationToken ct)
    {
        foreach (var known in await reader.RepositoriesAsync(ct))
            if (Same(known, owner, repo)) return known;
        return null;
    }

    private static IResult UnknownRepo(string owner, string repo) => NotFound($"The queue does not know the repository {owner}/{repo}.");

    // ---- status and repositories ----

    private static async Task<IResult> StatusAsync(HttpContext http, DashboardReader reader, CancellationToken ct)
    {
        var health = await reader.HealthAsync(ct);
        var caller = Caller(http);
        return Results.Ok(new StatusInfo("mergequeue", health.Healthy, health.Database, health.Inbox.Unprocessed, health.LastPoll, health.NextPoll,
            (await reader.RepositoriesAsync(ct)).Count, new CallerInfo(caller.Name, caller.Role, caller.Repos)));
    }

    private static async Task<IResult> ListReposAsync(DashboardReader reader, RepoSwitches switches, CancellationToken ct)
    {
        var overview = await reader.OverviewAsync(ct);
        var list = new List<RepoInfo>();
        foreach (var repo in overview.Repositories) list.Add(RepoInfo.From(repo, await switches.IsEnabledAsync(repo.Repo, ct)));
        return Results.Ok(list);
    }

    private static async Task<IResult> GetRepoAsync(string owner, string repo, DashboardReader reader, RepoSwitches switches, CancellationToken ct)
    {
        var overview = await reader.OverviewAsync(ct);
        var found = overview.Repositories.FirstOrDefault(r => Same(r.Repo, owner, repo));
        return found is null ? UnknownRepo(owner, repo) : Results.Ok(RepoInfo.From(found, await switches.IsEnabledAsync(found.Repo, ct)));
    }

    private static async Task<IResult> SwitchAsync(string owner, string repo, bool enabled, HttpContext http, RepoSwitches switches, DashboardReader reader, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } id) return UnknownRepo(owner, repo);
        await switches.SetAsync(id, enabled, Caller(http).Name, ct);
        http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("MergeQueue.Api")
            .LogInformation("Repository {Repo} {Switch} by API key {Actor}", id, enabled ? "enabled" : "disabled", Caller(http).Name);
        return Results.Ok(new ActionResult(true, $"{id} is {(enabled ? "enabled" : "disabled")}"));
    }

    private static bool Same(RepoId id, string owner, string repo) =>
        string.Equals(id.Owner, owner, StringComparison.OrdinalIgnoreCase) && string.Equals(id.Name, repo, StringComparison.OrdinalIgnoreCase);

    // ---- pull requests and attempts ----

    private static readonly string[] ActiveStates =
        [nameof(PullRequestState.Requested), nameof(PullRequestState.Queued), nameof(PullRequestState.Merging), nameof(PullRequestState.Split)];

    private static readonly string[] FinishedStates =
        [nameof(PullRequestState.Merged), nameof(PullRequestState.Failed), nameof(PullRequestState.Cancelled), nameof(PullRequestState.TimedOut)];

    /// <summary><c>?state=</c> <c>active</c> (default), <c>finished</c>, <c>all</c>, or state names, comma-separated.</summary>
    private static async Task<IResult> ListPullsAsync(string owner, string repo, string? state, string? limit, DashboardReader reader, DashboardQueries queries, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } id) return UnknownRepo(owner, repo);
        var wanted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var word in (state ?? "active").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (word.ToLowerInvariant())
            {
                case "active": wanted.UnionWith(ActiveStates); break;
                case "finished": wanted.UnionWith(FinishedStates); break;
                case "all": wanted.UnionWith(ActiveStates); wanted.UnionWith(FinishedStates); break;
                default:
                    var name = ActiveStates.Concat(FinishedStates).FirstOrDefault(s => s.Equals(word, StringComparison.OrdinalIgnoreCase) || s.Equals(word.Replace("_", ""), StringComparison.OrdinalIgnoreCase));
                    if (name is null) return Invalid($"Unknown state '{word}': use active, finished, all, or {string.Join(", ", ActiveStates.Concat(FinishedStates).Select(s => s.ToLowerInvariant()))}.");
                    wanted.Add(name);
                    break;
            }
        }
        if (Limit(limit, 100) is not { } max) return Invalid("limit must be a number between 1 and 1000.");
        var rows = new List<PullRequestRecord>();
        if (wanted.Overlaps(ActiveStates)) rows.AddRange(await queries.ActivePullRequestsAsync(id, ct));
        if (wanted.Overlaps(FinishedStates)) rows.AddRange(await queries.RecentFinishedAsync(id, max, ct));
        return Results.Ok(rows.Where(r => wanted.Contains(r.State)).OrderByDescending(r => r.StateChangedAt).Take(max).Select(PullInfo.From).ToList());
    }

    /// <summary>The <c>limit</c> query parameter: 1–1000, or the default; null when invalid (a 422, not a binding 400).</summary>
    private static int? Limit(string? text, int byDefault) =>
        text is null ? byDefault
        : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1000 ? n
        : null;

    private static async Task<IResult> GetPullAsync(string owner, string repo, int number, DashboardReader reader, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } id) return UnknownRepo(owner, repo);
        var model = await reader.PullRequestAsync(id, number, ct);
        return Results.Ok(new PullDetail(id.ToString(), number, model.Requests.Select(PullInfo.From).ToList(),
            model.Timeline.Select(t => new TimelineEntry(EventInfo.From(t.Change), t.Effects.Select(EventInfo.From).ToList())).ToList(),
            model.Attempts.Select(a => AttemptInfo.From(a.Attempt, a.PullRequests)).ToList(), model.WhyNotMerging));
    }

    private static async Task<IResult> ListAttemptsAsync(string owner, string repo, string? limit, DashboardReader reader, DashboardQueries queries, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } id) return UnknownRepo(owner, repo);
        if (Limit(limit, 50) is not { } max) return Invalid("limit must be a number between 1 and 1000.");
        var attempts = (await queries.ActiveAttemptsAsync(id, ct)).Concat(await queries.RecentAttemptsAsync(id, max, ct))
            .DistinctBy(a => a.Id).OrderByDescending(a => a.Id).Take(max).ToList();
        var members = await queries.AttemptMembersAsync(attempts.Select(a => a.Id), ct);
        return Results.Ok(attempts.Select(a => AttemptInfo.From(a, members[a.Id])).ToList());
    }

    private static async Task<IResult> GetAttemptAsync(string owner, string repo, long id, DashboardReader reader, DashboardQueries queries, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } repoId) return UnknownRepo(owner, repo);
        var attempt = (await queries.AttemptsAsync([id], ct)).FirstOrDefault(a => a.Repo == repoId || Same(a.Repo, owner, repo));
        if (attempt is null) return NotFound($"{repoId} has no merge attempt {id}.");
        var members = await queries.AttemptMembersAsync([id], ct);
        return Results.Ok(AttemptInfo.From(attempt, members[id]));
    }

    // ---- actions ----

    /// <summary>Runs an action on a repository: the caller must be allowed, the repository known and enabled.</summary>
    private static async Task<IResult> ActAsync(HttpContext http, string owner, string repo, Func<RepoId, Cause, Task<IResult>> action)
    {
        var caller = Caller(http);
        var ct = http.RequestAborted;
        var reader = http.RequestServices.GetRequiredService<DashboardReader>();
        var id = await KnownRepoAsync(owner, repo, reader, ct);
        if (!caller.CanAct(id ?? new RepoId(owner, repo)))
            return Forbidden(caller, caller.Role == ApiRoles.User ? $"it may act on {(caller.Repos.Count == 0 ? "no repository" : string.Join(", ", caller.Repos))} only" : "it may only read");
        if (id is not { } known) return UnknownRepo(owner, repo);
        if (!await http.RequestServices.GetRequiredService<RepoSwitches>().IsEnabledAsync(known, ct))
            return Problem(StatusCodes.Status409Conflict, "Repository disabled", $"{known} is disabled: an admin enables it with POST {ApiSetup.Prefix}/repos/{known}/enable.");
        var cause = Cause.Api(http.TraceIdentifier, caller.Name);
        var recorder = http.RequestServices.GetRequiredService<GitHubCallRecorder>();
        // GitHub calls made by the flow are recorded in event_log under the same cause, as for deliveries.
        return await recorder.RecordAsync(cause, () => action(known, cause), ct);
    }

    /// <summary>The built-in runner's statuses made true now, as the poller does each tick (docs/runner.md, "Keeping statuses true").</summary>
    private static Task<IResult> ReconcileStatusesAsync(string owner, string repo, HttpContext http, Runner.StatusReconciler reconciler, Runner.JobScheduler runner, IRepoConfigs configs, CancellationToken ct) =>
        ActAsync(http, owner, repo, async (id, _) =>
        {
            if (!runner.Enabled)
                return Problem(StatusCodes.Status409Conflict, "Runner off", "The built-in runner is not enabled on this instance (MergeQueue:Runner:Enabled).");
            if (await configs.GetAsync(id, ct) is null) return Problem(StatusCodes.Status409Conflict, "Refused by the queue", Messages.RefusedNotManaged);
            var report = await reconciler.ReconcileAsync(id, ct);
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("MergeQueue.Api")
                .LogInformation("Runner statuses of {Repo} reconciled by API key {Actor}: {Queued} queued, {Removed} removed, {Created} created",
                    id, Caller(http).Name, report.Queued, report.Removed, report.Created);
            return Results.Ok(report);
        });

    private static async Task<IResult> MergeAsync(string owner, string repo, int number, HttpContext http, MergeQueueFlows flows, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<MergeBody>(http.Request, ct);
        if (error is not null) return error;
        if (body?.Branch is { } branch && !ValidBranch(branch)) return Invalid($"'{branch}' is not a branch name.");
        return await ActAsync(http, owner, repo, async (id, cause) =>
            FromFlow(await flows.RequestAsync(id, number, new MergeRequest(Caller(http).Name, body?.Priority, body?.Branch), cause, ct)));
    }

    private static Task<IResult> CancelAsync(string owner, string repo, int number, HttpContext http, MergeQueueFlows flows, CancellationToken ct) =>
        ActAsync(http, owner, repo, async (id, cause) => FromFlow(await flows.CancelAsync(id, number, Messages.CancelledByCommand(Caller(http).Name), cause, ct)));

    private static Task<IResult> RetryAsync(string owner, string repo, int number, HttpContext http, MergeQueueFlows flows, CancellationToken ct) =>
        ActAsync(http, owner, repo, async (id, cause) => FromFlow(await flows.RetryAsync(id, number, Caller(http).Name, cause, ct)));

    /// <summary>
    /// Without a body (or with one naming neither branch nor sha): the Construct flow on every target now. With
    /// <c>{"branch"}</c> or <c>{"sha"}</c>: the runner's jobs on that commit (<see cref="TriggerJobsAsync"/>).
    /// </summary>
    private static async Task<IResult> TriggerAsync(string owner, string repo, HttpContext http, MergeQueueFlows flows, IRepoConfigs configs,
        Runner.JobScheduler runner, IGitHub github, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<TriggerBody>(http.Request, ct);
        if (error is not null) return error;
        return body is { Branch: not null } or { Sha: not null }
            ? await TriggerJobsAsync(http, owner, repo, body, configs, runner, github, ct)
            : await ConstructNowAsync(owner, repo, http, flows, configs, ct);
    }

    private static Task<IResult> ConstructNowAsync(string owner, string repo, HttpContext http, MergeQueueFlows flows, IRepoConfigs configs, CancellationToken ct) =>
        ActAsync(http, owner, repo, async (id, cause) =>
        {
            var config = await configs.GetAsync(id, ct);
            if (config is null) return Problem(StatusCodes.Status409Conflict, "Refused by the queue", Messages.RefusedNotManaged);
            foreach (var target in config.TargetBranches) await flows.ConstructAsync(new QueueId(id, target), cause, ct, now: true);
            return Results.Ok(new ActionResult(true, $"construct ran for {string.Join(", ", config.TargetBranches)}"));
        });

    private static async Task<IResult> FreezeAsync(string owner, string repo, string target, HttpContext http, MergeQueueFlows flows, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<FreezeBody>(http.Request, ct);
        if (error is not null) return error;
        if (body?.Reason is { Length: > 500 }) return Invalid("reason must be at most 500 characters.");
        return await ActAsync(http, owner, repo, async (id, cause) =>
            FromFlow(await flows.FreezeTargetAsync(new QueueId(id, Uri.UnescapeDataString(target)), Caller(http).Name, body?.Reason, cause, ct)));
    }

    private static Task<IResult> UnfreezeAsync(string owner, string repo, string target, HttpContext http, MergeQueueFlows flows, CancellationToken ct) =>
        ActAsync(http, owner, repo, async (id, cause) => FromFlow(await flows.UnfreezeTargetAsync(new QueueId(id, Uri.UnescapeDataString(target)), cause, ct)));

    private static bool ValidBranch(string branch) => branch.Length is > 0 and <= 255 && BranchName().IsMatch(branch) && !branch.Contains("..", StringComparison.Ordinal);

    [GeneratedRegex(@"^[A-Za-z0-9._/\-]+$")]
    private static partial Regex BranchName();

    [GeneratedRegex(@"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]
    private static partial Regex LoginPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    private static partial Regex RepoPattern();

    // ---- users ----

    private static string? CheckRoleAndRepos(string? role, IReadOnlyList<string>? repos, bool key = false)
    {
        var roles = key ? ApiRoles.ForKeys : ApiRoles.All;
        if (role is null || !roles.Contains(role))
            return $"role must be one of {string.Join(", ", roles)}{(!key && role == ApiRoles.Runner ? " (runner is a role for API keys, not people)" : "")}.";
        if (repos?.FirstOrDefault(r => r is null || !RepoPattern().IsMatch(r)) is { } bad) return $"'{bad}' is not an owner/repo name.";
        return null;
    }

    private static async Task<IResult> ListUsersAsync(ApiKeyStore store, CancellationToken ct) =>
        Results.Ok((await store.ListUsersAsync(ct)).Select(UserInfo.From).ToList());

    private static async Task<IResult> GetUserAsync(long id, ApiKeyStore store, CancellationToken ct) =>
        await store.GetUserAsync(id, ct) is { } user ? Results.Ok(UserInfo.From(user)) : NotFound($"There is no user {id}.");

    private static async Task<IResult> CreateUserAsync(HttpContext http, ApiKeyStore store, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<UserBody>(http.Request, ct);
        if (error is not null) return error;
        if (body?.Login is not { } login || !LoginPattern().IsMatch(login)) return Invalid("login must be a GitHub login.");
        if (CheckRoleAndRepos(body.Role, body.Repos) is { } bad) return Invalid(bad);
        var user = await store.CreateUserAsync(login, body.Role!, body.Repos ?? [], ct);
        return user is null
            ? Problem(StatusCodes.Status409Conflict, "Conflict", $"The user {login} exists already.")
            : Results.Created($"{ApiSetup.Prefix}/users/{user.Id}", UserInfo.From(user));
    }

    private static async Task<IResult> UpdateUserAsync(long id, HttpContext http, ApiKeyStore store, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<UserBody>(http.Request, ct);
        if (error is not null) return error;
        var existing = await store.GetUserAsync(id, ct);
        if (existing is null) return NotFound($"There is no user {id}.");
        var login = body?.Login ?? existing.Login;
        if (!LoginPattern().IsMatch(login)) return Invalid("login must be a GitHub login.");
        var role = body?.Role ?? existing.Role;
        var repos = body?.Repos ?? existing.Repos;
        if (CheckRoleAndRepos(role, repos) is { } bad) return Invalid(bad);
        var user = await store.UpdateUserAsync(id, login, role, repos, ct);
        return user is null
            ? Problem(StatusCodes.Status409Conflict, "Conflict", $"The login {login} belongs to another user.")
            : Results.Ok(UserInfo.From(user));
    }

    private static async Task<IResult> DeleteUserAsync(long id, ApiKeyStore store, CancellationToken ct) =>
        await store.DeleteUserAsync(id, ct) ? Results.NoContent() : NotFound($"There is no user {id}.");

    // ---- keys ----

    private static async Task<IResult> CreateKeyAsync(HttpContext http, ApiKeyStore store, ILoggerFactory logs, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<CreateKeyBody>(http.Request, ct);
        if (error is not null) return error;
        if (body?.Name is not { } name || string.IsNullOrWhiteSpace(name) || name.Length > 100) return Invalid("name is required (at most 100 characters).");
        if (CheckRoleAndRepos(body.Role, body.Repos, key: true) is { } bad) return Invalid(bad);
        var (record, key) = await store.CreateKeyAsync(name.Trim(), body.Role!, body.Repos ?? [], Caller(http).Name, ct);
        // The key itself is never logged: only its id, name and role.
        logs.CreateLogger("MergeQueue.Api").LogInformation("API key {KeyId} '{KeyName}' ({Role}) created by {Actor}", record.Id, record.Name, record.Role, Caller(http).Name);
        return Results.Created($"{ApiSetup.Prefix}/keys/{record.Id}", new CreatedKey(record.Id, key, record.Role, record.Name, record.Repos));
    }

    private static async Task<IResult> ListKeysAsync(ApiKeyStore store, CancellationToken ct) =>
        Results.Ok((await store.ListKeysAsync(ct)).Select(KeyInfo.From).ToList());

    private static async Task<IResult> RevokeKeyAsync(long id, HttpContext http, ApiKeyStore store, ILoggerFactory logs, CancellationToken ct)
    {
        if (!await store.RevokeKeyAsync(id, ct)) return NotFound($"There is no active key {id}.");
        logs.CreateLogger("MergeQueue.Api").LogInformation("API key {KeyId} revoked by {Actor}", id, Caller(http).Name);
        return Results.NoContent();
    }
}
