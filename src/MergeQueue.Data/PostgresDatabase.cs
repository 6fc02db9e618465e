using System.Collections.Concurrent;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;

namespace MergeQueue.Data;

/// <summary>
/// A PostgreSQL database shared by any number of instances (<c>MergeQueue:Database:Provider=postgres</c>).
/// Connections come from one pooled data source; each carries the instance id as its application
/// name, so the cluster view can tell which instance holds which lock.
/// </summary>
public sealed class PostgresDatabase : Database, IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;
    private readonly ConcurrentDictionary<long, bool> _namedKeys = new();

    public PostgresDatabase(string connectionString, TimeProvider? time = null, string? instanceId = null) : base(time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (instanceId is not null) builder.ApplicationName = instanceId;
        ConnectionString = builder.ConnectionString;
        _source = NpgsqlDataSource.Create(builder);
    }

    public string ConnectionString { get; }

    public override string Provider => "postgres";

    public override IReadOnlyList<Migration> Migrations => Migration.Postgres;

    public override string In(string column, string parameter) => $"{column} = ANY(@{parameter})";

    public override string NotIn(string column, string parameter) => $"NOT ({column} = ANY(@{parameter}))";

    public override async Task<DbConnection> OpenAsync(CancellationToken ct = default) => await _source.OpenConnectionAsync(ct);

    /// <summary>Every commit is durable (the server's synchronous_commit decides); the mode only matters to SQLite.</summary>
    public override Task<DbConnection> OpenWriteAsync(CancellationToken ct = default, WriteMode mode = WriteMode.Durable) => OpenAsync(ct);

    /// <summary>READ COMMITTED: the stores' writes check versions or use single-statement upserts, so they need no more.</summary>
    public override DbTransaction BeginWrite(DbConnection connection) => connection.BeginTransaction();

    public override bool IsUniqueViolation(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override bool IsUnavailable(Exception e) => e is NpgsqlException { IsTransient: true };

    protected override string TableExistsSql =>
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = @Name";

    protected override async Task<IAsyncDisposable?> LockMigrationsAsync(DbConnection connection, CancellationToken ct)
    {
        var key = KeyOf("migrations");
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key }, commandTimeout: 0, cancellationToken: ct));
        return new Unlock(connection, key, ownsConnection: false);
    }

    /// <summary>
    /// Holds the advisory lock named <paramref name="name"/> on a connection of its own until disposed,
    /// waiting for whoever holds it. An instance that dies holds nothing: the server ends its session,
    /// and with it the lock.
    /// </summary>
    public async Task<IAsyncDisposable> LockAsync(string name, CancellationToken ct = default)
    {
        var key = KeyOf(name);
        var connection = await _source.OpenConnectionAsync(ct);
        try
        {
            if (_namedKeys.TryAdd(key, true))
                // The cluster view names the locks it finds by this table.
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO advisory_lock_name (key, name) VALUES (@key, @name) ON CONFLICT (key) DO NOTHING",
                    new { key, name }, cancellationToken: ct));
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key }, commandTimeout: 0, cancellationToken: ct));
            return new Unlock(connection, key, ownsConnection: true);
        }
        catch
        {
            _namedKeys.TryRemove(key, out _);
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Advisory locks held right now: which instance (application name) holds which named lock.</summary>
    public async Task<IReadOnlyList<(string Holder, string Name)>> GetHeldLocksAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        var rows = await connection.QueryAsync<(string, string)>(new CommandDefinition(
            """
            SELECT a.application_name, coalesce(n.name, '#' || ((l.classid::bigint << 32) | l.objid::bigint)::text)
            FROM pg_locks l
            JOIN pg_stat_activity a ON a.pid = l.pid
            LEFT JOIN advisory_lock_name n ON n.key = ((l.classid::bigint << 32) | l.objid::bigint)
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY 2
            """, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>A lock name's 64-bit advisory key: the first 8 bytes of its SHA-256.</summary>
    internal static long KeyOf(string name) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("mergequeue:" + name.ToLowerInvariant())), 0);

    public ValueTask DisposeAsync() => _source.DisposeAsync();

    private sealed class Unlock(DbConnection connection, long key, bool ownsConnection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key });
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                // The connection broke: the server ended the session and its locks with it. Do not put it back in the pool.
                if (connection is NpgsqlConnection npgsql) NpgsqlConnection.ClearPool(npgsql);
            }
            finally
            {
                if (ownsConnection) await connection.DisposeAsync();
            }
        }
    }
}
