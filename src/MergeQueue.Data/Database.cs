using System.Data.Common;
using Dapper;

namespace MergeQueue.Data;

/// <summary>How durable a write must be; SQLite tunes its pragmas by it, PostgreSQL commits every write durably.</summary>
public enum WriteMode
{
    /// <summary>Synced before the commit returns.</summary>
    Durable,
    /// <summary>Webhook intake's group commits: synced, but they leave checkpointing to the other writers.</summary>
    Intake,
    /// <summary>May be lost to a power cut (marks that only cause a repeat when lost).</summary>
    Relaxed,
}

/// <summary>
/// The database behind the stores: SQLite (the default, one instance) or PostgreSQL (any number of
/// instances sharing it; CONTRACT §1 <c>MergeQueue:Database:Provider</c>). Both run the same SQL:
/// the stores write the subset the two share, and each provider keeps its own migration history.
/// </summary>
public abstract class Database(TimeProvider? time)
{
    protected TimeProvider Time { get; } = time ?? TimeProvider.System;

    /// <summary>"sqlite" or "postgres", as in the setting.</summary>
    public abstract string Provider { get; }

    /// <summary>This provider's migrations, ascending.</summary>
    public abstract IReadOnlyList<Migration> Migrations { get; }

    /// <summary>The database for a provider setting and connection string.</summary>
    public static Database Create(string provider, string connectionString, TimeProvider? time = null, string? instanceId = null) =>
        provider.ToLowerInvariant() switch
        {
            "sqlite" => new SqliteDatabase(connectionString, time: time),
            "postgres" => new PostgresDatabase(connectionString, time, instanceId),
            _ => throw new InvalidOperationException($"MergeQueue:Database:Provider '{provider}' is not supported: use sqlite or postgres."),
        };

    /// <summary>
    /// SQL that <paramref name="column"/> is one of the list parameter <paramref name="parameter"/>:
    /// Dapper expands a list for SQLite, and passes an array to PostgreSQL.
    /// </summary>
    public abstract string In(string column, string parameter);

    /// <summary>SQL that <paramref name="column"/> (never NULL) is none of the list parameter <paramref name="parameter"/>.</summary>
    public abstract string NotIn(string column, string parameter);

    /// <summary>Opens a connection for reading (and for writes that need no gate).</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken ct = default);

    /// <summary>Opens a connection for a write transaction.</summary>
    public abstract Task<DbConnection> OpenWriteAsync(CancellationToken ct = default, WriteMode mode = WriteMode.Durable);

    /// <summary>Starts a write transaction that takes the write lock up front where the provider needs that.</summary>
    public abstract DbTransaction BeginWrite(DbConnection connection);

    /// <summary>A unique or primary key constraint refused the write.</summary>
    public abstract bool IsUniqueViolation(Exception e);

    /// <summary>The database is busy or unreachable right now: trying again later can help.</summary>
    public abstract bool IsUnavailable(Exception e);

    /// <summary>Applies every embedded migration not yet applied, in order.</summary>
    public Task MigrateAsync(CancellationToken ct = default) => MigrateAsync(Migrations, upTo: null, ct);

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
        // Instances starting together take turns: the first migrates, the others find it done.
        await using var turn = await LockMigrationsAsync(connection, ct);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                checksum   TEXT    NOT NULL,
                applied_at BIGINT  NOT NULL
            );
            """, cancellationToken: ct));

        foreach (var migration in migrations.OrderBy(m => m.Version))
        {
            if (upTo is { } last && migration.Version > last) break;

            await using var tx = BeginWrite(connection);
            // Read inside the write transaction: another process migrating at the same time either
            // finished this one already (we skip it) or waits for us.
            var applied = await connection.QuerySingleOrDefaultAsync<AppliedMigration>(new CommandDefinition(
                "SELECT version AS Version, checksum AS Checksum FROM schema_migrations WHERE version = @Version",
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
                // One command runs every statement of the script (both providers step through them).
                command.Transaction = tx;
                command.CommandText = migration.Sql;
                await command.ExecuteNonQueryAsync(ct);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (@Version, @Name, @Checksum, @AppliedAt)",
                new { migration.Version, migration.Name, migration.Checksum, AppliedAt = Time.GetUtcNow().ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }
    }

    /// <summary>Serialises migrating instances until disposed (SQLite's write transactions already do).</summary>
    protected virtual Task<IAsyncDisposable?> LockMigrationsAsync(DbConnection connection, CancellationToken ct) => Task.FromResult<IAsyncDisposable?>(null);

    /// <summary>SQL counting the tables named @Name (the schema_migrations probe).</summary>
    protected abstract string TableExistsSql { get; }

    /// <summary>Versions recorded in schema_migrations, ascending.</summary>
    public async Task<IReadOnlyList<int>> GetAppliedMigrationsAsync(CancellationToken ct = default)
    {
        await using var connection = await OpenAsync(ct);
        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(TableExistsSql, new { Name = "schema_migrations" }, cancellationToken: ct));
        if (exists == 0) return [];
        var versions = await connection.QueryAsync<int>(new CommandDefinition(
            "SELECT version FROM schema_migrations ORDER BY version", cancellationToken: ct));
        return versions.AsList();
    }

    /// <summary>A schema_migrations row (a class: Dapper converts the version's integer type into a property, not into a constructor).</summary>
    private sealed class AppliedMigration
    {
        public long Version { get; set; }
        public string Checksum { get; set; } = "";
    }
}
