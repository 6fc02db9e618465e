using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Service;

/// <summary>The store, counting outcomes into the metrics as they are saved.</summary>
public sealed class MeteredQueueStore(IQueueStore inner) : IQueueStore
{
    public Task<AttemptId> NextAttemptIdAsync(CancellationToken ct) => inner.NextAttemptIdAsync(ct);
    public Task<PullRequest?> FindActivePullRequestAsync(RepoId repo, int number, CancellationToken ct) => inner.FindActivePullRequestAsync(repo, number, ct);
    public Task<IReadOnlyList<PullRequest>> GetActivePullRequestsAsync(RepoId? repo, CancellationToken ct) => inner.GetActivePullRequestsAsync(repo, ct);
    public Task<MergeAttempt?> GetAttemptAsync(AttemptId id, CancellationToken ct) => inner.GetAttemptAsync(id, ct);
    public Task<IReadOnlyList<MergeAttempt>> GetActiveAttemptsAsync(RepoId? repo, CancellationToken ct) => inner.GetActiveAttemptsAsync(repo, ct);
    public Task<IReadOnlyList<QueueId>> GetActiveQueuesAsync(CancellationToken ct) => inner.GetActiveQueuesAsync(ct);
    public Task<IReadOnlyList<PullRequest>> GetPullRequestsInStatesAsync(RepoId repo, IReadOnlyDictionary<PullRequestState, DateTimeOffset> enteredBefore, CancellationToken ct) =>
        inner.GetPullRequestsInStatesAsync(repo, enteredBefore, ct);
    public Task<IReadOnlyList<PullRequest>> GetAttemptMembersAsync(IReadOnlyCollection<AttemptId> attempts, CancellationToken ct) => inner.GetAttemptMembersAsync(attempts, ct);
    public Task<QueueHead?> GetQueueHeadAsync(QueueId queue, CancellationToken ct) => inner.GetQueueHeadAsync(queue, ct);
    public Task<PullRequest?> FindLatestPullRequestAsync(RepoId repo, int number, CancellationToken ct) => inner.FindLatestPullRequestAsync(repo, number, ct);
    public Task<(int Merged, int Failed)> GetRecentOutcomesAsync(QueueId queue, int count, CancellationToken ct) => inner.GetRecentOutcomesAsync(queue, count, ct);
    public Task<IReadOnlyList<TimeSpan>> GetRecentRunDurationsAsync(QueueId queue, int count, CancellationToken ct) => inner.GetRecentRunDurationsAsync(queue, count, ct);
    public Task<Landing?> GetLastLandedAsync(QueueId queue, CancellationToken ct) => inner.GetLastLandedAsync(queue, ct);
    public Task<QueueFreeze?> GetFreezeAsync(QueueId queue, CancellationToken ct) => inner.GetFreezeAsync(queue, ct);
    public Task SetFreezeAsync(QueueFreeze freeze, CancellationToken ct) => inner.SetFreezeAsync(freeze, ct);
    public Task<bool> ClearFreezeAsync(QueueId queue, CancellationToken ct) => inner.ClearFreezeAsync(queue, ct);
    public Task<TryBuild?> GetTryAsync(RepoId repo, int number, CancellationToken ct) => inner.GetTryAsync(repo, number, ct);
    public Task<IReadOnlyList<TryBuild>> GetRunningTriesAsync(RepoId? repo, CancellationToken ct) => inner.GetRunningTriesAsync(repo, ct);
    public Task SaveTryAsync(TryBuild build, CancellationToken ct) => inner.SaveTryAsync(build, ct);

    public async Task SaveAsync(Changes changes, Cause cause, CancellationToken ct)
    {
        var prOutcomes = changes.PullRequests.Where(p => !p.IsActive && p.Transitions.Count > 0).Select(p => p.State.ToString()).ToArray();
        var attemptOutcomes = changes.Attempts.Where(a => !a.IsActive && a.Transitions.Count > 0).Select(a => a.State.ToString()).ToArray();
        var queues = changes.PullRequests.Select(p => (p.Repo, p.Target)).Distinct().ToArray();
        await inner.SaveAsync(changes, cause, ct);
        foreach (var outcome in prOutcomes)
        {
            ServiceMetrics.PullRequestOutcomes.WithLabels(outcome).Inc();
            if (outcome == nameof(PullRequestState.Merged)) ServiceMetrics.Merges.Inc();
        }
        foreach (var outcome in attemptOutcomes) ServiceMetrics.Attempts.WithLabels(outcome).Inc();
        foreach (var (repo, target) in queues)
        {
            var length = (await inner.GetActivePullRequestsAsync(repo, ct)).Count(p => p.Target == target);
            ServiceMetrics.QueueLength.WithLabels(repo.ToString(), target).Set(length);
        }
    }
}
