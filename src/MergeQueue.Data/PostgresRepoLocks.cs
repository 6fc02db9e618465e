using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Data;

/// <summary>
/// The repository lock of instances sharing a PostgreSQL database: the process's own semaphore
/// first (flows of this process queue in memory, holding no connection), then an advisory lock in
/// the database for the flow's length. A dead instance's locks end with its session.
/// </summary>
public sealed class PostgresRepoLocks(PostgresDatabase database) : IRepoLocks
{
    private readonly InProcessRepoLocks _local = new();

    /// <summary>The advisory lock's name for a repository (the cluster view shows it).</summary>
    public static string LockName(RepoId repo) => $"repo:{repo.Owner}/{repo.Name}".ToLowerInvariant();

    public async Task<IAsyncDisposable> AcquireAsync(RepoId repo, CancellationToken ct)
    {
        var local = await _local.AcquireAsync(repo, ct);
        try
        {
            return new Both(await database.LockAsync(LockName(repo), ct), local);
        }
        catch
        {
            await local.DisposeAsync();
            throw;
        }
    }

    private sealed class Both(IAsyncDisposable shared, IAsyncDisposable local) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await shared.DisposeAsync();
            }
            finally
            {
                await local.DisposeAsync();
            }
        }
    }
}
