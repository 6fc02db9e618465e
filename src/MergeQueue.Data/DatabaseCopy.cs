using System.Data.Common;
using System.Globalization;
using System.Text;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace MergeQueue.Data;

/// <summary>A table <see cref="DatabaseCopy"/> copied, with the rows it holds on both sides.</summary>
public sealed record CopiedTable(string Name, long Rows);

/// <summary>The copy did not start, and wrote nothing to the target: the message says why.</summary>
public sealed class CopyRefusedException(string message) : Exception(message);

/// <summary>
/// Copies a SQLite installation's data into a PostgreSQL database (<c>migrate-db</c>; docs/operations.md,
/// "Moving from SQLite to PostgreSQL"). Both sides are migrated to their latest schema first, so an older
/// installation works. Then one PostgreSQL transaction copies every table in foreign-key order, ids as
/// they are, moves the identity sequences past them, and commits only if every table holds as many rows
/// as the source: a failure leaves the target empty. The source is read in one read transaction (a
/// consistent snapshot, while the service may still write to it).
/// </summary>
/// <remarks>
/// Tables and columns are found in the schemas rather than listed here: the two providers' migrations
/// give them the same names, and a table added to both is copied without touching this class.
/// </remarks>
public sealed class DatabaseCopy(SqliteDatabase source, PostgresDatabase target)
{
    /// <summary>Rows per INSERT.</summary>
    public const int BatchSize = 1000;

    /// <summary>
    /// Not copied: each provider keeps its own migration history, and instances and leases describe the
    /// processes running on the source, not data (the target's instances make their own).
    /// </summary>
    public static readonly IReadOnlySet<string> NotCopied = new HashSet<string>(StringComparer.Ordinal) { "schema_migrations", "lease", "service_instance" };

    /// <summary>Counters whose single row the target's migration seeds with 0: replaced by the source's row, and not counted as data.</summary>
    private static readonly Dictionary<string, string> SeededCounters = new(StringComparer.Ordinal)
    {
        ["attempt_sequence"] = "value",
        ["notification_cursor"] = "last_event_id",
    };

    // PostgreSQL takes at most 65,535 parameters per statement.
    private const int MaxParameters = 65_535;

    /// <summary>Copies everything, or refuses (<see cref="CopyRefusedException"/>) when the target already holds data.</summary>
    /// <returns>The tables copied, in the order they were.</returns>
    public async Task<IReadOnlyList<CopiedTable>> CopyAsync(CancellationToken ct = default)
    {
        await RefuseForeignSourceAsync(ct);
        await RefuseForeignTargetAsync(ct);
        await source.MigrateAsync(ct);
        await target.MigrateAsync(ct);

        await using var from = new SqliteConnection(ReadOnlySource);
        await from.OpenAsync(ct);
        // Deferred: the snapshot starts with the first read and every later read sees the same one.
        await using var snapshot = from.BeginTransaction(deferred: true);
        var tables = await SourceTablesAsync(from, snapshot, ct);
        var highWaterMarks = await AutoincrementHighWaterMarksAsync(from, snapshot, ct);

        await using var to = (NpgsqlConnection)await target.OpenAsync(ct);
        await using var tx = await to.BeginTransactionAsync(ct);
        var targetColumns = await TargetColumnsAsync(to, tx, ct);
        var columns = tables.ToDictionary(t => t.Name, t => MatchColumns(t, targetColumns));

        // Nobody else writes these tables until the copy commits or rolls back: an instance started on the target
        // too early waits for it, and a write of one that stays open over 10 s makes the copy give up rather than wait.
        await to.ExecuteAsync(new CommandDefinition(
            $"SET LOCAL lock_timeout = '10s'; LOCK TABLE {string.Join(", ", tables.Select(t => Quote(t.Name)))} IN EXCLUSIVE MODE",
            transaction: tx, cancellationToken: ct));
        await RefuseDataInTargetAsync(to, tx, tables, ct);
        foreach (var (table, column) in SeededCounters.Where(c => columns.ContainsKey(c.Key)))
            await to.ExecuteAsync(new CommandDefinition($"DELETE FROM {Quote(table)} WHERE {Quote(column)} = 0", transaction: tx, cancellationToken: ct));

        var copied = new List<CopiedTable>();
        var mismatches = new List<string>();
        foreach (var table in tables)
        {
            var inserted = await CopyTableAsync(from, snapshot, to, tx, table.Name, columns[table.Name], ct);
            await MoveIdentitiesPastAsync(to, tx, table.Name, columns[table.Name], highWaterMarks.GetValueOrDefault(table.Name), ct);
            var sourceRows = await CountAsync(from, snapshot, table.Name, ct);
            var targetRows = await CountAsync(to, tx, table.Name, ct);
            if (sourceRows != targetRows || inserted != sourceRows)
                mismatches.Add($"{table.Name}: {sourceRows} rows in SQLite, {inserted} copied, {targetRows} in PostgreSQL");
            copied.Add(new CopiedTable(table.Name, targetRows));
        }
        if (mismatches.Count > 0)
            throw new InvalidOperationException($"The row counts differ, so nothing was committed: {string.Join("; ", mismatches)}.");

        await tx.CommitAsync(ct);
        return copied;
    }

    /// <summary>The source, opened so that the copy cannot write to it (and not pooled: the file is the user's again once the copy ends).</summary>
    private string ReadOnlySource => new SqliteConnectionStringBuilder(source.ConnectionString) { Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();

    /// <summary>A file that is not a MergeQueue database would get our tables written into it by the migration.</summary>
    private async Task RefuseForeignSourceAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = new SqliteConnection(ReadOnlySource);
            await connection.OpenAsync(ct);
            var isOurs = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", cancellationToken: ct));
            if (isOurs == 0)
                throw new CopyRefusedException($"{connection.DataSource} is not a MergeQueue database (it has no schema_migrations table).");
            var newest = await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT max(version) FROM schema_migrations", cancellationToken: ct));
            if (newest > source.Migrations[^1].Version)
                throw new CopyRefusedException(
                    $"{connection.DataSource} has SQLite migration {newest}, newer than this MergeQueue knows ({source.Migrations[^1].Version}): run migrate-db from the version the service runs.");
        }
        catch (SqliteException e)
        {
            throw new CopyRefusedException($"The source cannot be read as a SQLite database: {e.Message}");
        }
    }

    /// <summary>The target must be empty or MergeQueue's: the migration would otherwise add our tables to someone else's database.</summary>
    private async Task RefuseForeignTargetAsync(CancellationToken ct)
    {
        await using var connection = await target.OpenAsync(ct);
        var tables = (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name", cancellationToken: ct))).AsList();
        if (tables.Count > 0 && !tables.Contains("schema_migrations"))
            throw new CopyRefusedException(
                $"The target database holds tables that are not MergeQueue's ({string.Join(", ", tables.Take(5))}{(tables.Count > 5 ? ", …" : "")}): give migrate-db an empty database.");
    }

    private static async Task RefuseDataInTargetAsync(NpgsqlConnection to, NpgsqlTransaction tx, IReadOnlyList<SourceTable> tables, CancellationToken ct)
    {
        var holding = new List<string>();
        foreach (var table in tables)
        {
            var rows = await to.ExecuteScalarAsync<long>(new CommandDefinition(
                SeededCounters.TryGetValue(table.Name, out var column)
                    ? $"SELECT count(*) FROM {Quote(table.Name)} WHERE {Quote(column)} <> 0"
                    : $"SELECT count(*) FROM {Quote(table.Name)}",
                transaction: tx, cancellationToken: ct));
            if (rows > 0) holding.Add($"{table.Name} ({rows} rows)");
        }
        if (holding.Count > 0)
            throw new CopyRefusedException(
                $"The target database already holds data: {string.Join(", ", holding)}. migrate-db copies into an empty database only, so nothing was written; " +
                "create a new database (or drop this one's tables) and run it again.");
    }

    /// <summary>A source table: its columns in order and the tables its foreign keys point at.</summary>
    private sealed record SourceTable(string Name, IReadOnlyList<string> Columns, IReadOnlyList<string> References);

    /// <summary>A target column and the PostgreSQL type a value is converted to.</summary>
    private sealed record Column(string Name, string DataType, bool IsIdentity)
    {
        public NpgsqlDbType Type => DataType switch
        {
            "bigint" => NpgsqlDbType.Bigint,
            "integer" => NpgsqlDbType.Integer,
            "text" => NpgsqlDbType.Text,
            _ => throw new InvalidOperationException($"Column {Name} is {DataType} in PostgreSQL, a type migrate-db does not convert to."),
        };
    }

    /// <summary>The source's tables to copy, each after the tables it references.</summary>
    private static async Task<IReadOnlyList<SourceTable>> SourceTablesAsync(SqliteConnection from, SqliteTransaction snapshot, CancellationToken ct)
    {
        var names = await from.QueryAsync<string>(new CommandDefinition(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", transaction: snapshot, cancellationToken: ct));
        var tables = new Dictionary<string, SourceTable>(StringComparer.Ordinal);
        foreach (var name in names.Where(n => !NotCopied.Contains(n)))
        {
            var columns = await from.QueryAsync<string>(new CommandDefinition(
                "SELECT name FROM pragma_table_info(@name) ORDER BY cid", new { name }, snapshot, cancellationToken: ct));
            var references = await from.QueryAsync<string>(new CommandDefinition(
                "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(@name)", new { name }, snapshot, cancellationToken: ct));
            tables[name] = new SourceTable(name, columns.AsList(), references.AsList());
        }

        var ordered = new List<SourceTable>();
        var placed = new HashSet<string>(StringComparer.Ordinal);
        void Place(SourceTable table)
        {
            if (!placed.Add(table.Name)) return;
            foreach (var parent in table.References.Where(tables.ContainsKey)) Place(tables[parent]);
            ordered.Add(table);
        }
        foreach (var table in tables.Values) Place(table);
        return ordered;
    }

    private static async Task<ILookup<string, Column>> TargetColumnsAsync(NpgsqlConnection to, NpgsqlTransaction tx, CancellationToken ct)
    {
        var rows = await to.QueryAsync<(string Table, string Name, string DataType, string IsIdentity)>(new CommandDefinition(
            """
            SELECT table_name, column_name, data_type, is_identity FROM information_schema.columns
            WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
            """, transaction: tx, cancellationToken: ct));
        return rows.ToLookup(r => r.Table, r => new Column(r.Name, r.DataType, r.IsIdentity == "YES"), StringComparer.Ordinal);
    }

    /// <summary>The target's columns for the source's, in the source's order; a column PostgreSQL lacks is a schema drift, not something to drop.</summary>
    private static IReadOnlyList<Column> MatchColumns(SourceTable table, ILookup<string, Column> targetColumns)
    {
        if (!targetColumns.Contains(table.Name))
            throw new InvalidOperationException($"Table {table.Name} is in the SQLite database but not in PostgreSQL's schema.");
        var byName = targetColumns[table.Name].ToDictionary(c => c.Name, StringComparer.Ordinal);
        var missing = table.Columns.Where(c => !byName.ContainsKey(c)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"Table {table.Name} has columns PostgreSQL's schema lacks: {string.Join(", ", missing)}.");
        return table.Columns.Select(c => byName[c]).ToList();
    }

    private static async Task<long> CopyTableAsync(
        SqliteConnection from, SqliteTransaction snapshot, NpgsqlConnection to, NpgsqlTransaction tx, string table, IReadOnlyList<Column> columns, CancellationToken ct)
    {
        await using var read = from.CreateCommand();
        read.Transaction = snapshot;
        read.CommandText = $"SELECT {string.Join(", ", columns.Select(c => Quote(c.Name)))} FROM {Quote(table)}";
        await using var reader = await read.ExecuteReaderAsync(ct);

        var rowsPerBatch = Math.Min(BatchSize, MaxParameters / columns.Count);
        var batch = new List<object[]>(rowsPerBatch);
        long copied = 0;
        while (await reader.ReadAsync(ct))
        {
            var row = new object[columns.Count];
            for (var i = 0; i < columns.Count; i++) row[i] = Convert(reader.GetValue(i), table, columns[i]);
            batch.Add(row);
            if (batch.Count < rowsPerBatch) continue;
            copied += await InsertAsync(to, tx, table, columns, batch, ct);
            batch.Clear();
        }
        if (batch.Count > 0) copied += await InsertAsync(to, tx, table, columns, batch, ct);
        return copied;
    }

    /// <summary>SQLite's integers go to bigint or integer columns, text stays text; anything else is refused by name rather than guessed at.</summary>
    private static object Convert(object value, string table, Column column) => (value, column.Type) switch
    {
        (DBNull, _) => DBNull.Value,
        (long n, NpgsqlDbType.Bigint) => n,
        (long n, NpgsqlDbType.Integer) when n is >= int.MinValue and <= int.MaxValue => (int)n,
        (string s, NpgsqlDbType.Text) => s,
        _ => throw new InvalidOperationException(
            $"{table}.{column.Name} holds {System.Convert.ToString(value, CultureInfo.InvariantCulture)} ({value.GetType().Name}), which does not fit PostgreSQL's {column.DataType}."),
    };

    private static async Task<int> InsertAsync(
        NpgsqlConnection to, NpgsqlTransaction tx, string table, IReadOnlyList<Column> columns, List<object[]> rows, CancellationToken ct)
    {
        var sql = new StringBuilder($"INSERT INTO {Quote(table)} ({string.Join(", ", columns.Select(c => Quote(c.Name)))}) VALUES ");
        await using var insert = new NpgsqlCommand { Connection = to, Transaction = tx };
        for (var r = 0; r < rows.Count; r++)
        {
            sql.Append(r == 0 ? "(" : ", (");
            for (var c = 0; c < columns.Count; c++)
            {
                insert.Parameters.Add(new NpgsqlParameter { Value = rows[r][c], NpgsqlDbType = columns[c].Type });
                sql.Append(c == 0 ? "$" : ", $").Append(insert.Parameters.Count.ToString(CultureInfo.InvariantCulture));
            }
            sql.Append(')');
        }
        insert.CommandText = sql.ToString();
        return await insert.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The copied ids were given, not drawn: the identity sequence moves past them, and past SQLite's
    /// AUTOINCREMENT high-water mark too, so an id of a row deleted since (event_log after retention,
    /// which the notification cursor may still point past) is never handed out again.
    /// </summary>
    private static async Task MoveIdentitiesPastAsync(
        NpgsqlConnection to, NpgsqlTransaction tx, string table, IReadOnlyList<Column> columns, long highWaterMark, CancellationToken ct)
    {
        foreach (var identity in columns.Where(c => c.IsIdentity))
        {
            var max = await to.ExecuteScalarAsync<long?>(new CommandDefinition(
                $"SELECT max({Quote(identity.Name)}) FROM {Quote(table)}", transaction: tx, cancellationToken: ct)) ?? 0;
            var last = Math.Max(max, highWaterMark);
            if (last > 0)
                await to.ExecuteAsync(new CommandDefinition(
                    "SELECT setval(pg_get_serial_sequence(@table, @column), @last)", new { table, column = identity.Name, last }, tx, cancellationToken: ct));
        }
    }

    /// <summary>The largest id each AUTOINCREMENT table ever handed out (sqlite_sequence), by table.</summary>
    private static async Task<Dictionary<string, long>> AutoincrementHighWaterMarksAsync(SqliteConnection from, SqliteTransaction snapshot, CancellationToken ct)
    {
        var exists = await from.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'", transaction: snapshot, cancellationToken: ct));
        if (exists == 0) return new(StringComparer.Ordinal);
        var rows = await from.QueryAsync<(string Name, long Seq)>(new CommandDefinition(
            "SELECT name, seq FROM sqlite_sequence", transaction: snapshot, cancellationToken: ct));
        return rows.ToDictionary(r => r.Name, r => r.Seq, StringComparer.Ordinal);
    }

    private static Task<long> CountAsync(DbConnection connection, DbTransaction tx, string table, CancellationToken ct) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition($"SELECT count(*) FROM {Quote(table)}", transaction: tx, cancellationToken: ct));

    // Names come from the schemas, not from input; quoted because some are keywords (timestamp, trigger).
    private static string Quote(string name) => $"\"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}
