using MergeQueue.Data;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Cluster;

/// <summary>
/// This instance as a member of the cluster: its id, its heartbeat in <c>service_instance</c>, and the
/// leases it takes through <see cref="ClusterStore"/>. Leases and heartbeats run on real time, even
/// when the queue's clock is faked (tests), because they are about processes being alive.
/// </summary>
public sealed class ClusterMember(ClusterStore store, Database database, IOptions<ServiceOptions> options, ILogger<ClusterMember> logger) : BackgroundService
{
    /// <summary>Prefix of a repository's delivery lane lease: <c>lane:owner/repo</c>.</summary>
    public const string LanePrefix = "lane:";

    public string InstanceId { get; } = options.Value.Cluster.InstanceId is { Length: > 0 } id ? id : NewInstanceId();

    public DateTimeOffset StartedAt { get; } = TimeProvider.System.GetUtcNow();

    public TimeSpan LeaseTimeout => options.Value.Cluster.LeaseTimeout;

    /// <summary>The host name and a random suffix: a restarted process is a new member.</summary>
    public static string NewInstanceId() => $"{Environment.MachineName}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";

    /// <summary>Takes or renews a lease for this instance; false while another instance holds it.</summary>
    public Task<bool> TryLeaseAsync(string name, CancellationToken ct) => store.TryAcquireAsync(name, InstanceId, LeaseTimeout, ct);

    public Task ReleaseAsync(string name, CancellationToken ct) => store.ReleaseAsync(name, InstanceId, ct);

    /// <summary>Instances heard from within three heartbeats.</summary>
    public Task<IReadOnlyList<InstanceRecord>> LiveInstancesAsync(CancellationToken ct) =>
        store.GetInstancesAsync(TimeProvider.System.GetUtcNow() - 3 * options.Value.Cluster.Heartbeat, ct);

    public Task<IReadOnlyList<LeaseRecord>> LeasesAsync(CancellationToken ct) => store.GetLeasesAsync(ct);

    /// <summary>Advisory locks held across the cluster (PostgreSQL), by holder; none with SQLite's in-process locks.</summary>
    public async Task<IReadOnlyList<(string Holder, string Name)>> LocksAsync(CancellationToken ct) =>
        database is PostgresDatabase postgres ? await postgres.GetHeldLocksAsync(ct) : [];

    /// <summary>Before serving: with SQLite no other instance can hold a lease, so a crashed run's leases go at once.</summary>
    public async Task JoinAsync(CancellationToken ct)
    {
        if (database is SqliteDatabase) await store.ReleaseAllAsync(ct);
        await store.HeartbeatAsync(InstanceId, Environment.MachineName, StartedAt, ct);
        logger.LogInformation("Instance {InstanceId} joined ({Provider} database)", InstanceId, database.Provider);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var beats = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await store.HeartbeatAsync(InstanceId, Environment.MachineName, StartedAt, stoppingToken);
                // Now and then, forget instances silent for an hour: the view lists the living.
                if (beats++ % 100 == 0) await store.ForgetInstancesAsync(TimeProvider.System.GetUtcNow().AddHours(-1), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Heartbeat of instance {InstanceId} failed", InstanceId);
            }
            await Task.Delay(options.Value.Cluster.Heartbeat, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
