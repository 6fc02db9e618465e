using Microsoft.Data.Sqlite;
using Npgsql;
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MergeQueue.Bench.Intake;

/// <summary>
/// Webhook intake under load (docs/benchmarks.md): starts the real service (Release build) on a free
/// 127.0.0.1 port with a temporary SQLite file, posts GitHub's real <c>pull_request.opened</c> and
/// <c>issue_comment.created</c> payloads, signed and each with its own delivery id, over keep-alive
/// connections, and reports throughput, latency and the service's peak memory. Then it stops the
/// service and checks that every delivery answered 202 is a row of the inbox. With <c>--postgres</c>
/// the same load runs against SQLite, one instance on PostgreSQL and several on one PostgreSQL database
/// (IntakeBenchmark.Postgres.cs).
/// </summary>
public static partial class IntakeBenchmark
{
    private const string Usage =
        "usage: dotnet run -c Release --project bench/MergeQueue.Bench -- intake [--duration 15s] [--warmup 3s] [--connections 32] [--postgres [--instances 3] [--rounds 1]] [--no-node] [--json FILE] [--no-build] [--keep]";

    // The fixtures' repository. The simulator holds it without .github/mergequeue.yml, so the service's
    // background processing finds it not managed (one config read, then cached) and the run measures intake.
    private const string Owner = "Codertocat";
    private const string Repo = "Hello-World";

    private static readonly (string Event, string File)[] PayloadFiles =
    [
        ("pull_request", "pull_request/opened.payload.json"),
        ("issue_comment", "issue_comment/created.payload.json"),
    ];

    public static async Task<int> MainAsync(string[] args)
    {
        if (!Options.TryParse(args, out var options, out var error))
        {
            await Console.Error.WriteLineAsync(error);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }
        var root = FindRepositoryRoot();
        if (root is null)
        {
            await Console.Error.WriteLineAsync($"intake: no MergeQueue.sln above {AppContext.BaseDirectory}");
            return 2;
        }
        var fixtures = Path.GetFullPath(Path.Combine(root, "..", "shared", "fixtures", "github-webhooks"));
        if (PayloadFiles.FirstOrDefault(p => !File.Exists(Path.Combine(fixtures, p.File))) is { File: not null } absent)
        {
            await Console.Error.WriteLineAsync($"intake: fixture {Path.Combine(fixtures, absent.File)} not found (shared/ must lie beside the checkout)");
            return 2;
        }

        var temp = Directory.CreateTempSubdirectory("mergequeue-intake-");
        var keepTemp = false;
        Bench? bench = null;
        Process? simulator = null;
        try
        {
            if (!options.NoBuild && !await BuildServiceAsync(root, temp.FullName))
            {
                keepTemp = true;
                return 1;
            }
            var serviceDll = Path.Combine(root, "src", "MergeQueue.Service", "bin", "Release", "net10.0", "MergeQueue.Service.dll");
            var simulatorDll = Path.Combine(root, "src", "MergeQueue.Simulator", "bin", "Release", "net10.0", "MergeQueue.Simulator.dll");
            foreach (var dll in new[] { serviceDll, simulatorDll }.Where(d => !File.Exists(d)))
            {
                await Console.Error.WriteLineAsync($"intake: {dll} not found; build without --no-build");
                return 1;
            }

            var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            var token = "ghs_bench" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var payloads = PayloadFiles.Select(p =>
            {
                var body = File.ReadAllBytes(Path.Combine(fixtures, p.File));
                var signature = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
                return new Payload(p.Event, body, signature);
            }).ToArray();

            using var control = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

            // GitHub: the simulator on its own free port, with a bot user whose token the service uses and
            // the fixtures' repository (not managed). Nothing leaves 127.0.0.1.
            var simulatorUrl = new Uri($"http://127.0.0.1:{FreePort()}/");
            var simulatorLog = Path.Combine(temp.FullName, "simulator.log");
            simulator = StartLogged(simulatorLog, temp.FullName,
                [simulatorDll, "--urls", simulatorUrl.ToString().TrimEnd('/'), "--data", Path.Combine(temp.FullName, "simulator")]);
            if (!await WaitForOkAsync(control, new Uri(simulatorUrl, "_sim/idle"), simulator, TimeSpan.FromSeconds(60))
                || !await SetUpGitHubAsync(control, simulatorUrl, token))
            {
                keepTemp = true;
                await FailStartAsync("the GitHub simulator", simulatorLog);
                return 1;
            }

            bench = new Bench(root, temp.FullName, serviceDll, simulatorUrl, secret, token, payloads, options, control);
            Console.WriteLine($"intake: GitHub API: simulator at {simulatorUrl}, {Owner}/{Repo} not managed");
            Console.WriteLine($"intake: {options.Connections} connections, warm-up {Seconds(options.Warmup)} s, measuring {Seconds(options.Duration)} s; payloads "
                + string.Join(", ", payloads.Select(p => $"{p.Event} ({p.Body.Length} bytes)")));
            return options.Postgres ? await ComparePostgresAsync(bench) : await RunSqliteAsync(bench);
        }
        finally
        {
            await StopAsync(simulator);
            if (keepTemp || options.Keep || bench?.KeepTemp == true) Console.Error.WriteLine($"intake: kept {temp.FullName} (logs, database)");
            else TryDelete(temp);
        }
    }

    /// <summary>The default run: one instance on SQLite, then the Node receiver.</summary>
    private static async Task<int> RunSqliteAsync(Bench bench)
    {
        var options = bench.Options;
        var run = await RunServiceAsync(bench, Target.Sqlite(bench.Temp));
        if (run is null) return 1;

        // The reference: the same load against a Node @octokit/webhooks receiver that only verifies.
        var node = options.NoNode ? null : await RunNodeAsync(bench.Root, bench.Temp, bench.Secret, bench.Payloads, options);

        var result = new Result(
            Date: Today,
            Cores: Environment.ProcessorCount,
            Connections: options.Connections,
            WarmupSeconds: options.Warmup.TotalSeconds,
            DurationSeconds: options.Duration.TotalSeconds,
            GitHubApi: "simulator (repository not managed)",
            MeasuredRequests: run.MeasuredRequests,
            RequestsPerSecond: run.RequestsPerSecond,
            P50Ms: run.P50Ms,
            P99Ms: run.P99Ms,
            Non2xx: run.Non2xx,
            Non2xxIncludingWarmup: run.Non2xxIncludingWarmup,
            TransportErrors: run.TransportErrors,
            Statuses: run.Statuses,
            Accepted202: run.Accepted202,
            Rows: run.Rows,
            Missing: run.Missing,
            ProcessedBeforeStop: run.ProcessedBeforeStop,
            PeakRssMiB: run.PeakRssMiB[0],
            MaxSampledRssMiB: run.MaxSampledRssMiB[0],
            ServiceExitCode: run.ExitCodes[0],
            Node: node,
            Passed: run.Passed);
        Print(result);
        await WriteJsonAsync(options, result);
        return result.Passed ? 0 : 1;
    }

    private static string Today => DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static async Task WriteJsonAsync<T>(Options options, T result)
    {
        if (options.Json is not { } json) return;
        // Named literals: a run with no measured request has NaN percentiles, which plain JSON numbers cannot hold.
        var settings = new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        await File.WriteAllTextAsync(json, JsonSerializer.Serialize(result, settings));
        Console.WriteLine($"intake: wrote {json}");
    }

    private sealed record Payload(string Event, byte[] Body, string Signature);

    /// <summary>What every run of one command shares: the built service, the simulator as its GitHub, the signed payloads.</summary>
    private sealed record Bench(
        string Root, string Temp, string ServiceDll, Uri SimulatorUrl, string Secret, string Token, Payload[] Payloads, Options Options, HttpClient Control)
    {
        /// <summary>Set by a failing run: the temporary directory (logs, databases) is kept.</summary>
        public bool KeepTemp { get; set; }
    }

    /// <summary>The service under test: its database and how many instances share it.</summary>
    /// <param name="Postmaster">The PostgreSQL server's main process, for its CPU; null on SQLite.</param>
    /// <param name="Round">Which round of <c>--rounds</c> this run belongs to.</param>
    private sealed record Target(string Name, string Provider, string ConnectionString, int Instances, int? Postmaster = null, int Round = 1)
    {
        public static Target Sqlite(string temp, int round = 1) =>
            new("SQLite", "sqlite", $"Data Source={Path.Combine(temp, round == 1 ? "intake.db" : $"intake-{round}.db")}", 1, Round: round);

        public static Target Postgres(string connectionString, int instances, int? postmaster) =>
            new($"PostgreSQL, {instances} instance{(instances == 1 ? "" : "s")}", "postgres", connectionString, instances, postmaster);

        /// <summary>For file names: <c>sqlite</c>, <c>postgres-3</c>, <c>postgres-3-round2</c>.</summary>
        public string Key => (Provider == "sqlite" ? "sqlite" : $"{Provider}-{Instances}") + (Round == 1 ? "" : $"-round{Round}");

        /// <summary>The service's command line for instance <paramref name="index"/>, database part.</summary>
        public string[] Arguments(int index) => Provider == "sqlite"
            ? [$"--ConnectionStrings:MergeQueue={ConnectionString}"]
            : ["--MergeQueue:Database:Provider=postgres", $"--ConnectionStrings:MergeQueue={ConnectionString}", $"--MergeQueue:Cluster:InstanceId=bench-{index + 1}"];
    }

    /// <summary>One run of the load against one <see cref="Target"/>, and what its inbox holds afterwards.</summary>
    private sealed record RunResult(
        string Name,
        int Round,
        string Database,
        int Instances,
        long MeasuredRequests,
        double RequestsPerSecond,
        double P50Ms,
        double P99Ms,
        long Non2xx,
        long Non2xxIncludingWarmup,
        long TransportErrors,
        Dictionary<string, long> Statuses,
        long Accepted202,
        long Rows,
        long Missing,
        long ProcessedBeforeStop,
        double?[] PeakRssMiB,
        double[] MaxSampledRssMiB,
        int?[] ExitCodes,
        CpuUsage Cpu,
        bool Passed)
    {
        /// <summary>PostgreSQL's WAL flushes during the run (pg_stat_wal); null on SQLite.</summary>
        public long? WalSyncs { get; init; }

        /// <summary>Transactions committed in the run's PostgreSQL database (pg_stat_database); null on SQLite.</summary>
        public long? Transactions { get; init; }

        /// <summary>Rows the run's PostgreSQL database returned or fetched to its queries (pg_stat_database); null on SQLite.</summary>
        public long? RowsRead { get; init; }
    }

    private sealed record Result(
        string Date,
        int Cores,
        int Connections,
        double WarmupSeconds,
        double DurationSeconds,
        string GitHubApi,
        long MeasuredRequests,
        double RequestsPerSecond,
        double P50Ms,
        double P99Ms,
        long Non2xx,
        long Non2xxIncludingWarmup,
        long TransportErrors,
        Dictionary<string, long> Statuses,
        long Accepted202,
        long Rows,
        long Missing,
        long ProcessedBeforeStop,
        double? PeakRssMiB,
        double MaxSampledRssMiB,
        int? ServiceExitCode,
        NodeResult? Node,
        bool Passed);

    /// <summary>The Node receiver's figures under the same load, in the same run.</summary>
    private sealed record NodeResult(double RequestsPerSecond, double P50Ms, double P99Ms, long Non2xx, double? PeakRssMiB);

    /// <summary>
    /// Starts the target's instances on its database, runs the load round-robin across them (each poster picks
    /// the next instance per request), stops them (SIGTERM) and reads the inbox: every delivery answered 202
    /// must be a row. Null, with the reason on stderr, when an instance did not start.
    /// </summary>
    private static async Task<RunResult?> RunServiceAsync(Bench bench, Target target)
    {
        var urls = Enumerable.Range(0, target.Instances).Select(_ => new Uri($"http://127.0.0.1:{FreePort()}/")).ToArray();
        var logs = urls.Select((_, i) => Path.Combine(bench.Temp, $"service-{target.Key}-{i + 1}.log")).ToArray();
        var services = new Process?[target.Instances];
        try
        {
            for (var i = 0; i < services.Length; i++)
            {
                services[i] = StartLogged(logs[i], bench.Temp,
                [
                    bench.ServiceDll,
                    $"--Urls={urls[i].ToString().TrimEnd('/')}",
                    .. target.Arguments(i),
                    $"--MergeQueue:GitHub:WebhookSecret={bench.Secret}",
                    $"--MergeQueue:GitHub:Token={bench.Token}",
                    $"--MergeQueue:GitHub:ApiUrl={bench.SimulatorUrl}",
                ]);
            }
            for (var i = 0; i < services.Length; i++)
            {
                if (await WaitForOkAsync(bench.Control, new Uri(urls[i], "healthz"), services[i]!, TimeSpan.FromSeconds(120))) continue;
                bench.KeepTemp = true;
                await FailStartAsync($"the service ({target.Name}, instance {i + 1})", logs[i]);
                return null;
            }
            var pids = services.Select(s => s!.Id).ToArray();
            Console.WriteLine($"intake: {target.Name}: service pid {string.Join(", ", pids)} at {string.Join(", ", urls.Select(u => u.ToString()))} (Release)");

            using var sampling = new CancellationTokenSource();
            var sampler = SampleMaxRssAsync(pids, sampling.Token);
            var load = await RunLoadAsync([.. urls.Select(u => new Uri(u, "webhooks/github"))], bench.Payloads, bench.Options, pids, target.Postmaster);
            await sampling.CancelAsync();
            var maxSampledRssKb = await sampler;
            var peakRssKb = pids.Select(pid => ReadStatusKb(pid, "VmHWM:")).ToArray();
            var aliveAfterLoad = services.All(s => !s!.HasExited);

            var exitCodes = await Task.WhenAll(services.Select(StopAsync));
            Array.Clear(services);
            Inbox? inbox = null;
            try
            {
                inbox = await ReadInboxAsync(target, load.AcceptedIds);
            }
            catch (Exception e)
            {
                await Console.Error.WriteLineAsync($"intake: FAIL: {target.Name}: could not read the inbox: {e.Message}");
            }

            if (!aliveAfterLoad)
                await Console.Error.WriteLineAsync($"intake: FAIL: {target.Name}: an instance exited during the run; logs: {string.Join(", ", logs)}");
            if (inbox is not null && (inbox.Rows < load.AcceptedIds.Count || inbox.Missing > 0))
                await Console.Error.WriteLineAsync($"intake: FAIL: {target.Name}: {load.AcceptedIds.Count} deliveries answered 202 but the inbox holds {inbox.Rows} rows ({inbox.Missing} of the accepted ids missing); logs: {string.Join(", ", logs)}");
            var passed = aliveAfterLoad && inbox is not null && inbox.Rows >= load.AcceptedIds.Count && inbox.Missing == 0;
            if (!passed) bench.KeepTemp = true;
            return new RunResult(
                Name: target.Name,
                Round: target.Round,
                Database: target.Provider,
                Instances: target.Instances,
                MeasuredRequests: load.Latencies.Count,
                RequestsPerSecond: load.Latencies.Count / bench.Options.Duration.TotalSeconds,
                P50Ms: Percentile(load.Latencies, 0.50),
                P99Ms: Percentile(load.Latencies, 0.99),
                Non2xx: load.MeasuredNon2xx,
                Non2xxIncludingWarmup: load.AllNon2xx,
                TransportErrors: load.TransportErrors,
                Statuses: load.Statuses.OrderBy(s => s.Key).ToDictionary(s => s.Key.ToString(CultureInfo.InvariantCulture), s => s.Value),
                Accepted202: load.AcceptedIds.Count,
                Rows: inbox?.Rows ?? 0,
                Missing: inbox?.Missing ?? load.AcceptedIds.Count,
                ProcessedBeforeStop: inbox?.Processed ?? 0,
                PeakRssMiB: [.. peakRssKb.Select(kb => kb / 1024.0)],
                MaxSampledRssMiB: [.. maxSampledRssKb.Select(kb => kb / 1024.0)],
                ExitCodes: exitCodes,
                Cpu: load.Cpu,
                Passed: passed);
        }
        finally
        {
            await Task.WhenAll(services.Select(StopAsync));
        }
    }

    private static void Print(Result r)
    {
        var f = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(f, $"requests/s   {r.RequestsPerSecond:F0} ({r.MeasuredRequests} requests in {r.DurationSeconds:0.#} s)"));
        Console.WriteLine(string.Create(f, $"latency      p50 {r.P50Ms:F2} ms, p99 {r.P99Ms:F2} ms"));
        Console.WriteLine(string.Create(f, $"non-2xx      {r.Non2xx} measured, {r.Non2xxIncludingWarmup} with warm-up ({r.TransportErrors} transport errors); statuses {string.Join(", ", r.Statuses.Select(s => $"{s.Key}: {s.Value}"))}"));
        Console.WriteLine(string.Create(f, $"peak RSS     VmHWM {r.PeakRssMiB:F1} MiB; max VmRSS sampled every 100 ms {r.MaxSampledRssMiB:F1} MiB"));
        Console.WriteLine(string.Create(f, $"inbox        {r.Accepted202} answered 202 (warm-up included), {r.Rows} rows, {r.Missing} missing; {r.ProcessedBeforeStop} processed before the stop (service exit code {r.ServiceExitCode?.ToString(f) ?? "?"})"));
        Console.WriteLine();
        Console.WriteLine("| date | machine | load | requests/s | p50 ms | p99 ms | non-2xx | peak RSS | 202s / inbox rows |");
        Console.WriteLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |");
        Console.WriteLine(string.Create(f,
            $"| {r.Date} | {r.Cores} cores | {r.Connections} connections, {r.DurationSeconds:0.#} s (+{r.WarmupSeconds:0.#} s warm-up) | {r.RequestsPerSecond:F0} | {r.P50Ms:F2} | {r.P99Ms:F2} | {r.Non2xx} | {r.PeakRssMiB:F0} MiB | {r.Accepted202} / {r.Rows} |"));
        if (r.Node is { } n)
        {
            Console.WriteLine(string.Create(f,
                $"| {r.Date} | {r.Cores} cores | Node @octokit/webhooks verify-only, same load | {n.RequestsPerSecond:F0} | {n.P50Ms:F2} | {n.P99Ms:F2} | {n.Non2xx} | {n.PeakRssMiB:F0} MiB | (stores nothing) |"));
            Console.WriteLine();
            var ratio = r.RequestsPerSecond / n.RequestsPerSecond;
            Console.WriteLine(string.Create(f, $"goals        requests/s {ratio:F2}x Node's (goal >= 1.0): {(ratio >= 1.0 ? "met" : "MISSED")}; "
                + $"p99 {r.P99Ms:F1} ms (goal < 30): {(r.P99Ms < 30 ? "met" : "MISSED")}; peak RSS {r.PeakRssMiB:F0} MiB (goal < 150): {(r.PeakRssMiB < 150 ? "met" : "MISSED")}"));
        }
        else
            Console.WriteLine("node         not measured (--no-node, or see the message above)");
        Console.WriteLine();
        Console.WriteLine(r.Passed ? "intake: PASS" : "intake: FAIL");
    }

    // ---- load ----

    private sealed class LoopResult
    {
        public List<double> Latencies { get; } = new(4096);
        public List<string> AcceptedIds { get; } = new(4096);
        public Dictionary<int, long> Statuses { get; } = [];
        public long MeasuredNon2xx { get; set; }
        public long AllNon2xx { get; set; }
        public long TransportErrors { get; set; }
    }

    private sealed record LoadResult(
        List<double> Latencies, List<string> AcceptedIds, Dictionary<int, long> Statuses, long MeasuredNon2xx, long AllNon2xx, long TransportErrors, CpuUsage Cpu);

    /// <summary>
    /// The load: <see cref="Options.Connections"/> posters, each sending its next request to the next of
    /// <paramref name="urls"/>; the CPU of the machine, of <paramref name="pids"/>, of the PostgreSQL server and
    /// of this process is measured over the measured window.
    /// </summary>
    private static async Task<LoadResult> RunLoadAsync(Uri[] urls, Payload[] payloads, Options options, int[] pids, int? postmaster = null)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        var start = Stopwatch.GetTimestamp();
        var measureStart = start + Ticks(options.Warmup);
        var end = measureStart + Ticks(options.Duration);
        var cpu = CpuUsage.MeasureAsync(pids, postmaster, measureStart, end);
        var loops = Enumerable.Range(0, options.Connections)
            .Select(i => Task.Run(() => RunLoopAsync(client, urls, payloads, i, measureStart, end)))
            .ToArray();
        var results = await Task.WhenAll(loops);

        var latencies = results.SelectMany(r => r.Latencies).ToList();
        latencies.Sort();
        var statuses = new Dictionary<int, long>();
        foreach (var (status, count) in results.SelectMany(r => r.Statuses))
            statuses[status] = statuses.GetValueOrDefault(status) + count;
        return new LoadResult(latencies, results.SelectMany(r => r.AcceptedIds).ToList(), statuses,
            results.Sum(r => r.MeasuredNon2xx), results.Sum(r => r.AllNon2xx), results.Sum(r => r.TransportErrors), await cpu);
    }

    /// <summary>One connection's worth of load: one request at a time until <paramref name="end"/>.</summary>
    private static async Task<LoopResult> RunLoopAsync(HttpClient client, Uri[] urls, Payload[] payloads, int index, long measureStart, long end)
    {
        var result = new LoopResult();
        var contentType = new MediaTypeHeaderValue("application/json");
        for (var n = index; Stopwatch.GetTimestamp() < end; n++)
        {
            var payload = payloads[n % payloads.Length];
            var url = urls[n % urls.Length];
            var deliveryId = Guid.NewGuid().ToString();
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(payload.Body) };
            request.Content.Headers.ContentType = contentType;
            request.Headers.TryAddWithoutValidation("User-Agent", "GitHub-Hookshot/mergequeue-bench");
            request.Headers.TryAddWithoutValidation("X-GitHub-Event", payload.Event);
            request.Headers.TryAddWithoutValidation("X-GitHub-Delivery", deliveryId);
            request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", payload.Signature);

            var started = Stopwatch.GetTimestamp();
            int status;
            try
            {
                // The default completion option reads the whole (small) answer before returning.
                using var response = await client.SendAsync(request);
                status = (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                status = 0;
                result.TransportErrors++;
            }
            var finished = Stopwatch.GetTimestamp();

            if (status == (int)HttpStatusCode.Accepted) result.AcceptedIds.Add(deliveryId);
            var non2xx = status is < 200 or > 299;
            if (non2xx) result.AllNon2xx++;
            if (started < measureStart) continue;
            result.Latencies.Add(Stopwatch.GetElapsedTime(started, finished).TotalMilliseconds);
            result.Statuses[status] = result.Statuses.GetValueOrDefault(status) + 1;
            if (non2xx) result.MeasuredNon2xx++;
        }
        return result;
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    // ---- the Node reference ----

    /// <summary>
    /// Installs (once, <c>npm ci</c>) and starts <c>bench/node-receiver</c> on a free port, runs the same load
    /// against it and stops it. Null, with the reason on stderr, when Node or the package cannot be had.
    /// </summary>
    private static async Task<NodeResult?> RunNodeAsync(string root, string temp, string secret, Payload[] payloads, Options options)
    {
        var dir = Path.Combine(root, "bench", "node-receiver");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@octokit", "webhooks")))
        {
            Console.WriteLine("intake: npm ci in bench/node-receiver");
            using var npm = StartLogged(Path.Combine(temp, "npm.log"), dir, ["ci", "--no-audit", "--no-fund"], "npm");
            await npm.WaitForExitAsync();
            if (npm.ExitCode != 0)
            {
                await Console.Error.WriteLineAsync($"intake: npm ci failed; {Tail(Path.Combine(temp, "npm.log"), 20)}");
                return null;
            }
        }
        var url = new Uri($"http://127.0.0.1:{FreePort()}/");
        var log = Path.Combine(temp, "node.log");
        Process node;
        try
        {
            node = StartLogged(log, dir, ["server.js", url.Port.ToString(CultureInfo.InvariantCulture), secret], "node");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"intake: could not start node: {e.Message}");
            return null;
        }
        try
        {
            using var control = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
            if (!await WaitForOkAsync(control, url, node, TimeSpan.FromSeconds(30)))
            {
                await FailStartAsync("the Node receiver", log);
                return null;
            }
            Console.WriteLine($"intake: Node receiver pid {node.Id} at {url} (@octokit/webhooks, verify only); same load");
            var load = await RunLoadAsync([new Uri(url, "webhooks/github")], payloads, options, [node.Id]);
            return new NodeResult(load.Latencies.Count / options.Duration.TotalSeconds, Percentile(load.Latencies, 0.50), Percentile(load.Latencies, 0.99),
                load.MeasuredNon2xx, ReadStatusKb(node.Id, "VmHWM:") / 1024.0);
        }
        finally
        {
            await StopAsync(node);
        }
    }

    // ---- memory ----

    /// <summary>The largest VmRSS seen of each process, read every 100 ms until cancelled.</summary>
    private static async Task<long[]> SampleMaxRssAsync(int[] pids, CancellationToken ct)
    {
        var max = new long[pids.Length];
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            do
            {
                for (var i = 0; i < pids.Length; i++)
                    if (ReadStatusKb(pids[i], "VmRSS:") is { } kb && kb > max[i]) max[i] = kb;
            }
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
        }
        return max;
    }

    /// <summary>A <c>kB</c> figure from <c>/proc/{pid}/status</c>; null when the process or the line is gone.</summary>
    private static long? ReadStatusKb(int pid, string key)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
            var number = line?[key.Length..].Trim().Split(' ')[0];
            return long.TryParse(number, NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb) ? kb : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    // ---- the inbox ----

    private sealed record Inbox(long Rows, long Missing, long Processed);

    /// <summary>Reads the inbox table once the service has stopped: its rows, and which accepted ids are not among them.</summary>
    private static async Task<Inbox> ReadInboxAsync(Target target, List<string> acceptedIds)
    {
        await using DbConnection connection = target.Provider == "sqlite"
            ? new SqliteConnection($"{target.ConnectionString};Mode=ReadWrite;Pooling=False")
            : new NpgsqlConnection(new NpgsqlConnectionStringBuilder(target.ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT delivery_id, processed_at IS NOT NULL FROM webhook_delivery";
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        long rows = 0, processed = 0;
        while (await reader.ReadAsync())
        {
            rows++;
            ids.Add(reader.GetString(0));
            if (reader.GetBoolean(1)) processed++;
        }
        return new Inbox(rows, acceptedIds.Count(id => !ids.Contains(id)), processed);
    }

    // ---- processes ----

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MergeQueue.sln"))) return dir.FullName;
        return null;
    }

    private static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Builds the service (and the simulator it references) in Release, quietly; incremental, so cheap when nothing changed.</summary>
    private static async Task<bool> BuildServiceAsync(string root, string temp)
    {
        Console.WriteLine("intake: dotnet build src/MergeQueue.Service -c Release");
        var log = Path.Combine(temp, "build.log");
        using var build = StartLogged(log, root, ["build", Path.Combine("src", "MergeQueue.Service"), "-c", "Release", "-nologo", "-v", "q"], Dotnet);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        try
        {
            await build.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            build.Kill(entireProcessTree: true);
            await build.WaitForExitAsync();
        }
        if (build.ExitCode == 0) return true;
        await Console.Error.WriteLineAsync($"intake: the Release build of the service failed (exit {build.ExitCode}); {log}:");
        await Console.Error.WriteLineAsync(Tail(log, 40));
        return false;
    }

    /// <summary>
    /// Starts <c>dotnet</c> (or <paramref name="program"/>) with its output in <paramref name="log"/>. The shell execs
    /// the program, so the process id is the program's own (its /proc status is what the bench reads).
    /// </summary>
    private static Process StartLogged(string log, string workingDirectory, string[] arguments, string? program = null)
    {
        var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = workingDirectory, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec \"$@\" >\"$0\" 2>&1 </dev/null");
        start.ArgumentList.Add(log);
        start.ArgumentList.Add(program ?? Dotnet);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        return Process.Start(start) ?? throw new InvalidOperationException($"could not start {program ?? Dotnet}");
    }

    /// <summary>Stops a process gracefully (SIGTERM, so the host shuts down and SQLite closes cleanly), killing it after 45 s.</summary>
    private static async Task<int?> StopAsync(Process? process)
    {
        if (process is null) return null;
        using (process)
        {
            if (!process.HasExited)
            {
                using (var term = Process.Start("/bin/sh", ["-c", "kill -TERM \"$0\"", process.Id.ToString(CultureInfo.InvariantCulture)]))
                    await term.WaitForExitAsync();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));
                try
                {
                    await process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
            }
            return process.ExitCode;
        }
    }

    private static async Task<bool> WaitForOkAsync(HttpClient http, Uri url, Process process, TimeSpan timeout)
    {
        var start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(start) < timeout && !process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(url);
                if (response.StatusCode == HttpStatusCode.OK) return true;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }
            await Task.Delay(200);
        }
        return false;
    }

    /// <summary>The bot the service acts as (its token), and the fixtures' repository with no mergequeue.yml.</summary>
    private static async Task<bool> SetUpGitHubAsync(HttpClient http, Uri simulator, string token)
    {
        using var user = await http.PostAsJsonAsync(new Uri(simulator, "_sim/users"), new { login = "mergequeue-bench[bot]", type = "Bot", token });
        using var repo = await http.PostAsJsonAsync(new Uri(simulator, "_sim/repos"),
            new { owner = Owner, name = Repo, files = new Dictionary<string, string> { ["README.md"] = "intake benchmark\n" } });
        if (user.IsSuccessStatusCode && repo.IsSuccessStatusCode) return true;
        await Console.Error.WriteLineAsync($"intake: simulator set-up failed: users {(int)user.StatusCode} {await user.Content.ReadAsStringAsync()}; repos {(int)repo.StatusCode} {await repo.Content.ReadAsStringAsync()}");
        return false;
    }

    private static async Task FailStartAsync(string what, string log)
    {
        await Console.Error.WriteLineAsync($"intake: FAIL: {what} did not start; last lines of {log}:");
        await Console.Error.WriteLineAsync(Tail(log, 40));
    }

    private static string Tail(string file, int lines) =>
        File.Exists(file) ? string.Join(Environment.NewLine, File.ReadLines(file).TakeLast(lines)) : "(no log)";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void TryDelete(DirectoryInfo dir)
    {
        try
        {
            dir.Delete(recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"intake: could not delete {dir.FullName}: {e.Message}");
        }
    }

    // ---- options ----

    /// <param name="Postgres">Run SQLite, one instance on PostgreSQL and <paramref name="Instances"/> on one PostgreSQL database, <paramref name="Rounds"/> times.</param>
    private sealed record Options(
        TimeSpan Duration, TimeSpan Warmup, int Connections, string? Json, bool NoBuild, bool Keep, bool Postgres = false, int Instances = 3, int Rounds = 1, bool NoNode = false)
    {
        public static bool TryParse(string[] args, out Options options, out string error)
        {
            options = new Options(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(3), 32, null, NoBuild: false, Keep: false);
            error = "";
            for (var i = 0; i < args.Length; i++)
            {
                var (name, value) = args[i].Split('=', 2) is [var n, var v] ? (n, (string?)v) : (args[i], null);
                if (value is null && name is "--no-build" or "--keep" or "--postgres" or "--no-node")
                {
                    options = name switch
                    {
                        "--keep" => options with { Keep = true },
                        "--postgres" => options with { Postgres = true },
                        "--no-node" => options with { NoNode = true },
                        _ => options with { NoBuild = true },
                    };
                    continue;
                }
                if (value is null && i + 1 < args.Length && name is "--duration" or "--warmup" or "--connections" or "--instances" or "--rounds" or "--json") value = args[++i];
                switch (name)
                {
                    case "--duration" when TryDuration(value, out var d) && d > TimeSpan.Zero:
                        options = options with { Duration = d };
                        break;
                    case "--warmup" when TryDuration(value, out var w) && w >= TimeSpan.Zero:
                        options = options with { Warmup = w };
                        break;
                    case "--connections" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) && c is >= 1 and <= 1024:
                        options = options with { Connections = c };
                        break;
                    case "--instances" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) && count is >= 2 and <= 16:
                        options = options with { Instances = count };
                        break;
                    case "--rounds" when int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var rounds) && rounds is >= 1 and <= 20:
                        options = options with { Rounds = rounds };
                        break;
                    case "--json" when !string.IsNullOrWhiteSpace(value):
                        options = options with { Json = value };
                        break;
                    default:
                        error = $"intake: bad option {args[i]}{(value is not null && !args[i].Contains('=') ? " " + value : "")}";
                        return false;
                }
            }
            if ((options.Instances != 3 || options.Rounds != 1) && !options.Postgres)
            {
                error = "intake: --instances and --rounds need --postgres";
                return false;
            }
            return true;
        }

        /// <summary><c>15s</c>, <c>500ms</c>, <c>2m</c>, or a bare number of seconds.</summary>
        private static bool TryDuration(string? text, out TimeSpan span)
        {
            span = default;
            if (string.IsNullOrWhiteSpace(text)) return false;
            var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
                : text.EndsWith('s') ? (text[..^1], 1.0)
                : text.EndsWith('m') ? (text[..^1], 60.0)
                : (text, 1.0);
            if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value > 86_400) return false;
            span = TimeSpan.FromSeconds(value * unit);
            return true;
        }
    }
}
