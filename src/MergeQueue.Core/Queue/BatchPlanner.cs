using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Queue;

/// <summary>What Construct should do next for one queue.</summary>
public abstract record BatchDecision
{
    /// <summary>An attempt is constructing, testing or completing: one at a time per target.</summary>
    public sealed record Busy(MergeAttempt Running) : BatchDecision;
    /// <summary>Nothing queued.</summary>
    public sealed record Idle : BatchDecision;
    /// <summary>The frozen target starts nothing new.</summary>
    public sealed record Frozen : BatchDecision;
    /// <summary>PRs are queued but the oldest is younger than batch_delay.</summary>
    public sealed record WaitUntil(DateTimeOffset When) : BatchDecision;
    /// <summary>A split attempt left without PRs: the seed deletes it and tries again.</summary>
    public sealed record RemoveEmpty(MergeAttempt Attempt) : BatchDecision;
    /// <summary>Build a split attempt (bisection or conflict) with its PRs.</summary>
    public sealed record BuildSplit(MergeAttempt Attempt, IReadOnlyList<PullRequest> PullRequests) : BatchDecision;
    /// <summary>Start a new attempt with these queued PRs, in this order.</summary>
    public sealed record NewBatch(IReadOnlyList<PullRequest> PullRequests) : BatchDecision;
}

/// <summary>
/// Batch selection as a pure function of one queue's state and the time: split attempts first
/// (oldest first, so bisection tests the first half first), then queued PRs by priority (highest
/// first) and FIFO within a priority, once the oldest has waited batch_delay, at most max_batch_size.
/// </summary>
public static class BatchPlanner
{
    public static BatchDecision Plan(
        IReadOnlyCollection<PullRequest> pullRequests,
        IReadOnlyCollection<MergeAttempt> attempts,
        RepoConfig config,
        DateTimeOffset now,
        bool frozen = false)
    {
        var running = attempts
            .Where(a => a.State is MergeAttemptState.Constructing or MergeAttemptState.Testing or MergeAttemptState.Success)
            .OrderBy(a => a.Id.Value)
            .FirstOrDefault();
        if (running is not null) return new BatchDecision.Busy(running);
        if (frozen) return new BatchDecision.Frozen();

        var split = attempts.Where(a => a.State == MergeAttemptState.Split).OrderBy(a => a.Id.Value).FirstOrDefault();
        if (split is not null)
        {
            var members = pullRequests.Where(p => p.State == PullRequestState.Split && p.AttemptId == split.Id).OrderBy(QueueOrder).ToArray();
            return members.Length == 0 ? new BatchDecision.RemoveEmpty(split) : new BatchDecision.BuildSplit(split, members);
        }

        var queued = Ordered(pullRequests);
        if (queued.Count == 0) return new BatchDecision.Idle();
        var oldest = queued.Min(p => p.QueuedAt ?? p.StateChangedAt);
        if (now - oldest < config.BatchDelay) return new BatchDecision.WaitUntil(oldest + config.BatchDelay);
        return new BatchDecision.NewBatch(queued.Take(config.MaxBatchSize).ToArray());
    }

    /// <summary>Queued PRs in batching order: priority, then FIFO; position 1 goes first.</summary>
    public static IReadOnlyList<PullRequest> Ordered(IEnumerable<PullRequest> pullRequests) =>
        pullRequests.Where(p => p.State == PullRequestState.Queued).OrderBy(QueueOrder).ToArray();

    private static (int, DateTimeOffset, int) QueueOrder(PullRequest p) => (-p.Priority, p.QueuedAt ?? p.StateChangedAt, p.Number);
}
