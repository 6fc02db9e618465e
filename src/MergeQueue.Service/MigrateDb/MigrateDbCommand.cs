using System.Data.Common;
using MergeQueue.Data;
using Npgsql;

namespace MergeQueue.Service.MigrateDb;

/// <summary>
/// <c>dotnet run --project src/MergeQueue.Service -- migrate-db --from mergequeue.db --to "Host=…;Username=…;Password=…;Database=…"</c>:
/// copies a SQLite installation's data into a PostgreSQL database with <see cref="DatabaseCopy"/>, checked by
/// counts (docs/operations.md, "Moving from SQLite to PostgreSQL"). Exit code 0: copied, the counts match;
/// 2: bad arguments, or refused (the target holds data), nothing written; 1: the copy failed and was rolled back.
/// </summary>
public static class MigrateDbCommand
{
    public const string Name = "migrate-db";

    private const string Usage = "usage: migrate-db --from <SQLite file> --to \"Host=…;Username=…;Password=…;Database=…\"";

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken ct = default)
    {
        if (Parse(args) is not ({ } from, { } to))
        {
            await error.WriteLineAsync($"migrate-db: --from and --to are both required, and nothing else.\n{Usage}");
            return 2;
        }
        if (!File.Exists(from))
        {
            await error.WriteLineAsync($"migrate-db: the SQLite file {Path.GetFullPath(from)} does not exist.\n{Usage}");
            return 2;
        }

        PostgresDatabase target;
        try
        {
            target = new PostgresDatabase(to);
        }
        catch (ArgumentException e)
        {
            await error.WriteLineAsync($"migrate-db: --to is not a PostgreSQL connection string: {e.Message}\n{Usage}");
            return 2;
        }

        await using (target)
        {
            var where = Describe(to);
            try
            {
                var tables = await new DatabaseCopy(SqliteDatabase.ForFile(from), target).CopyAsync(ct);
                foreach (var table in tables) await output.WriteLineAsync($"{table.Name}: {table.Rows} rows");
                await output.WriteLineAsync($"Copied {tables.Sum(t => t.Rows)} rows in {tables.Count} tables from {Path.GetFullPath(from)} to {where}: every table holds as many rows on both sides.");
                await output.WriteLineAsync($"Not copied: {string.Join(", ", DatabaseCopy.NotCopied.Order(StringComparer.Ordinal))} "
                    + "(each database keeps its own migration history; instances and leases belong to the running processes).");
                return 0;
            }
            catch (CopyRefusedException e)
            {
                await error.WriteLineAsync($"migrate-db refused: {e.Message}");
                return 2;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or TimeoutException)
            {
                await error.WriteLineAsync($"migrate-db failed, nothing was committed to {where}: {e.Message}");
                return 1;
            }
        }
    }

    /// <summary><c>--from X --to Y</c> (or <c>--from=X</c>), in either order; null for anything else.</summary>
    private static (string? From, string? To)? Parse(string[] args)
    {
        string? from = null, to = null;
        for (var i = 0; i < args.Length; i++)
        {
            var (key, value) = args[i].Split('=', 2) is [var k, var v] && k.StartsWith("--", StringComparison.Ordinal)
                ? (k, v)
                : (args[i], i + 1 < args.Length ? args[++i] : null);
            switch (key)
            {
                case "--from" when from is null && !string.IsNullOrWhiteSpace(value): from = value; break;
                case "--to" when to is null && !string.IsNullOrWhiteSpace(value): to = value; break;
                default: return null;
            }
        }
        return (from, to);
    }

    /// <summary>Where the copy went, without the password.</summary>
    private static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
    }
}
