using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Ports;

/// <summary>What caused a change: a webhook delivery, a command and who gave it, a poll tick, an API call.</summary>
public sealed record Cause(string Kind, string? Id = null, string? Actor = null)
{
    public static Cause Delivery(string deliveryId) => new("delivery", deliveryId);
    public static Cause Command(string? deliveryId, string actor) => new("command", deliveryId, actor);
    public static Cause Poll(string tickId) => new("poll", tickId);
    public static Cause Api(string requestId, string actor) => new("api", requestId, actor);
    public static Cause Test() => new("test");
}

/// <summary>One row of the event log: a state change, or an effect (a GitHub call), with its cause.</summary>
public sealed record EventLogEntry(
    DateTimeOffset At,
    RepoId Repo,
    int? PullRequest,
    AttemptId? Attempt,
    string Kind,
    string? From,
    string? To,
    string? Reason,
    Cause Cause);

/// <summary>
/// A unit of work: rows to insert (version 0) or update (version checked), and event log rows,
/// written in one transaction.
/// </summary>
public sealed class Changes
{
    public List<PullRequest> PullRequests { get; } = [];
    public List<MergeAttempt> Attempts { get; } = [];
    public List<EventLogEntry> Events { get; } = [];

    public bool IsEmpty => PullRequests.Count == 0 && Attempts.Count == 0 && Events.Count == 0;
}

/// <summary>Thrown when a row changed since it was read: the caller reloads and runs the flow again.</summary>
public sealed class ConcurrencyConflictException(string message) : Exception(message);

/// <summary>
/// A frozen target branch (the <c>freeze</c> command): no new attempt starts on it until
/// <c>unfreeze</c>; running attempts finish and requests still queue.
/// </summary>
public sealed record QueueFreeze(QueueId Queue, string FrozenBy, DateTimeOffset FrozenAt, string? Reason);

/// <summary>A fast-forward of the target by the queue: the attempt that landed and its staging commit.</summary>
public sealed record Landing(AttemptId Attempt, CommitSha Sha);

/// <summary>
/// The first of a target's queued PRs in batching order (priority, then FIFO) that is not held back,
/// and when the earliest of those was queued: what a queued PR's description is made of, read
/// without the rest of the queue.
/// </summary>
public sealed record QueueHead(PullRequest First, DateTimeOffset OldestQueuedAt);

/// <summary>Where a <c>try</c> build stands.</summary>
public enum TryState { Running, Passed, Failed, Replaced }

/// <summary>
/// The latest <c>try</c> of one pull request: its merge into the target, built on
/// <c>{prefix}/try/{number}</c> and tested there. One row per PR; a new try replaces it.
/// </summary>
public sealed record TryBuild(
    RepoId Repo,
    int Number,
    string Target,
    CommitSha HeadSha,
    CommitSha? TrySha,
    TryState State,
    string RequestedBy,
    DateTimeOffset StartedAt,
    string? Reason);

/// <summary>The queue's durable state (seed 003's two tables, plus history).</summary>
public interface IQueueStore
{
    Task<AttemptId> NextAttemptIdAsync(CancellationToken ct);
    Task<PullRequest?> FindActivePullRequestAsync(RepoId repo, int number, CancellationToken ct);
    /// <summary>Active pull requests of one repository, or of every repository when null.</summary>
    Task<IReadOnlyList<PullRequest>> GetActivePullRequestsAsync(RepoId? repo, CancellationToken ct);
    Task<MergeAttempt?> GetAttemptAsync(AttemptId id, CancellationToken ct);
    /// <summary>Active attempts of one repository, or of every repository when null.</summary>
    Task<IReadOnlyList<MergeAttempt>> GetActiveAttemptsAsync(RepoId? repo, CancellationToken ct);
    /// <summary>
    /// Targets with an active pull request or attempt, ordered by owner, repository and branch: where
    /// Poll looks, without reading the rows.
    /// </summary>
    Task<IReadOnlyList<QueueId>> GetActiveQueuesAsync(CancellationToken ct);
    /// <summary>
    /// Active pull requests of one repository that are in one of the given states and entered it
    /// before the instant given for that state (<see cref="DateTimeOffset.MaxValue"/>: all of them),
    /// ordered by row id: the rows past a timeout, or the requests still waiting to be ready.
    /// </summary>
    Task<IReadOnlyList<PullRequest>> GetPullRequestsInStatesAsync(RepoId repo, IReadOnlyDictionary<PullRequestState, DateTimeOffset> enteredBefore, CancellationToken ct);
    /// <summary>The active pull requests these attempts hold, ordered by row id.</summary>
    Task<IReadOnlyList<PullRequest>> GetAttemptMembersAsync(IReadOnlyCollection<AttemptId> attempts, CancellationToken ct);
    /// <summary>The target's first queued PR that is not held back, and the oldest queuing time among those; null when none waits.</summary>
    Task<QueueHead?> GetQueueHeadAsync(QueueId queue, CancellationToken ct);
    /// <summary>Writes the changes and their transitions (as event log rows with the cause) in one transaction.</summary>
    Task SaveAsync(Changes changes, Cause cause, CancellationToken ct);

    /// <summary>
    /// How the target's last <paramref name="count"/> finished requests ended: merged, or failed
    /// (the planner's estimate of how often a PR breaks CI).
    /// </summary>
    Task<(int Merged, int Failed)> GetRecentOutcomesAsync(QueueId queue, int count, CancellationToken ct);

    /// <summary>
    /// How long the target's last <paramref name="count"/> finished attempts (merged or failed) took
    /// from start to end, newest first: the history of <see cref="Queue.Eta"/>.
    /// </summary>
    Task<IReadOnlyList<TimeSpan>> GetRecentRunDurationsAsync(QueueId queue, int count, CancellationToken ct);

    /// <summary>
    /// The attempt the queue last fast-forwarded the target to, and that staging commit: the target's
    /// head, unless someone else pushed since. Null before the first landing.
    /// </summary>
    Task<Landing?> GetLastLandedAsync(QueueId queue, CancellationToken ct);

    /// <summary>The PR's newest request, active or finished (what <c>retry</c> repeats).</summary>
    Task<PullRequest?> FindLatestPullRequestAsync(RepoId repo, int number, CancellationToken ct);

    /// <summary>The target's freeze, or null when it is open.</summary>
    Task<QueueFreeze?> GetFreezeAsync(QueueId queue, CancellationToken ct);
    /// <summary>Freezes the target (replacing an earlier freeze's who, when and why).</summary>
    Task SetFreezeAsync(QueueFreeze freeze, CancellationToken ct);
    /// <summary>Opens the target; false when it was not frozen.</summary>
    Task<bool> ClearFreezeAsync(QueueId queue, CancellationToken ct);

    /// <summary>The PR's latest try build, if it ever had one.</summary>
    Task<TryBuild?> GetTryAsync(RepoId repo, int number, CancellationToken ct);
    /// <summary>Running try builds of one repository, or of every repository when null.</summary>
    Task<IReadOnlyList<TryBuild>> GetRunningTriesAsync(RepoId? repo, CancellationToken ct);
    /// <summary>Inserts or replaces the PR's try build.</summary>
    Task SaveTryAsync(TryBuild build, CancellationToken ct);
}
