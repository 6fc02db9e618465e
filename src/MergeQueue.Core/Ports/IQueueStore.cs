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
    /// <summary>Writes the changes and their transitions (as event log rows with the cause) in one transaction.</summary>
    Task SaveAsync(Changes changes, Cause cause, CancellationToken ct);
}
