using System.Data.Common;
using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;

namespace MergeQueue.Data;

/// <summary>
/// One SQLite database file: opens connections configured for a multi-writer service (WAL, a busy
/// timeout, foreign keys) and brings the schema up to date with the embedded migrations.
/// </summary>
public sealed class SqliteDatabase : Database
{
    /// <summary>How long a connection waits for another writer's lock before failing with SQLITE_BUSY.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(5);

    private readonly string _connectionString;
    private readonly int _busyTimeoutMs;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private int _walEnabled;

    public SqliteDatabase(string connectionString, TimeSpan? busyTimeout = null, TimeProvider? time = null) : base(time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
        _busyTimeoutMs = (int)(busyTimeout ?? DefaultBusyTimeout).TotalMilliseconds;
    }

    public override string Provider => "sqlite";

    public override IReadOnlyList<Migration> Migrations => Migration.Sqlite;

    public override string In(string column, string parameter) => $"{column} IN @{parameter}";

    public override string NotIn(string column, string parameter) => $"{column} NOT IN @{parameter}";

    /// <summary>A database in a file, with the connection string this class expects.</summary>
    public static SqliteDatabase ForFile(string path, TimeSpan? busyTimeout = null, TimeProvider? time = null) =>
        new(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate }.ToString(), busyTimeout, time);

    public string ConnectionString => _connectionString;

    /// <summary>
    /// Opens a connection for writing: the writers of this process take turns on an in-process gate
    /// (held until the connection is disposed), so they queue in memory and start the moment the last
    /// one is done. Left to SQLite's busy handler they would sleep in steps of up to 100 ms while the
    /// lock is already free again: intake's latency and throughput went with it. Other processes
    /// sharing the file still meet <see cref="DefaultBusyTimeout"/>.
    /// </summary>
    public override async Task<DbConnection> OpenWriteAsync(CancellationToken ct = default, WriteMode mode = WriteMode.Durable)
    {
        await _writeGate.WaitAsync(ct);
        return await OpenConfiguredAsync(new GatedConnection(_connectionString, _writeGate), mode, ct);
    }

    /// <summary>A connection that gives the write gate back when it is disposed.</summary>
    private sealed class GatedConnection(string connectionString, SemaphoreSlim gate) : SqliteConnection(connectionString)
    {
        private int _released;

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release();
        }
    }

    /// <summary>Opens a connection with the per-connection pragmas applied (pooled connections get them again: cheap, and safe if the pool was shared).</summary>
    public override Task<DbConnection> OpenAsync(CancellationToken ct = default) => OpenConfiguredAsync(new SqliteConnection(_connectionString), WriteMode.Durable, ct);

    private async Task<DbConnection> OpenConfiguredAsync(SqliteConnection connection, WriteMode mode, CancellationToken ct)
    {
        try
        {
            await ConfigureAsync(connection, ct);
            // Intake's commits do not also copy the log into the database file: every other writer
            // checkpoints as usual. A relaxed write has no fsync of its own: the next durable commit carries it.
            if (mode == WriteMode.Intake) await connection.ExecuteAsync(new CommandDefinition("PRAGMA wal_autocheckpoint=0;", cancellationToken: ct));
            else if (mode == WriteMode.Relaxed) await connection.ExecuteAsync(new CommandDefinition("PRAGMA synchronous=NORMAL;", cancellationToken: ct));
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task ConfigureAsync(SqliteConnection connection, CancellationToken ct)
    {
        await connection.OpenAsync(ct);
        // journal_mode is stored in the file, so one successful switch per process is enough;
        // busy_timeout and foreign_keys are per connection and must be set every time.
        if (Volatile.Read(ref _walEnabled) == 0)
        {
            var mode = await connection.ExecuteScalarAsync<string>(new CommandDefinition("PRAGMA journal_mode=WAL;", cancellationToken: ct));
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException($"SQLite refused WAL mode (got '{mode}'); an in-memory database cannot use it.");
            Volatile.Write(ref _walEnabled, 1);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            // synchronous=FULL: in WAL mode SQLite's default (NORMAL in some builds) may lose the last
            // commits on power loss; an accepted delivery must survive that. Set explicitly, per connection.
            // wal_autocheckpoint: back to SQLite's default, for a pooled connection that intake set otherwise.
            $"PRAGMA busy_timeout={_busyTimeoutMs.ToString(CultureInfo.InvariantCulture)}; PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=1000;",
            cancellationToken: ct));
    }

    /// <summary>
    /// Starts a write transaction with BEGIN IMMEDIATE: it takes the write lock up front, so two
    /// writers queue on busy_timeout instead of both reading under a shared lock and then
    /// deadlocking when each tries to upgrade (which SQLite resolves by failing one with SQLITE_BUSY).
    /// </summary>
    public override DbTransaction BeginWrite(DbConnection connection) => ((SqliteConnection)connection).BeginTransaction(deferred: false);

    public override bool IsUniqueViolation(Exception e) =>
        e is SqliteException { SqliteExtendedErrorCode: SqliteErrorCodes.ConstraintUnique or SqliteErrorCodes.ConstraintPrimaryKey };

    /// <summary>SQLITE_BUSY or SQLITE_LOCKED: another process holds the lock past the busy timeout.</summary>
    public override bool IsUnavailable(Exception e) => e is SqliteException { SqliteErrorCode: 5 or 6 };

    protected override string TableExistsSql => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @Name";
}

/// <summary>The extended result codes of SQLite that the store tells apart.</summary>
internal static class SqliteErrorCodes
{
    public const int ConstraintPrimaryKey = 1555; // SQLITE_CONSTRAINT_PRIMARYKEY
    public const int ConstraintUnique = 2067;     // SQLITE_CONSTRAINT_UNIQUE
}
