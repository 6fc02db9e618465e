using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator;

/// <summary>A refused control API call, with the simulator's status code and message.</summary>
public sealed class SimulatorClientException(HttpStatusCode status, string body)
    : Exception($"simulator answered {(int)status}: {body}")
{
    public HttpStatusCode Status { get; } = status;
    public string Body { get; } = body;
}

/// <summary>
/// A typed client of the simulator's control API (/_sim/), so tests read like stories:
/// create users and repositories, push, open and review pull requests, comment, then read back
/// branch moves, CI runs, API calls and webhook deliveries, and inject faults.
/// </summary>
public sealed class SimulatorClient : IDisposable
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);
    private readonly HttpClient http;

    public SimulatorClient(Uri baseUrl, HttpMessageHandler? handler = null)
    {
        http = handler is null ? new HttpClient() : new HttpClient(handler);
        http.BaseAddress = new Uri(baseUrl, "_sim/");
        http.Timeout = TimeSpan.FromSeconds(30);
    }

    public void Dispose() => http.Dispose();

    private static string E(string segment) => Uri.EscapeDataString(segment);

    private static string RepoPath(string fullName)
    {
        var slash = fullName.IndexOf('/');
        if (slash <= 0) throw new ArgumentException("expected owner/name", nameof(fullName));
        return $"repos/{E(fullName[..slash])}/{E(fullName[(slash + 1)..])}";
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var response = await SendRawAsync(method, path, body, ct);
        return (await response.Content.ReadFromJsonAsync<T>(JsonOptions, ct))!;
    }

    private async Task SendAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var response = await SendRawAsync(method, path, body, ct);
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body, body.GetType(), options: JsonOptions);
        var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            response.Dispose();
            throw new SimulatorClientException(response.StatusCode, text);
        }
        return response;
    }

    // ---- users and repositories ----

    /// <summary>Creates a user (or returns the existing one); its token authenticates REST calls.</summary>
    public Task<UserInfo> CreateUserAsync(string login, string? globalPermission = null, string? token = null, string? type = null, CancellationToken ct = default) =>
        SendAsync<UserInfo>(HttpMethod.Post, "users", new CreateUserRequest(login, type, token, globalPermission), ct);

    /// <summary>Registers an OAuth app for the web flow (/login/oauth/authorize and access_token).</summary>
    public Task<OAuthAppRequest> RegisterOAuthAppAsync(string clientId, string clientSecret, string callbackUrl, CancellationToken ct = default) =>
        SendAsync<OAuthAppRequest>(HttpMethod.Post, "oauth/apps", new OAuthAppRequest(clientId, clientSecret, callbackUrl), ct);

    // ---- GitHub Apps ----

    /// <summary>Registers a GitHub App; without a public key, the answer holds a new private key (PEM).</summary>
    public Task<AppInfo> RegisterAppAsync(AppRequest request, CancellationToken ct = default) =>
        SendAsync<AppInfo>(HttpMethod.Post, "apps", request, ct);

    /// <summary>Points the App's webhook at <paramref name="url"/> (replacing the one it had).</summary>
    public Task<HookInfo> SetAppHookAsync(long appId, string url, string? secret = null, CancellationToken ct = default) =>
        SendAsync<HookInfo>(HttpMethod.Put, $"apps/{appId}/hook", new HookRequest(url, secret), ct);

    /// <summary>Installs an App on an account for some of its repositories (webhook installation.created).</summary>
    public Task<InstallationInfo> InstallAppAsync(long appId, string account, IReadOnlyList<string> repositories, CancellationToken ct = default) =>
        SendAsync<InstallationInfo>(HttpMethod.Post, $"apps/{appId}/installations", new InstallationRequest(account, repositories), ct);

    /// <summary>Adds repositories to an installation (webhook installation_repositories.added).</summary>
    public Task<InstallationInfo> AddInstallationRepositoriesAsync(long installationId, IReadOnlyList<string> repositories, CancellationToken ct = default) =>
        SendAsync<InstallationInfo>(HttpMethod.Post, $"installations/{installationId}/repositories", new InstallationRepositoriesRequest(repositories), ct);

    /// <summary>Removes a repository ("owner/name") from an installation (webhook installation_repositories.removed).</summary>
    public Task<InstallationInfo> RemoveInstallationRepositoryAsync(long installationId, string fullName, CancellationToken ct = default) =>
        SendAsync<InstallationInfo>(HttpMethod.Delete, $"installations/{installationId}/{RepoPath(fullName).Replace("repos/", "repositories/", StringComparison.Ordinal)}", null, ct);

    /// <summary>Uninstalls (webhook installation.deleted); its tokens stop working.</summary>
    public Task UninstallAppAsync(long installationId, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Delete, $"installations/{installationId}", null, ct);

    /// <summary>Revokes every token of an installation: the next call with one answers 401. Returns how many.</summary>
    public Task<int> RevokeInstallationTokensAsync(long installationId, CancellationToken ct = default) =>
        SendAsync<int>(HttpMethod.Delete, $"installations/{installationId}/tokens", null, ct);

    /// <summary>Signs <paramref name="login"/> in at "GitHub" in the browser (null signs out): they approve authorization requests.</summary>
    public Task SignInBrowserAsync(string? login, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "oauth/browser-login", new BrowserLoginRequest(login), ct);

    /// <summary>Creates "owner/name" with the files on its default branch; the owner is created if needed.</summary>
    public Task<RepositoryInfo> CreateRepositoryAsync(string fullName, IReadOnlyDictionary<string, string>? files = null, string defaultBranch = "main", bool isPrivate = false, CancellationToken ct = default)
    {
        var slash = fullName.IndexOf('/');
        return SendAsync<RepositoryInfo>(HttpMethod.Post, "repos", new CreateRepositoryRequest(fullName[..slash], fullName[(slash + 1)..], files, defaultBranch, isPrivate), ct);
    }

    public Task<IReadOnlyList<BranchInfo>> BranchesAsync(string repo, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<BranchInfo>>(HttpMethod.Get, $"{RepoPath(repo)}/branches", null, ct);

    /// <summary>The sha a branch points to, or null.</summary>
    public async Task<string?> BranchShaAsync(string repo, string branch, CancellationToken ct = default) =>
        (await BranchesAsync(repo, ct)).FirstOrDefault(b => b.Name == branch)?.Sha;

    public Task DeleteBranchAsync(string repo, string branch, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Delete, $"{RepoPath(repo)}/branches/{branch}", null, ct);

    /// <summary>Commits files (path → content; null deletes) to a branch, creating it from <paramref name="parent"/> or the default branch.</summary>
    public Task<CommitInfo> CommitAsync(string repo, string branch, IReadOnlyDictionary<string, string?> files, string? message = null, string? author = null, string? parent = null, bool createBranch = true, CancellationToken ct = default) =>
        SendAsync<CommitInfo>(HttpMethod.Post, $"{RepoPath(repo)}/commits", new CommitRequest(branch, files, message, author, parent, createBranch), ct);

    // ---- pull requests ----

    public Task<PullRequestInfo> OpenPullRequestAsync(string repo, string head, string title, string? baseBranch = null, string? body = null, string? author = null, bool draft = false, CancellationToken ct = default) =>
        SendAsync<PullRequestInfo>(HttpMethod.Post, $"{RepoPath(repo)}/pulls", new OpenPullRequestRequest(head, title, baseBranch, body, author, draft), ct);

    /// <summary>Creates the head branch with <paramref name="files"/> on the default branch, then opens a pull request from it.</summary>
    public async Task<PullRequestInfo> OpenPullRequestWithFilesAsync(string repo, string head, IReadOnlyDictionary<string, string?> files, string? title = null, string? author = null, string? baseBranch = null, CancellationToken ct = default)
    {
        await CommitAsync(repo, head, files, title ?? $"Change {head}", author, parent: baseBranch, ct: ct);
        return await OpenPullRequestAsync(repo, head, title ?? $"Change {head}", baseBranch, author: author, ct: ct);
    }

    public Task<PullRequestInfo> GetPullRequestAsync(string repo, int number, CancellationToken ct = default) =>
        SendAsync<PullRequestInfo>(HttpMethod.Get, $"{RepoPath(repo)}/pulls/{number}", null, ct);

    /// <summary>A new commit on the pull request's head branch (a synchronize).</summary>
    public Task<CommitInfo> PushToPullRequestAsync(string repo, int number, IReadOnlyDictionary<string, string?> files, string? message = null, string? author = null, CancellationToken ct = default) =>
        SendAsync<CommitInfo>(HttpMethod.Post, $"{RepoPath(repo)}/pulls/{number}/push", new PushRequest(files, message, author), ct);

    /// <param name="state">APPROVED, CHANGES_REQUESTED or COMMENTED.</param>
    /// <param name="commitId">The reviewed commit; default the current head.</param>
    public Task<ReviewInfo> ReviewAsync(string repo, int number, string user, string state = "APPROVED", string? body = null, string? commitId = null, CancellationToken ct = default) =>
        SendAsync<ReviewInfo>(HttpMethod.Post, $"{RepoPath(repo)}/pulls/{number}/reviews", new ReviewRequest(user, state, body, commitId), ct);

    public Task<ReviewInfo> DismissReviewAsync(string repo, int number, long reviewId, string? user = null, CancellationToken ct = default) =>
        SendAsync<ReviewInfo>(HttpMethod.Post, $"{RepoPath(repo)}/pulls/{number}/reviews/{reviewId}/dismiss", new DismissRequest(null, user), ct);

    public Task<PullRequestInfo> SetDraftAsync(string repo, int number, bool draft, string? user = null, CancellationToken ct = default) =>
        SendAsync<PullRequestInfo>(HttpMethod.Post, $"{RepoPath(repo)}/pulls/{number}/draft", new DraftRequest(draft, user), ct);

    public Task<PullRequestInfo> ClosePullRequestAsync(string repo, int number, string? user = null, CancellationToken ct = default) =>
        SendAsync<PullRequestInfo>(HttpMethod.Post, $"{RepoPath(repo)}/pulls/{number}/close", new CloseRequest(user), ct);

    public Task<PullRequestInfo> ReopenPullRequestAsync(string repo, int number, string? user = null, CancellationToken ct = default) =>
        SendAsync<PullRequestInfo>(HttpMethod.Post, $"{RepoPath(repo)}/pulls/{number}/reopen", new CloseRequest(user), ct);

    // ---- comments and labels ----

    public Task<CommentInfo> CommentAsync(string repo, int number, string user, string body, CancellationToken ct = default) =>
        SendAsync<CommentInfo>(HttpMethod.Post, $"{RepoPath(repo)}/issues/{number}/comments", new CommentRequest(user, body), ct);

    public Task<CommentInfo> EditCommentAsync(string repo, long commentId, string body, string? user = null, CancellationToken ct = default) =>
        SendAsync<CommentInfo>(HttpMethod.Patch, $"{RepoPath(repo)}/comments/{commentId}", new EditCommentRequest(body, user), ct);

    public Task DeleteCommentAsync(string repo, long commentId, string? user = null, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Delete, $"{RepoPath(repo)}/comments/{commentId}{(user is null ? "" : "?user=" + E(user))}", null, ct);

    /// <summary>The comments of a pull request, with their reactions.</summary>
    public Task<IReadOnlyList<CommentInfo>> CommentsAsync(string repo, int number, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<CommentInfo>>(HttpMethod.Get, $"{RepoPath(repo)}/issues/{number}/comments", null, ct);

    public Task<IReadOnlyList<string>> AddLabelsAsync(string repo, int number, IReadOnlyList<string> labels, string? user = null, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<string>>(HttpMethod.Post, $"{RepoPath(repo)}/issues/{number}/labels", new LabelsRequest(labels, user), ct);

    public Task<IReadOnlyList<string>> RemoveLabelAsync(string repo, int number, string label, string? user = null, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<string>>(HttpMethod.Delete, $"{RepoPath(repo)}/issues/{number}/labels/{E(label)}{(user is null ? "" : "?user=" + E(user))}", null, ct);

    /// <param name="permission">admin, maintain, write, triage, read or none.</param>
    public Task SetPermissionAsync(string repo, string user, string permission, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Put, $"{RepoPath(repo)}/permissions/{E(user)}", new PermissionRequest(permission), ct);

    /// <summary>Protects the branch with these required status checks (null: protected, no checks required).</summary>
    public Task<BranchProtectionInfo> SetBranchProtectionAsync(string repo, string branch, IReadOnlyList<string>? requiredStatusChecks, CancellationToken ct = default) =>
        SendAsync<BranchProtectionInfo>(HttpMethod.Put, $"{RepoPath(repo)}/protection/{branch}", new BranchProtectionRequest(requiredStatusChecks), ct);

    /// <summary>The branch's protection, or null when it is not protected.</summary>
    public async Task<BranchProtectionInfo?> GetBranchProtectionAsync(string repo, string branch, CancellationToken ct = default)
    {
        try
        {
            return await SendAsync<BranchProtectionInfo>(HttpMethod.Get, $"{RepoPath(repo)}/protection/{branch}", null, ct);
        }
        catch (SimulatorClientException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public Task RemoveBranchProtectionAsync(string repo, string branch, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Delete, $"{RepoPath(repo)}/protection/{branch}", null, ct);

    // ---- checks, branch moves, CI ----

    /// <summary>A commit's combined status, latest statuses and latest check runs.</summary>
    public Task<CommitChecks> ChecksAsync(string repo, string sha, CancellationToken ct = default) =>
        SendAsync<CommitChecks>(HttpMethod.Get, $"{RepoPath(repo)}/commits/{E(sha)}/checks", null, ct);

    /// <summary>Every move of every branch (or of one), oldest first.</summary>
    public Task<IReadOnlyList<BranchMove>> BranchMovesAsync(string repo, string? branch = null, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<BranchMove>>(HttpMethod.Get, $"{RepoPath(repo)}/moves{(branch is null ? "" : "?branch=" + E(branch))}", null, ct);

    public Task<CiConfig> ConfigureCiAsync(CiConfig update, CancellationToken ct = default) =>
        SendAsync<CiConfig>(HttpMethod.Put, "ci", update, ct);

    public Task<CiConfig> CiConfigAsync(CancellationToken ct = default) => SendAsync<CiConfig>(HttpMethod.Get, "ci", null, ct);

    /// <param name="held">True: only runs held until released (an override's <c>hold</c>); false: only the others.</param>
    public Task<IReadOnlyList<CiRun>> CiRunsAsync(string? repo = null, string? branch = null, string? context = null, bool? held = null, CancellationToken ct = default)
    {
        var q = new List<string>();
        if (repo is not null) q.Add("repo=" + E(repo));
        if (branch is not null) q.Add("branch=" + E(branch));
        if (context is not null) q.Add("context=" + E(context));
        if (held is not null) q.Add("held=" + (held.Value ? "true" : "false"));
        return SendAsync<IReadOnlyList<CiRun>>(HttpMethod.Get, "ci/runs" + (q.Count > 0 ? "?" + string.Join("&", q) : ""), null, ct);
    }

    /// <summary>Waits until at least <paramref name="count"/> runs are held (their pending report posted), and returns the held runs.</summary>
    public Task<IReadOnlyList<CiRun>> WaitForHeldCiRunsAsync(int count = 1, string? repo = null, TimeSpan? timeout = null, CancellationToken ct = default) =>
        WaitForAsync(c => CiRunsAsync(repo, held: true, ct: c), runs => runs.Count >= count, timeout, ct);

    /// <summary>Releases held CI runs matching every given filter (all held runs when none is given); they report their verdict. Returns the released runs.</summary>
    public Task<IReadOnlyList<CiRun>> ReleaseCiAsync(string? repo = null, string? sha = null, string? branch = null, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<CiRun>>(HttpMethod.Post, "ci/release", new CiReleaseRequest(repo, sha, branch), ct);

    /// <summary>Runs CI again on a commit (as a "re-run jobs" would).</summary>
    public Task RerunCiAsync(string repo, string sha, string? branch = null, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"{RepoPath(repo)}/ci/rerun", new RerunRequest(sha, branch), ct);

    // ---- API calls and faults ----

    public Task<IReadOnlyList<ApiCall>> ApiCallsAsync(long after = 0, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<ApiCall>>(HttpMethod.Get, $"api-calls?after={after}", null, ct);

    public Task ClearApiCallsAsync(CancellationToken ct = default) => SendAsync(HttpMethod.Delete, "api-calls", null, ct);

    /// <summary>Errors the REST API answered with a last-resort 500. Should stay empty.</summary>
    public Task<IReadOnlyList<string>> UnexpectedErrorsAsync(CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<string>>(HttpMethod.Get, "errors", null, ct);

    public Task InjectApiFaultAsync(ApiFault fault, CancellationToken ct = default) => SendAsync(HttpMethod.Post, "faults/api", fault, ct);

    public Task SetRandomApiFaultsAsync(RandomApiFaults faults, CancellationToken ct = default) => SendAsync(HttpMethod.Put, "faults/api/random", faults, ct);

    public Task ClearApiFaultsAsync(CancellationToken ct = default) => SendAsync(HttpMethod.Delete, "faults/api", null, ct);

    // ---- webhooks ----

    /// <summary>A hook for every repository (as a GitHub App's webhook).</summary>
    public Task<HookInfo> RegisterHookAsync(string url, string? secret = null, IReadOnlyList<string>? events = null, CancellationToken ct = default) =>
        SendAsync<HookInfo>(HttpMethod.Post, "hooks", new HookRequest(url, secret, events), ct);

    public Task<IReadOnlyList<DeliveryInfo>> DeliveriesAsync(string? eventName = null, long after = 0, CancellationToken ct = default) =>
        SendAsync<IReadOnlyList<DeliveryInfo>>(HttpMethod.Get, $"deliveries?after={after}{(eventName is null ? "" : "&event=" + E(eventName))}", null, ct);

    public Task<DeliveryInfo> RedeliverAsync(Guid deliveryId, CancellationToken ct = default) =>
        SendAsync<DeliveryInfo>(HttpMethod.Post, $"deliveries/{deliveryId}/redeliver", null, ct);

    public Task SetWebhookFaultsAsync(WebhookFaults faults, CancellationToken ct = default) => SendAsync(HttpMethod.Put, "faults/webhooks", faults, ct);

    // ---- waiting ----

    public Task<IdleInfo> IdleAsync(CancellationToken ct = default) => SendAsync<IdleInfo>(HttpMethod.Get, "idle", null, ct);

    /// <summary>Waits until no webhook delivery is queued and no CI run is in progress (held runs do not count: they wait for a release).</summary>
    public Task WaitForIdleAsync(TimeSpan? timeout = null, CancellationToken ct = default) =>
        WaitUntilAsync(async c => (await IdleAsync(c)).Idle, timeout, ct);

    /// <summary>Polls a condition every few milliseconds until it holds; throws TimeoutException after <paramref name="timeout"/> (default 10 s).</summary>
    public static async Task WaitUntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        cts.CancelAfter(limit);
        var delay = 5;
        while (true)
        {
            try
            {
                if (await condition(cts.Token)) return;
                await Task.Delay(delay, cts.Token);
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                throw new TimeoutException($"condition not met within {limit}");
            }
            delay = Math.Min(delay * 2, 50);
        }
    }

    /// <summary>Waits for a condition on a value read repeatedly, and returns the value that satisfied it.</summary>
    public static async Task<T> WaitForAsync<T>(Func<CancellationToken, Task<T>> read, Func<T, bool> until, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        T value = default!;
        await WaitUntilAsync(async c => until(value = await read(c)), timeout, ct);
        return value;
    }

    /// <summary>The payload of a delivery as JSON.</summary>
    public static JsonObject Payload(DeliveryInfo delivery) => JsonNode.Parse(delivery.Payload)!.AsObject();
}
