using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MergeQueue.Bench.Queue;
using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Flows;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Data;
using MergeQueue.Tests.Shared;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Bench.Poll;

/// <summary>
/// <c>poll</c>: the cost of one poll tick (the real <see cref="MergeQueueFlows.PollAsync"/> on the
/// real <see cref="QueueStore"/>) as the open PRs of an installation grow, on SQLite and on
/// PostgreSQL. Each repository has one attempt under test holding a few PRs and the rest of its
/// PRs queued behind it: idle, nothing about them can change until the attempt ends. The tick
/// should cost the same whatever the number of idle PRs (docs/benchmarks.md, "Poll tick growth").
/// </summary>
public static class PollBenchmark
{
    private const string Usage =
        "usage: dotnet run -c Release --project bench/MergeQueue.Bench -- poll [--prs 10,1000,10000] [--repos 100] [--batch 4] [--history 10] " +
        "[--ticks 21] [--warmup 2] [--providers sqlite,postgres] [--config key=value,...] [--breakdown] [--json FILE] [--markdown FILE]";

    /// <summary>The bench's clock: fixed, so every tick sees the same installation.</summary>
    public static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    public const string DefaultConfig = "parallel_attempts=1";

    public sealed record Options
    {
        public IReadOnlyList<int> Prs { get; init; } = [10, 1000, 10000];
        public int Repos { get; init; } = 100;
        public int Batch { get; init; } = 4;
        public int History { get; init; } = 10;
        public int Ticks { get; init; } = 21;
        public int Warmup { get; init; } = 2;
        public IReadOnlyList<string> Providers { get; init; } = ["sqlite", "postgres"];
        public string Config { get; init; } = DefaultConfig;
        /// <summary>Also print each store method's calls, rows and time per tick.</summary>
        public bool Breakdown { get; init; }
        public string? JsonPath { get; init; }
        public string? MarkdownPath { get; init; }
    }

    /// <summary>One tick size: N open PRs on one provider, the medians over the measured ticks.</summary>
    public sealed record Row(
        string Provider, int Prs, int Repos, int UnderTest, int Idle, double MedianMs, double RatioToFirst,
        int StoreCalls, int RowsRead, int GitHubCalls, int Writes, IReadOnlyList<double> TickMs,
        IReadOnlyDictionary<string, MethodCost> Store);

    /// <summary>One store method's share of a tick: calls and rows per tick, milliseconds per tick (mean over the measured ticks).</summary>
    public sealed record MethodCost(double Calls, double Rows, double Ms);

    /// <summary>The head commit of a PR, the same wherever it is asked for.</summary>
    public static CommitSha Head(RepoId repo, int number) => Sha($"head {repo} {number}");

    private static CommitSha Sha(string text) => new(Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text))));

    public static async Task<int> MainAsync(string[] args)
    {
        Options options;
        RepoConfig config;
        try
        {
            options = Parse(args);
            config = QueueBenchmark.Config(options.Config);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync($"poll: {e.Message}");
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        var command = "dotnet run -c Release --project bench/MergeQueue.Bench -- poll " + string.Join(' ', args);
        var loadBefore = LoadAverage();
        var rows = await RunAsync(options, config, Console.Error);
        var machine = $"{Environment.ProcessorCount} cores, load average {loadBefore} before and {LoadAverage()} after the run";
        var markdown = Markdown(rows, command.TrimEnd(), machine, options.Breakdown);
        await Console.Out.WriteLineAsync(markdown);
        if (options.MarkdownPath is { } md) await File.WriteAllTextAsync(md, markdown);
        if (options.JsonPath is { } json) await File.WriteAllTextAsync(json, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        return rows.Any(r => r.Writes > 0) ? 1 : 0;
    }

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--prs" => options with { Prs = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(PositiveInt).ToArray() },
                "--repos" => options with { Repos = PositiveInt(Value()) },
                "--batch" => options with { Batch = PositiveInt(Value()) },
                "--history" => options with { History = NonNegativeInt(Value()) },
                "--ticks" => options with { Ticks = PositiveInt(Value()) },
                "--warmup" => options with { Warmup = NonNegativeInt(Value()) },
                "--providers" => options with { Providers = Providers(Value()) },
                "--config" => options with { Config = Value() },
                "--breakdown" => options with { Breakdown = true },
                "--json" => options with { JsonPath = Value() },
                "--markdown" => options with { MarkdownPath = Value() },
                _ => throw new FormatException($"unknown option '{args[i]}'"),
            };
        }
        return options.Prs.Count > 0 && options.Providers.Count > 0 ? options : throw new FormatException("--prs and --providers need at least one value");
    }

    private static string[] Providers(string value)
    {
        var providers = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return providers.FirstOrDefault(p => p is not ("sqlite" or "postgres")) is { } unknown
            ? throw new FormatException($"unknown provider '{unknown}' (sqlite, postgres)")
            : providers;
    }

    private static int PositiveInt(string v) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"'{v}' is not a positive whole number");

    private static int NonNegativeInt(string v) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new FormatException($"'{v}' is not a whole number");

    /// <summary>
    /// Every provider, every size. The sizes of one provider stand side by side, each in its own
    /// database, and their ticks take turns (10, 1,000, 10,000, 10, …): a change in the machine's
    /// load during the run hits every size alike. PostgreSQL is a server of the bench's own, started
    /// here and stopped at the end.
    /// </summary>
    public static async Task<IReadOnlyList<Row>> RunAsync(Options options, RepoConfig config, TextWriter progress)
    {
        var rows = new List<Row>();
        foreach (var provider in options.Providers)
        {
            await using var databases = await Databases.StartAsync(provider);
            var installations = new List<Installation>();
            foreach (var prs in options.Prs)
            {
                await progress.WriteLineAsync($"{provider}: {prs} open PRs across {options.Repos} repositories");
                installations.Add(await Installation.SeedAsync(databases, prs, options, config));
            }
            // The first ticks settle what the seed left unsaid (the queued PRs' descriptions); then every tick finds nothing new.
            for (var i = 0; i < options.Warmup; i++)
                foreach (var installation in installations) await installation.TickAsync($"warm-up-{i}");
            foreach (var installation in installations) await databases.VacuumAsync(installation.Database);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            for (var i = 0; i < options.Ticks; i++)
                foreach (var installation in installations) installation.Measured.Add(await installation.TickAsync($"tick-{i}"));

            var first = installations[0].Median(t => t.Ms);
            foreach (var installation in installations)
            {
                await installation.CheckStillIdleAsync();
                rows.Add(installation.Row(provider, first));
                await databases.DropAsync(installation.Database);
            }
        }
        return rows;
    }

    /// <summary>What one tick cost.</summary>
    private sealed record Tick(double Ms, int Calls, int Rows, int GitHub, int Writes, IReadOnlyDictionary<string, (int Calls, int Rows, double Ms)> Store);

    /// <summary>One size: its database, its flows over the counting store and GitHub, and its measured ticks.</summary>
    private sealed class Installation
    {
        private readonly QueueStore _store;
        private readonly CountingQueueStore _counted;
        private readonly PollGitHub _github = new();
        private readonly MergeQueueFlows _flows;
        private readonly int _prs, _repos, _underTest, _idle;

        private Installation(Database database, QueueStore store, TimeProvider clock, RepoConfig config, int prs, int repos, int underTest, int idle)
        {
            Database = database;
            _store = store;
            _counted = new CountingQueueStore(store);
            _flows = new MergeQueueFlows(_github, _counted, new SameConfig(config), clock, new FlowOptions(), NullLogger<MergeQueueFlows>.Instance);
            (_prs, _repos, _underTest, _idle) = (prs, repos, underTest, idle);
        }

        public Database Database { get; }
        public List<Tick> Measured { get; } = [];

        public static async Task<Installation> SeedAsync(Databases databases, int prs, Options options, RepoConfig config)
        {
            var clock = new FakeTimeProvider(Start);
            var database = await databases.CreateAsync(clock);
            var store = new QueueStore(database, clock);
            var (underTest, idle) = await PollBenchmark.SeedAsync(store, prs, options);
            return new Installation(database, store, clock, config, prs, Math.Min(options.Repos, prs), underTest, idle);
        }

        public async Task<Tick> TickAsync(string id)
        {
            _counted.Reset();
            _github.Reset();
            var started = Stopwatch.GetTimestamp();
            await _flows.PollAsync(Cause.Poll(id), default);
            return new Tick(Stopwatch.GetElapsedTime(started).TotalMilliseconds, _counted.Calls, _counted.Rows, _github.Calls, _counted.Writes,
                new Dictionary<string, (int, int, double)>(_counted.ByMethod));
        }

        public double Median(Func<Tick, double> of) => PollBenchmark.Median(Measured.Select(of));

        public async Task CheckStillIdleAsync()
        {
            var active = (await _store.GetActivePullRequestsAsync(null, default)).Count;
            if (active != _prs) throw new InvalidOperationException($"{_prs} PRs were open, {active} are active after the ticks: the installation did not stay idle");
        }

        public Row Row(string provider, double firstMedianMs) => new(
            provider, _prs, _repos, _underTest, _idle, Median(t => t.Ms), Median(t => t.Ms) / firstMedianMs,
            (int)Median(t => t.Calls), (int)Median(t => t.Rows), (int)Median(t => t.GitHub), Measured.Sum(t => t.Writes),
            Measured.Select(t => Math.Round(t.Ms, 2)).ToArray(),
            Measured.SelectMany(t => t.Store).GroupBy(m => m.Key).OrderByDescending(g => g.Sum(m => m.Value.Ms)).ToDictionary(g => g.Key, g => new MethodCost(
                (double)g.Sum(m => m.Value.Calls) / Measured.Count, (double)g.Sum(m => m.Value.Rows) / Measured.Count, g.Sum(m => m.Value.Ms) / Measured.Count)));
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>
    /// The installation: open PR i belongs to repository i mod <see cref="Options.Repos"/>; in each
    /// repository the first <see cref="Options.Batch"/> are in one TESTING attempt (CI pending) and
    /// the others QUEUED behind it, requested in the last two hours. Every repository also has
    /// <see cref="Options.History"/> PRs merged yesterday, each in an attempt of its own (the ETA's
    /// run history, the batching policy's outcomes, the last landing). Returns (under test, idle).
    /// </summary>
    private static async Task<(int UnderTest, int Idle)> SeedAsync(QueueStore store, int prs, Options options)
    {
        int underTest = 0, idle = 0;
        for (var r = 0; r < options.Repos; r++)
        {
            var repo = new RepoId("bench", $"repo-{r:000}");
            var queue = new QueueId(repo, "main");
            var changes = new Changes();
            CommitSha? landed = null;
            for (var h = 1; h <= options.History; h++)
            {
                var created = Start - TimeSpan.FromDays(1) + TimeSpan.FromMinutes(60 * h);
                var ended = created + TimeSpan.FromMinutes(20 + h % 20);
                landed = Sha($"staging {repo} history {h}");
                var attempt = new MergeAttempt(await store.NextAttemptIdAsync(default), queue, MergeAttemptState.Merged, created)
                {
                    BaseSha = Sha($"base {repo} history {h}"),
                    StagingSha = landed,
                    StateChangedAt = ended,
                    Reason = "merged",
                };
                changes.Attempts.Add(attempt);
                changes.PullRequests.Add(PullRequest.Restore(0, repo, h, "main", Head(repo, h), PullRequestState.Merged, null, 0,
                    created, ended, created, "maintainer", $"Change {h}", "developer", Messages.MergedIn(landed.Value), landed, 0));
            }

            var numbers = Enumerable.Range(0, prs).Where(i => i % options.Repos == r).Select(i => options.History + 1 + i / options.Repos).ToArray();
            if (numbers.Length > 0)
            {
                var testing = new MergeAttempt(await store.NextAttemptIdAsync(default), queue, MergeAttemptState.Testing, Start - TimeSpan.FromMinutes(10))
                {
                    BaseSha = landed ?? Sha($"base {repo}"),
                    StagingSha = Sha($"staging {repo} now"),
                    StateChangedAt = Start - TimeSpan.FromMinutes(10),
                };
                changes.Attempts.Add(testing);
                for (var i = 0; i < numbers.Length; i++)
                {
                    var requested = Start - TimeSpan.FromHours(2) + TimeSpan.FromSeconds(i);
                    var inAttempt = i < options.Batch;
                    changes.PullRequests.Add(PullRequest.Restore(0, repo, numbers[i], "main", Head(repo, numbers[i]),
                        inAttempt ? PullRequestState.Merging : PullRequestState.Queued, inAttempt ? testing.Id : null, 0,
                        requested, inAttempt ? testing.StateChangedAt : requested, requested, "maintainer", $"Change {numbers[i]}", "developer",
                        inAttempt ? Messages.Testing(testing.Id, Math.Min(options.Batch, numbers.Length), 1) : null, null, 0));
                    if (inAttempt) underTest++;
                    else idle++;
                }
            }
            await store.SaveAsync(changes, Cause.Test(), default);
        }
        return (underTest, idle);
    }

    /// <summary>The 1-minute load average (Linux), so a result says how busy the machine was.</summary>
    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown";

    public static string Markdown(IReadOnlyList<Row> rows, string command, string machine, bool breakdown = false)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Command: `{command}`").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine}.").AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| provider | open PRs | repos with PRs | under test | idle | tick median ms | ratio to N = {rows.FirstOrDefault()?.Prs} | store calls | rows read | GitHub calls |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows)
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Provider} | {r.Prs:N0} | {r.Repos} | {r.UnderTest:N0} | {r.Idle:N0} | {r.MedianMs:0.0} | {r.RatioToFirst:0.00} | {r.StoreCalls:N0} | {r.RowsRead:N0} | {r.GitHubCalls:N0} |");
        if (breakdown)
        {
            foreach (var r in rows)
            {
                md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Store per tick, {r.Provider}, {r.Prs:N0} open PRs:").AppendLine();
                md.AppendLine("| method | calls | rows | ms |").AppendLine("| --- | ---: | ---: | ---: |");
                foreach (var (method, cost) in r.Store)
                    md.AppendLine(CultureInfo.InvariantCulture, $"| {method} | {cost.Calls:0.#} | {cost.Rows:0.#} | {cost.Ms:0.0} |");
            }
        }
        if (rows.Where(r => r.Writes > 0).ToArray() is { Length: > 0 } unsteady)
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"NOT STEADY: measured ticks wrote to the store ({string.Join(", ", unsteady.Select(r => $"{r.Provider} N = {r.Prs}: {r.Writes} writes"))}).");
        return md.ToString();
    }

    private sealed class SameConfig(RepoConfig config) : IRepoConfigs
    {
        public Task<RepoConfig?> GetAsync(RepoId repo, CancellationToken ct) => Task.FromResult<RepoConfig?>(config);
    }

    /// <summary>Where each size's database lives: a temporary SQLite file, or a database on a PostgreSQL 15 server of the bench's own.</summary>
    private sealed class Databases : IAsyncDisposable
    {
        private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("mergequeue-poll-");
        private PostgresServer? _server;
        private readonly Dictionary<Database, string> _postgres = [];

        public static async Task<Databases> StartAsync(string provider)
        {
            var databases = new Databases();
            if (provider == "postgres") databases._server = await PostgresServer.StartAsync();
            return databases;
        }

        public async Task<Database> CreateAsync(TimeProvider clock)
        {
            Database database;
            if (_server is null)
            {
                database = SqliteDatabase.ForFile(Path.Combine(_directory.FullName, $"poll-{Guid.NewGuid():N}.db"), time: clock);
            }
            else
            {
                var connection = await _server.CreateDatabaseAsync("poll");
                database = new PostgresDatabase(connection, clock);
                _postgres[database] = connection;
            }
            await database.MigrateAsync();
            return database;
        }

        /// <summary>
        /// PostgreSQL plans from table statistics and answers from an index alone only where the
        /// visibility map says so; autovacuum sees to both on a live database within a minute of the
        /// seed and the warm-up ticks' writes, so the bench does it before measuring. SQLite runs
        /// without statistics, in the service too.
        /// </summary>
        public async Task VacuumAsync(Database database)
        {
            if (_server is null) return;
            await using var connection = await database.OpenAsync();
            await using var analyze = connection.CreateCommand();
            analyze.CommandText = "VACUUM ANALYZE";
            await analyze.ExecuteNonQueryAsync();
        }

        public async Task DropAsync(Database database)
        {
            if (_server is not null && _postgres.Remove(database, out var connection))
            {
                await ((PostgresDatabase)database).DisposeAsync();
                await _server.DropDatabaseAsync(connection);
            }
            SqliteConnection.ClearAllPools();
        }

        public async ValueTask DisposeAsync()
        {
            if (_server is not null) await _server.DisposeAsync();
            SqliteConnection.ClearAllPools();
            _directory.Delete(recursive: true);
        }
    }
}
