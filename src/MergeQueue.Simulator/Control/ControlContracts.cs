namespace MergeQueue.Simulator.Control;

// The JSON documents of the control API (/_sim/). Shared by the server and SimulatorClient, so
// both ends agree on names; serialized with System.Text.Json's web defaults (camelCase).

/// <summary>Creates a user; the token authenticates REST calls as this user.</summary>
/// <param name="GlobalPermission">Permission on every repository, like a GitHub App installed everywhere (admin, write, ...).</param>
public sealed record CreateUserRequest(string Login, string? Type = null, string? Token = null, string? GlobalPermission = null, string? Email = null);

public sealed record UserInfo(long Id, string Login, string Type, string Token);

/// <summary>An OAuth app: its credentials and the callback URL the browser is sent back to.</summary>
public sealed record OAuthAppRequest(string ClientId, string ClientSecret, string CallbackUrl);

/// <summary>Who is signed in at GitHub in the browser and approves authorization requests (null: nobody).</summary>
public sealed record BrowserLoginRequest(string? Login);

/// <summary>Creates a repository whose default branch holds <paramref name="Files"/> (path → content) in one commit.</summary>
public sealed record CreateRepositoryRequest(
    string Owner,
    string Name,
    IReadOnlyDictionary<string, string>? Files = null,
    string? DefaultBranch = null,
    bool Private = false,
    string? Message = null);

public sealed record RepositoryInfo(long Id, string FullName, string DefaultBranch, string HeadSha);

public sealed record BranchInfo(string Name, string Sha);

/// <summary>
/// Commits files to a branch: path → content, a null content deletes the file. A missing branch
/// is created from <paramref name="Parent"/> (a sha or branch; default: the default branch) when
/// <paramref name="CreateBranch"/> is true. With <paramref name="Parent"/> on an existing branch,
/// the commit is built on it and the branch is force-moved.
/// </summary>
public sealed record CommitRequest(
    string Branch,
    IReadOnlyDictionary<string, string?> Files,
    string? Message = null,
    string? Author = null,
    string? Parent = null,
    bool CreateBranch = true);

public sealed record CommitInfo(string Sha, string Branch, string TreeSha);

public sealed record OpenPullRequestRequest(string Head, string Title, string? Base = null, string? Body = null, string? Author = null, bool Draft = false);

/// <summary>A new commit on a pull request's head branch.</summary>
public sealed record PushRequest(IReadOnlyDictionary<string, string?> Files, string? Message = null, string? Author = null);

public sealed record ReviewRequest(string User, string State, string? Body = null, string? CommitId = null);

public sealed record ReviewInfo(long Id, string User, string State, string CommitId, DateTimeOffset SubmittedAt);

public sealed record DismissRequest(string? Message = null, string? User = null);

public sealed record PullRequestInfo(
    int Number,
    string Title,
    string State,
    bool Draft,
    bool Merged,
    string HeadRef,
    string HeadSha,
    string BaseRef,
    string BaseSha,
    string Author,
    string? MergedBy,
    string? MergeCommitSha,
    IReadOnlyList<string> Labels,
    IReadOnlyList<ReviewInfo> Reviews);

public sealed record CommentRequest(string User, string Body);

public sealed record EditCommentRequest(string Body, string? User = null);

public sealed record ReactionInfo(long Id, string User, string Content);

public sealed record CommentInfo(long Id, int IssueNumber, string User, string Body, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, IReadOnlyList<ReactionInfo> Reactions);

public sealed record LabelsRequest(IReadOnlyList<string> Labels, string? User = null);

public sealed record DraftRequest(bool Draft, string? User = null);

public sealed record CloseRequest(string? User = null);

public sealed record PermissionRequest(string Permission);
/// <summary>Protects a branch; <paramref name="RequiredStatusChecks"/> null: no status checks required.</summary>
public sealed record BranchProtectionRequest(IReadOnlyList<string>? RequiredStatusChecks, bool Strict = false);
/// <summary>A branch's protection as the control API reports it; null checks: none required.</summary>
public sealed record BranchProtectionInfo(string Branch, IReadOnlyList<string>? RequiredStatusChecks, bool Strict);

public sealed record StatusSnapshot(long Id, string Context, string State, string? Description, string? TargetUrl, string Creator, DateTimeOffset CreatedAt);

public sealed record CheckRunSnapshot(long Id, string Name, string Status, string? Conclusion, string? App);

/// <summary>A commit's checks: GitHub's combined status (statuses only) and the latest check run per name.</summary>
public sealed record CommitChecks(string Sha, string CombinedState, IReadOnlyList<StatusSnapshot> Statuses, IReadOnlyList<CheckRunSnapshot> CheckRuns)
{
    /// <summary>True when the combined status is success and every latest check run concluded success, neutral or skipped.</summary>
    public bool AllGreen =>
        (Statuses.Count > 0 || CheckRuns.Count > 0)
        && (Statuses.Count == 0 || CombinedState == "success")
        && CheckRuns.All(r => r.Status == "completed" && r.Conclusion is "success" or "neutral" or "skipped");
}

/// <summary>One move of one branch, with the checks its new commit had at that moment.</summary>
/// <param name="OldSha">Null when the branch was created.</param>
/// <param name="NewSha">Null when the branch was deleted.</param>
/// <param name="Actor">The login whose API call moved it, or "control" for a control API call.</param>
public sealed record BranchMove(
    long Sequence,
    string Repository,
    string Branch,
    string? OldSha,
    string? NewSha,
    bool Forced,
    string Actor,
    DateTimeOffset Time,
    CommitChecks? Checks);

/// <summary>One REST API call as the simulator answered it.</summary>
public sealed record ApiCall(long Sequence, string Method, string Path, string? Query, int Status, string? User, DateTimeOffset Time, double DurationMs, string? Fault);

/// <summary>One run of one simulated CI context on one commit.</summary>
/// <param name="Attempt">1 for the first run of this commit and context, 2 for the next, ...</param>
/// <param name="Verdict">success, failure, error, pending (never finishes), or null while running.</param>
/// <param name="Held">True while the run waits, its pending status posted, for POST /_sim/ci/release (an override's <c>hold</c>).</param>
public sealed record CiRun(long Id, string Repository, string Branch, string Sha, string Context, string Kind, int Attempt, string? Verdict, string? Description, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt, bool Held = false);

/// <summary>A CI context: reported as a commit status (kind "status") or as a check run (kind "check_run").</summary>
public sealed record CiContext(string Name, string Kind = "status");

/// <summary>
/// Overrides CI on branches matching <paramref name="Pattern"/> (glob: * within a segment, ** across).
/// <paramref name="Verdict"/>: "never" (no report at all), "success", "failure", "error", "pending" (never finishes), or null (from the tree).
/// <paramref name="Hold"/>: a run posts its pending report and then waits, without a verdict, until
/// a test releases it (POST /_sim/ci/release); <paramref name="DelayMs"/> does not apply to it.
/// </summary>
public sealed record CiOverride(string Pattern, string? Verdict = null, int? DelayMs = null, string? Context = null, bool Hold = false);

/// <summary>The simulated CI's configuration. Null members of an update keep their current value.</summary>
public sealed record CiConfig(
    IReadOnlyList<CiContext>? Contexts = null,
    IReadOnlyList<string>? BranchPatterns = null,
    IReadOnlyList<string>? ExcludePatterns = null,
    bool? PullRequestHeads = null,
    int? DelayMs = null,
    IReadOnlyList<CiOverride>? Overrides = null);

public sealed record RerunRequest(string Sha, string? Branch = null);

/// <summary>Releases held CI runs: those matching every given member (repository full name, commit sha, branch), or all when none is given.</summary>
public sealed record CiReleaseRequest(string? Repo = null, string? Sha = null, string? Branch = null);

public sealed record HookRequest(string Url, string? Secret = null, IReadOnlyList<string>? Events = null);

public sealed record HookInfo(long Id, string Url, IReadOnlyList<string> Events, string? Repository);

/// <summary>One webhook delivery attempt and the answer it got.</summary>
/// <param name="StatusCode">The receiver's HTTP status; null when not (yet) answered or dropped.</param>
public sealed record DeliveryInfo(
    long Sequence,
    Guid Id,
    long HookId,
    string Url,
    string Event,
    string? Action,
    string? Repository,
    string Payload,
    int? StatusCode,
    string? Error,
    bool Dropped,
    bool Redelivery,
    DateTimeOffset QueuedAt,
    DateTimeOffset? DeliveredAt);

/// <summary>Webhook faults: drop given events, send each delivery twice, shuffle within windows.</summary>
public sealed record WebhookFaults(IReadOnlyList<string>? DropEvents = null, bool Duplicate = false, int ShuffleWindow = 0, int Seed = 0);

/// <summary>
/// Answers the next <paramref name="Count"/> REST calls matching <paramref name="Method"/> and
/// <paramref name="PathPrefix"/> (null = any) with a fault. <paramref name="Kind"/>:
/// secondary_rate_limit (403 + retry-after), rate_limit (429 + retry-after), bad_gateway (502),
/// server_error (500), unavailable (503), latency (answers normally after <paramref name="LatencyMs"/>).
/// </summary>
public sealed record ApiFault(string Kind, int Count = 1, string? Method = null, string? PathPrefix = null, int RetryAfterSeconds = 1, int LatencyMs = 0);

/// <summary>A fraction <paramref name="Probability"/> of REST calls fail with one of <paramref name="Kinds"/>, drawn from a seeded Random.</summary>
public sealed record RandomApiFaults(double Probability, int Seed = 0, IReadOnlyList<string>? Kinds = null, int RetryAfterSeconds = 1);

/// <summary>Whether background work (webhook deliveries, CI runs) is finished.</summary>
/// <param name="HeldCi">CI runs held until released; they do not make the simulator busy (only a test's release ends them).</param>
public sealed record IdleInfo(bool Idle, int PendingDeliveries, int RunningCi, int HeldCi = 0);

/// <summary>
/// Registers a GitHub App. Without <paramref name="PublicKeyPem"/> the simulator makes a key pair and
/// returns its private half once (<see cref="AppInfo.PrivateKeyPem"/>). With <paramref name="WebhookUrl"/>,
/// the App's webhook gets the events of its installations' repositories and of its installations.
/// </summary>
/// <param name="TokenLifetimeSeconds">How long installation tokens live (GitHub: 3600).</param>
public sealed record AppRequest(
    string Slug,
    long? Id = null,
    string? PublicKeyPem = null,
    string? WebhookUrl = null,
    string? WebhookSecret = null,
    int TokenLifetimeSeconds = 3600,
    string? Owner = null);

/// <param name="BotLogin">The account installation tokens act as: <c>&lt;slug&gt;[bot]</c>.</param>
public sealed record AppInfo(long Id, string Slug, string BotLogin, string? PrivateKeyPem, long? HookId);

/// <summary>Installs an App on an account, for these of its repositories ("name" or "owner/name").</summary>
public sealed record InstallationRequest(string Account, IReadOnlyList<string>? Repositories = null);

public sealed record InstallationRepositoriesRequest(IReadOnlyList<string> Repositories);

public sealed record InstallationInfo(long Id, long AppId, string Account, IReadOnlyList<string> Repositories);
