using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Bench.Poll;

/// <summary>
/// The store port, counted: every call, the rows each read brings back through the port (a list's
/// length, one for a row found, the outcomes a summary stands for), the writes, and per method the
/// calls, rows and time spent.
/// </summary>
public sealed class CountingQueueStore(IQueueStore inner) : IQueueStore
{
    private int _calls, _rows, _writes;

    public int Calls => _calls;
    public int Rows => _rows;
    public int Writes => _writes;

    /// <summary>Per method: calls, rows and milliseconds since the last <see cref="Reset"/>.</summary>
    public ConcurrentDictionary<string, (int Calls, int Rows, double Ms)> ByMethod { get; } = new();

    public void Reset()
    {
        _calls = _rows = _writes = 0;
        ByMethod.Clear();
    }

    private async Task<T> Call<T>(Func<Task<T>> call, Func<T, int> rows, bool write, string method)
    {
        Interlocked.Increment(ref _calls);
        if (write) Interlocked.Increment(ref _writes);
        var started = Stopwatch.GetTimestamp();
        var value = await call();
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var n = rows(value);
        Interlocked.Add(ref _rows, n);
        ByMethod.AddOrUpdate(method, (1, n, ms), (_, s) => (s.Calls + 1, s.Rows + n, s.Ms + ms));
        return value;
    }

    private Task<IReadOnlyList<T>> List<T>(Func<Task<IReadOnlyList<T>>> read, [CallerMemberName] string method = "") => Call(read, l => l.Count, false, method);

    private Task<T?> One<T>(Func<Task<T?>> read, [CallerMemberName] string method = "") where T : class => Call(read, r => r is null ? 0 : 1, false, method);

    private Task Write(Func<Task> write, [CallerMemberName] string method = "") => Call(async () => { await write(); return true; }, _ => 0, true, method);

    private Task<T> Write<T>(Func<Task<T>> write, [CallerMemberName] string method = "") => Call(write, _ => 0, true, method);

    public Task<AttemptId> NextAttemptIdAsync(CancellationToken ct) => Write(() => inner.NextAttemptIdAsync(ct));
    public Task<PullRequest?> FindActivePullRequestAsync(RepoId repo, int number, CancellationToken ct) => One(() => inner.FindActivePullRequestAsync(repo, number, ct));
    public Task<IReadOnlyList<PullRequest>> GetActivePullRequestsAsync(RepoId? repo, CancellationToken ct) => List(() => inner.GetActivePullRequestsAsync(repo, ct));
    public Task<MergeAttempt?> GetAttemptAsync(AttemptId id, CancellationToken ct) => One(() => inner.GetAttemptAsync(id, ct));
    public Task<IReadOnlyList<MergeAttempt>> GetActiveAttemptsAsync(RepoId? repo, CancellationToken ct) => List(() => inner.GetActiveAttemptsAsync(repo, ct));
    public Task<IReadOnlyList<QueueId>> GetActiveQueuesAsync(CancellationToken ct) => List(() => inner.GetActiveQueuesAsync(ct));
    public Task<IReadOnlyList<PullRequest>> GetPullRequestsInStatesAsync(RepoId repo, IReadOnlyDictionary<PullRequestState, DateTimeOffset> enteredBefore, CancellationToken ct) =>
        List(() => inner.GetPullRequestsInStatesAsync(repo, enteredBefore, ct));
    public Task<IReadOnlyList<PullRequest>> GetAttemptMembersAsync(IReadOnlyCollection<AttemptId> attempts, CancellationToken ct) => List(() => inner.GetAttemptMembersAsync(attempts, ct));
    public Task<QueueHead?> GetQueueHeadAsync(QueueId queue, CancellationToken ct) => One(() => inner.GetQueueHeadAsync(queue, ct));
    public Task SaveAsync(Changes changes, Cause cause, CancellationToken ct) => Write(() => inner.SaveAsync(changes, cause, ct));
    public Task<(int Merged, int Failed)> GetRecentOutcomesAsync(QueueId queue, int count, CancellationToken ct) =>
        Call(() => inner.GetRecentOutcomesAsync(queue, count, ct), o => o.Merged + o.Failed, false, nameof(GetRecentOutcomesAsync));
    public Task<IReadOnlyList<TimeSpan>> GetRecentRunDurationsAsync(QueueId queue, int count, CancellationToken ct) => List(() => inner.GetRecentRunDurationsAsync(queue, count, ct));
    public Task<Landing?> GetLastLandedAsync(QueueId queue, CancellationToken ct) => One(() => inner.GetLastLandedAsync(queue, ct));
    public Task<PullRequest?> FindLatestPullRequestAsync(RepoId repo, int number, CancellationToken ct) => One(() => inner.FindLatestPullRequestAsync(repo, number, ct));
    public Task<QueueFreeze?> GetFreezeAsync(QueueId queue, CancellationToken ct) => One(() => inner.GetFreezeAsync(queue, ct));
    public Task SetFreezeAsync(QueueFreeze freeze, CancellationToken ct) => Write(() => inner.SetFreezeAsync(freeze, ct));
    public Task<bool> ClearFreezeAsync(QueueId queue, CancellationToken ct) => Write(() => inner.ClearFreezeAsync(queue, ct));
    public Task<TryBuild?> GetTryAsync(RepoId repo, int number, CancellationToken ct) => One(() => inner.GetTryAsync(repo, number, ct));
    public Task<IReadOnlyList<TryBuild>> GetRunningTriesAsync(RepoId? repo, CancellationToken ct) => List(() => inner.GetRunningTriesAsync(repo, ct));
    public Task SaveTryAsync(TryBuild build, CancellationToken ct) => Write(() => inner.SaveTryAsync(build, ct));
}
