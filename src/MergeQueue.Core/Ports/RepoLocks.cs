using System.Collections.Concurrent;

namespace MergeQueue.Core.Ports;

/// <summary>
/// The lock that runs a repository's flows one at a time. In one process a semaphore per repository
/// is enough; instances sharing a database also take a lock in the database (the service's
/// <c>DatabaseRepoLocks</c>), so two instances never act on one queue at once.
/// </summary>
public interface IRepoLocks
{
    /// <summary>Waits for the repository's lock; disposing the answer releases it.</summary>
    Task<IAsyncDisposable> AcquireAsync(RepoId repo, CancellationToken ct);
}

/// <summary>A semaphore per repository: the lock for one process.</summary>
public sealed class InProcessRepoLocks : IRepoLocks
{
    private readonly ConcurrentDictionary<RepoId, SemaphoreSlim> _gates = new();

    public async Task<IAsyncDisposable> AcquireAsync(RepoId repo, CancellationToken ct)
    {
        var gate = _gates.GetOrAdd(repo, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        return new Release(gate);
    }

    private sealed class Release(SemaphoreSlim gate) : IAsyncDisposable
    {
        private int _released;

        public ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release();
            return ValueTask.CompletedTask;
        }
    }
}
