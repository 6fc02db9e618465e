using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Bench.Poll;

/// <summary>
/// The store port, counted: every call, the rows each read brings back through the port (a list's
/// length, one for a row found, the outcomes a summary stands for), and the writes.
/// </summary>
public sealed class CountingQueueStore(IQueueStore inner) : IQueueStore
{
    private int _calls, _rows, _writes;

    public int Calls => _calls;
    public int Rows => _rows;
    public int Writes => _writes;

    public void Reset() => _calls = _rows = _writes = 0;

    private async Task<T> Read<T>(Task<T> read, Func<T, int> rows)
    {
        Interlocked.Increment(ref _calls);
        var value = await read;
        Interlocked.Add(ref _rows, rows(value));
        return value;
    }

    private Task<IReadOnlyList<T>> List<T>(Task<IReadOnlyList<T>> read) => Read(read, l => l.Count);

    private Task<T?> One<T>(Task<T?> read) where T : class => Read(read, r => r is null ? 0 : 1);

    private async Task Write(Task write)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Increment(ref _writes);
        await write;
    }

    private async Task<T> Write<T>(Task<T> write)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Increment(ref _writes);
        return await write;
    }

    public Task<AttemptId> NextAttemptIdAsync(CancellationToken ct) => Write(inner.NextAttemptIdAsync(ct));
    public Task<PullRequest?> FindActivePullRequestAsync(RepoId repo, int number, CancellationToken ct) => One(inner.FindActivePullRequestAsync(repo, number, ct));
    public Task<IReadOnlyList<PullRequest>> GetActivePullRequestsAsync(RepoId? repo, CancellationToken ct) => List(inner.GetActivePullRequestsAsync(repo, ct));
    public Task<MergeAttempt?> GetAttemptAsync(AttemptId id, CancellationToken ct) => One(inner.GetAttemptAsync(id, ct));
    public Task<IReadOnlyList<MergeAttempt>> GetActiveAttemptsAsync(RepoId? repo, CancellationToken ct) => List(inner.GetActiveAttemptsAsync(repo, ct));
    public Task SaveAsync(Changes changes, Cause cause, CancellationToken ct) => Write(inner.SaveAsync(changes, cause, ct));
    public Task<(int Merged, int Failed)> GetRecentOutcomesAsync(QueueId queue, int count, CancellationToken ct) =>
        Read(inner.GetRecentOutcomesAsync(queue, count, ct), o => o.Merged + o.Failed);
    public Task<IReadOnlyList<TimeSpan>> GetRecentRunDurationsAsync(QueueId queue, int count, CancellationToken ct) => List(inner.GetRecentRunDurationsAsync(queue, count, ct));
    public Task<Landing?> GetLastLandedAsync(QueueId queue, CancellationToken ct) => One(inner.GetLastLandedAsync(queue, ct));
    public Task<PullRequest?> FindLatestPullRequestAsync(RepoId repo, int number, CancellationToken ct) => One(inner.FindLatestPullRequestAsync(repo, number, ct));
    public Task<QueueFreeze?> GetFreezeAsync(QueueId queue, CancellationToken ct) => One(inner.GetFreezeAsync(queue, ct));
    public Task SetFreezeAsync(QueueFreeze freeze, CancellationToken ct) => Write(inner.SetFreezeAsync(freeze, ct));
    public Task<bool> ClearFreezeAsync(QueueId queue, CancellationToken ct) => Write(inner.ClearFreezeAsync(queue, ct));
    public Task<TryBuild?> GetTryAsync(RepoId repo, int number, CancellationToken ct) => One(inner.GetTryAsync(repo, number, ct));
    public Task<IReadOnlyList<TryBuild>> GetRunningTriesAsync(RepoId? repo, CancellationToken ct) => List(inner.GetRunningTriesAsync(repo, ct));
    public Task SaveTryAsync(TryBuild build, CancellationToken ct) => Write(inner.SaveTryAsync(build, ct));
}
