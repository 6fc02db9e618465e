using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;

namespace MergeQueue.Data;

/// <summary>
/// One SQLite database file: opens connections configured for a multi-writer service (WAL, a busy
/// timeout, foreign keys) and brings the schema up to date with the embedded migrations.
/// </summary>
public sealed class SqliteDatabase
{
    /// <summary>How long a connection waits for another writer's lock before failing with SQLITE_BUSY.</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(5);

    private readonly string _connectionString;
    private readonly int _busyTimeoutMs;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private int _walEnabled;

    public SqliteDatabase(string connectionString, TimeSpan? busyTimeout = null, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
        _busyTimeoutMs = (int)(busyTimeout ?? DefaultBusyTimeout).TotalMilliseconds;
        _time = time ?? TimeProvider.System;
    }

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
    public async Task<SqliteConnection> OpenWriteAsync(CancellationToken ct = default)
    {
        await _writeGate.WaitAsync(ct);
        var connection = new GatedConnection(_connectionString, _writeGate);
        try
        {
            await ConfigureAsync(connection, ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
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
    public async Task<SqliteConnection> OpenAsync(CancellationToken ct = default)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await ConfigureAsync(connection, ct);
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
    internal static SqliteTransaction BeginWrite(SqliteConnection connection) => connection.BeginTransaction(deferred: false);

    /// <summary>Applies every embedded migration not yet applied, in order.</summary>
    public Task MigrateAsync(CancellationToken ct = default) => MigrateAsync(Migration.Embedded, upTo: null, ct);

    /// <summary>
    /// Applies <paramref name="migrations"/> (up to version <paramref name="upTo"/>) not yet recorded in
    /// schema_migrations, each in its own transaction together with its record, so a failed migration
    /// leaves the previous ones applied and itself not at all. Refuses to run when an applied migration's
    /// text changed: landed migrations must never be edited.
    /// </summary>
    internal async Task MigrateAsync(IReadOnlyList<Migration> migrations, int? upTo, CancellationToken ct)
    {
        Migration.Validate(migrations);
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                checksum   TEXT    NOT NULL,
                applied_at INTEGER NOT NULL
            );
            """, cancellationToken: ct));

        foreach (var migration in migrations.OrderBy(m => m.Version))
        {
            if (upTo is { } last && migration.Version > last) break;

            await using var tx = BeginWrite(connection);
            // Read inside the write transaction: another process migrating at the same time either
            // finished this one already (we skip it) or waits for us.
            var applied = await connection.QuerySingleOrDefaultAsync<AppliedMigration>(new CommandDefinition(
                "SELECT version AS Version, name AS Name, checksum AS Checksum FROM schema_migrations WHERE version = @Version",
                new { migration.Version }, tx, cancellationToken: ct));
            if (applied is not null)
            {
                if (applied.Checksum != migration.Checksum)
                    throw new InvalidOperationException(
                        $"Migration {migration.Version} ({migration.Name}) changed after it was applied (checksum {applied.Checksum} in the database, " +
                        $"{migration.Checksum} now). Landed migrations must not be edited: add a new one.");
                await tx.RollbackAsync(ct);
                continue;
            }

            await using (var command = connection.CreateCommand())
            {
                // One command runs every statement of the script (Microsoft.Data.Sqlite steps through them).
                command.Transaction = tx;
                command.CommandText = migration.Sql;
                await command.ExecuteNonQueryAsync(ct);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (@Version, @Name, @Checksum, @AppliedAt)",
                new { migration.Version, migration.Name, migration.Checksum, AppliedAt = _time.GetUtcNow().ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }
    }

    /// <summary>Versions recorded in schema_migrations, ascending.</summary>
    public async Task<IReadOnlyList<int>> GetAppliedMigrationsAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", cancellationToken: ct));
        if (exists == 0) return [];
        var versions = await connection.QueryAsync<int>(new CommandDefinition(
            "SELECT version FROM schema_migrations ORDER BY version", cancellationToken: ct));
        return versions.AsList();
    }

    private sealed record AppliedMigration(long Version, string Name, string Checksum);
}

/// <summary>One numbered SQL migration: <c>Migrations/NNNN_name.sql</c>.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    private const string ResourcePrefix = "Migrations/";

    /// <summary>SHA-256 of the script, recorded when applied, to catch a landed migration being edited.</summary>
    /// <remarks>Computed on each read, not stored: a <c>with</c> copy must not carry the old script's checksum.</remarks>
    public string Checksum => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Normalize(Sql))));

    /// <summary>The migrations embedded in this assembly, ascending.</summary>
    public static IReadOnlyList<Migration> Embedded { get; } = LoadEmbedded();

    /// <summary>Parses <c>NNNN_name.sql</c>.</summary>
    public static Migration FromFile(string fileName, string sql)
    {
        var stem = Path.GetFileNameWithoutExtension(fileName);
        var underscore = stem.IndexOf('_');
        if (underscore <= 0 || !int.TryParse(stem.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version <= 0)
            throw new FormatException($"Migration '{fileName}' is not named NNNN_name.sql.");
        return new Migration(version, stem[(underscore + 1)..], sql);
    }

    internal static void Validate(IReadOnlyList<Migration> migrations)
    {
        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidOperationException($"Two migrations are numbered {duplicate.Key}: {string.Join(", ", duplicate.Select(m => m.Name))}.");
    }

    // Line endings depend on how git checked the file out; they must not make a landed migration look edited.
    private static string Normalize(string sql) => sql.Replace("\r\n", "\n", StringComparison.Ordinal);

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(Migration).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded resource '{resource}' vanished.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(FromFile(resource[ResourcePrefix.Length..], reader.ReadToEnd()));
        }

        Validate(migrations);
        return migrations.OrderBy(m => m.Version).ToList();
    }
}
