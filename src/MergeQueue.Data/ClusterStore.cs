using Dapper;

namespace MergeQueue.Data;

/// <summary>A running instance as its last heartbeat left it.</summary>
public sealed record InstanceRecord(string Id, string Host, DateTimeOffset StartedAt, DateTimeOffset HeartbeatAt);

/// <summary>A named claim held by one instance until it expires.</summary>
public sealed record LeaseRecord(string Name, string Holder, DateTimeOffset AcquiredAt, DateTimeOffset ExpiresAt);

/// <summary>
/// The instances sharing the database and the leases they hold (a repository's delivery lane, the
/// notifier). A lease is a row: its holder renews it while it works and releases it when done; once
/// it expired (its holder died or hung) any instance may take it over. Works the same on SQLite
/// (one instance) and PostgreSQL (many).
/// </summary>
public sealed class ClusterStore(Database database, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Records that the instance is alive (and when it started, the first time).</summary>
    public async Task HeartbeatAsync(string instance, string host, DateTimeOffset startedAt, CancellationToken ct = default)
    {
        await using var connection = await database.OpenWriteAsync(ct, WriteMode.Relaxed);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO service_instance (id, host, started_at, heartbeat_at) VALUES (@instance, @host, @started, @now)
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
            """,
            new { instance, host, started = startedAt.ToUnixTimeMilliseconds(), now = Now }, cancellationToken: ct));
    }

    /// <summary>Instances whose heartbeat is newer than <paramref name="since"/>, by start time.</summary>
    public async Task<IReadOnlyList<InstanceRecord>> GetInstancesAsync(DateTimeOffset since, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(string, string, long, long)>(new CommandDefinition(
            "SELECT id, host, started_at, heartbeat_at FROM service_instance WHERE heartbeat_at >= @since ORDER BY started_at, id",
            new { since = since.ToUnixTimeMilliseconds() }, cancellationToken: ct));
        return rows.Select(r => new InstanceRecord(r.Item1, r.Item2, At(r.Item3), At(r.Item4))).ToList();
    }

    /// <summary>Forgets instances silent since before <paramref name="before"/> (they are gone).</summary>
    public async Task<int> ForgetInstancesAsync(DateTimeOffset before, CancellationToken ct = default)
    {
        await using var connection = await database.OpenWriteAsync(ct, WriteMode.Relaxed);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM service_instance WHERE heartbeat_at < @before", new { before = before.ToUnixTimeMilliseconds() }, cancellationToken: ct));
    }

    /// <summary>
    /// Takes the lease for <paramref name="holder"/> for <paramref name="ttl"/>, or renews it when the
    /// holder has it already; false while another holder's lease has not expired. One statement, so
    /// two instances racing for a free lease cannot both win.
    /// </summary>
    public async Task<bool> TryAcquireAsync(string name, string holder, TimeSpan ttl, CancellationToken ct = default)
    {
        var now = Now;
        await using var connection = await database.OpenWriteAsync(ct, WriteMode.Relaxed);
        return await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO lease (name, holder, acquired_at, expires_at) VALUES (@name, @holder, @now, @expires)
            ON CONFLICT (name) DO UPDATE SET
                acquired_at = CASE WHEN lease.holder = excluded.holder THEN lease.acquired_at ELSE excluded.acquired_at END,
                holder = excluded.holder, expires_at = excluded.expires_at
            WHERE lease.holder = excluded.holder OR lease.expires_at < excluded.acquired_at
            """,
            new { name, holder, now, expires = now + (long)ttl.TotalMilliseconds }, cancellationToken: ct)) == 1;
    }

    /// <summary>Gives the lease up (only its holder can).</summary>
    public async Task ReleaseAsync(string name, string holder, CancellationToken ct = default)
    {
        await using var connection = await database.OpenWriteAsync(ct, WriteMode.Relaxed);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM lease WHERE name = @name AND holder = @holder", new { name, holder }, cancellationToken: ct));
    }

    /// <summary>Drops every lease: for a start on SQLite, where no other instance can hold one.</summary>
    public async Task ReleaseAllAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenWriteAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("DELETE FROM lease", cancellationToken: ct));
    }

    /// <summary>Leases not yet expired, by name.</summary>
    public async Task<IReadOnlyList<LeaseRecord>> GetLeasesAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(string, string, long, long)>(new CommandDefinition(
            "SELECT name, holder, acquired_at, expires_at FROM lease WHERE expires_at >= @now ORDER BY name",
            new { now = Now }, cancellationToken: ct));
        return rows.Select(r => new LeaseRecord(r.Item1, r.Item2, At(r.Item3), At(r.Item4))).ToList();
    }

    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
