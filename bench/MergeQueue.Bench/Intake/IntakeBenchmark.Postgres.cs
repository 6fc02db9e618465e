using MergeQueue.Tests.Shared;
using Npgsql;
using System.Globalization;

namespace MergeQueue.Bench.Intake;

/// <summary>
/// <c>intake --postgres</c>: the same load, in one command, against (a) one instance on SQLite, (b) one
/// instance on PostgreSQL and (c) several instances on one PostgreSQL database, the posters spreading
/// requests round-robin across them. PostgreSQL runs durably (fsync and synchronous commit on): intake
/// answers 202 only once a delivery's row is committed.
/// </summary>
public static partial class IntakeBenchmark
{
    private sealed record Comparison(
        string Date,
        int Cores,
        int Connections,
        double WarmupSeconds,
        double DurationSeconds,
        string GitHubApi,
        string Postgres,
        RunResult[] Runs,
        Dictionary<string, double> MedianRequestsPerSecond,
        Dictionary<string, double> Ratios,
        NodeResult? Node,
        bool Passed);

    /// <summary>
    /// <c>--rounds</c> rounds, each running SQLite, PostgreSQL with one instance and with several, one after the
    /// other: interleaving spreads a shared machine's changing load over all three. Ratios are of the medians.
    /// </summary>
    private static async Task<int> ComparePostgresAsync(Bench bench)
    {
        var options = bench.Options;
        PostgresServer server;
        try
        {
            server = await PostgresServer.StartAsync(durable: true);
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync($"intake: FAIL: could not start PostgreSQL: {e.Message}");
            return 1;
        }
        var runs = new List<RunResult>();
        string postgres;
        try
        {
            postgres = await DescribeAsync(server);
            var postmaster = CpuUsage.FindPostmaster(server.Port);
            Console.WriteLine($"intake: {postgres}; postmaster pid {postmaster?.ToString(CultureInfo.InvariantCulture) ?? "not found"}");
            for (var round = 1; round <= options.Rounds; round++)
            {
                if (await RunServiceAsync(bench, Target.Sqlite(bench.Temp, round)) is not { } sqlite) return 1;
                runs.Add(sqlite);
                foreach (var instances in new[] { 1, options.Instances })
                {
                    var database = await server.CreateDatabaseAsync("intake");
                    await ExecuteAsync(server, "SELECT pg_stat_reset_shared('wal')");
                    if (await RunServiceAsync(bench, Target.Postgres(database, instances, postmaster) with { Round = round }) is not { } run) return 1;
                    runs.Add(await WithStatisticsAsync(run, server, database));
                    // The next run starts on a clean slate: no autovacuum of this run's rows, no checkpoint of its WAL.
                    await server.DropDatabaseAsync(database);
                    await ExecuteAsync(server, "CHECKPOINT");
                }
            }
        }
        finally
        {
            server.Stop();
        }

        var node = options.NoNode ? null : await RunNodeAsync(bench.Root, bench.Temp, bench.Secret, bench.Payloads, options);
        var medians = runs.GroupBy(r => r.Name).ToDictionary(g => g.Key, g => Median([.. g.Select(r => r.RequestsPerSecond)]));
        var (sqliteName, oneName, manyName) = (runs[0].Name, runs[1].Name, runs[2].Name);
        var result = new Comparison(
            Date: Today,
            Cores: Environment.ProcessorCount,
            Connections: options.Connections,
            WarmupSeconds: options.Warmup.TotalSeconds,
            DurationSeconds: options.Duration.TotalSeconds,
            GitHubApi: "simulator (repository not managed)",
            Postgres: postgres,
            Runs: [.. runs],
            MedianRequestsPerSecond: medians,
            Ratios: new Dictionary<string, double>
            {
                [$"{oneName} / {sqliteName}"] = medians[oneName] / medians[sqliteName],
                [$"{manyName} / {sqliteName}"] = medians[manyName] / medians[sqliteName],
                [$"{manyName} / {oneName}"] = medians[manyName] / medians[oneName],
            },
            Node: node,
            Passed: runs.All(r => r.Passed));
        PrintComparison(result);
        await WriteJsonAsync(options, result);
        return result.Passed ? 0 : 1;
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[values.Length / 2 - 1] + values[values.Length / 2]) / 2;
    }

    /// <summary>The server's version and the settings that make a commit durable, as the server reports them.</summary>
    private static async Task<string> DescribeAsync(PostgresServer server)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        var settings = new List<string>();
        foreach (var name in new[] { "server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "shared_buffers" })
        {
            await using var command = new NpgsqlCommand($"SHOW {name}", connection);
            settings.Add($"{name}={await command.ExecuteScalarAsync()}");
        }
        return $"PostgreSQL at 127.0.0.1:{server.Port}: {string.Join(", ", settings)}";
    }

    /// <summary>
    /// What the run cost the server, from its statistics: WAL flushes to disk since the last reset (by commits
    /// and the WAL writer alike), and the run's database's committed transactions and rows read (by every
    /// query: intake, the delivery processor, leases, heartbeats). The instances have stopped, so their
    /// backends have reported; the short wait lets the statistics settle.
    /// </summary>
    private static async Task<RunResult> WithStatisticsAsync(RunResult run, PostgresServer server, string database)
    {
        await Task.Delay(TimeSpan.FromSeconds(1));
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT (SELECT wal_sync FROM pg_stat_wal), xact_commit, tup_returned + tup_fetched
            FROM pg_stat_database WHERE datname = current_database()
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return run;
        return run with { WalSyncs = reader.GetInt64(0), Transactions = reader.GetInt64(1), RowsRead = reader.GetInt64(2) };
    }

    private static async Task ExecuteAsync(PostgresServer server, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static void PrintComparison(Comparison c)
    {
        var f = CultureInfo.InvariantCulture;
        var rounds = c.Runs.Max(r => r.Round);
        string Label(RunResult r) => rounds == 1 ? r.Name : $"{r.Name} (round {r.Round})";
        foreach (var r in c.Runs)
        {
            Console.WriteLine($"{Label(r)}:");
            Console.WriteLine(string.Create(f, $"  requests/s {r.RequestsPerSecond:F0} ({r.MeasuredRequests} requests in {c.DurationSeconds:0.#} s); latency p50 {r.P50Ms:F2} ms, p99 {r.P99Ms:F2} ms"));
            Console.WriteLine(string.Create(f, $"  non-2xx    {r.Non2xx} measured, {r.Non2xxIncludingWarmup} with warm-up ({r.TransportErrors} transport errors); statuses {string.Join(", ", r.Statuses.Select(s => $"{s.Key}: {s.Value}"))}"));
            Console.WriteLine(string.Create(f, $"  memory     VmHWM {Each(r.PeakRssMiB.Select(m => m?.ToString("F1", f) ?? "?"))} MiB; max VmRSS sampled {Each(r.MaxSampledRssMiB.Select(m => m.ToString("F1", f)))} MiB"));
            Console.WriteLine(string.Create(f, $"  CPU        service {r.Cpu.ServiceCores:F2} cores, PostgreSQL {Cores(r.Cpu.DatabaseCores)}, load generator {r.Cpu.LoadGeneratorCores:F2}, "
                + $"other {r.Cpu.OtherCores:F2}; machine busy {r.Cpu.MachineBusyCores:F2} of {c.Cores}; load average {r.Cpu.LoadAverage:F1}"));
            Console.WriteLine(string.Create(f, $"  inbox      {r.Accepted202} answered 202 (warm-up included), {r.Rows} rows, {r.Missing} missing; {r.ProcessedBeforeStop} processed before the stop (exit codes {Each(r.ExitCodes.Select(e => e?.ToString(f) ?? "?"))})"));
            if (r.WalSyncs is { } syncs)
                Console.WriteLine(string.Create(f, $"  server     for the whole run (warm-up, background work and the stop included): {syncs} WAL syncs, {r.Accepted202 / (double)Math.Max(1, syncs):F1} accepted rows per sync; "
                    + $"{r.Transactions} transactions, {r.RowsRead} rows read ({r.RowsRead / (double)Math.Max(1, r.Accepted202):F0} per accepted row)"));
        }
        Console.WriteLine();
        Console.WriteLine("| run | requests/s | × SQLite | p50 ms | p99 ms | non-2xx | peak RSS per instance | CPU (cores): service / PostgreSQL / posters / other | rows per WAL sync | load average | 202s / inbox rows |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
        var sqlite = c.MedianRequestsPerSecond[c.Runs[0].Name];
        foreach (var r in c.Runs)
            Console.WriteLine(string.Create(f,
                $"| {Label(r)} | {r.RequestsPerSecond:F0} | {r.RequestsPerSecond / sqlite:F2} | {r.P50Ms:F2} | {r.P99Ms:F2} | {r.Non2xx} | {Each(r.PeakRssMiB.Select(m => m?.ToString("F0", f) ?? "?"))} MiB | {r.Cpu.ServiceCores:F2} / {Cores(r.Cpu.DatabaseCores)} / {r.Cpu.LoadGeneratorCores:F2} / {r.Cpu.OtherCores:F2} | {(r.WalSyncs is { } w ? (r.Accepted202 / (double)Math.Max(1, w)).ToString("F1", f) : "–")} | {r.Cpu.LoadAverage:F1} | {r.Accepted202} / {r.Rows} |"));
        if (c.Node is { } n)
            Console.WriteLine(string.Create(f,
                $"| Node @octokit/webhooks verify-only | {n.RequestsPerSecond:F0} | {n.RequestsPerSecond / sqlite:F2} | {n.P50Ms:F2} | {n.P99Ms:F2} | {n.Non2xx} | {n.PeakRssMiB:F0} MiB | | | | (stores nothing) |"));
        Console.WriteLine();
        if (rounds > 1)
            Console.WriteLine("medians      " + string.Join("; ", c.MedianRequestsPerSecond.Select(m => string.Create(f, $"{m.Key} {m.Value:F0} requests/s"))) + $" (of {rounds} rounds; × SQLite above is to SQLite's median)");
        Console.WriteLine("ratios       " + string.Join("; ", c.Ratios.Select(r => string.Create(f, $"{r.Key} {r.Value:F2}x"))));
        Console.WriteLine();
        Console.WriteLine(c.Passed ? "intake: PASS" : "intake: FAIL");
    }

    private static string Each(IEnumerable<string> values) => string.Join(" / ", values);

    private static string Cores(double? cores) => cores?.ToString("F2", CultureInfo.InvariantCulture) ?? "–";
}
