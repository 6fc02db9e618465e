using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MergeQueue.Bench.Queue.Peers;
using MergeQueue.Core.Config;

namespace MergeQueue.Bench.Queue;

/// <summary>
/// <c>queue</c>: every algorithm over the same seeded PR streams, per workload, in virtual time;
/// prints a Markdown table per workload (mean ± sd over seeds), the capacity table, and writes JSON.
/// Exits 1 when any run broke the Not Rocket Science Rule (a bad or untested commit merged).
/// </summary>
public static class QueueBenchmark
{
    public const string DefaultAlgorithms = "mergequeue,serial,bors-ng,github-mq,github-mq:g=4,oracle";

    public sealed record Options
    {
        public List<WorkloadSpec> Workloads { get; init; } = [];
        public int Seeds { get; init; } = 20;
        public List<AlgorithmSpec> Algorithms { get; init; } = [];
        public List<double> CapacityP { get; init; } = [];
        public int CapacitySeeds { get; init; } = 20;
        public string? JsonPath { get; init; }
        public string? MarkdownPath { get; init; }
    }

    public static async Task<int> MainAsync(string[] args)
    {
        Options options;
        try
        {
            options = Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"queue: {e.Message}");
            return 2;
        }
        var command = "dotnet run -c Release --project bench/MergeQueue.Bench -- queue " + string.Join(' ', args.Select(Quote));
        return await RunAndReportAsync(options, command, Console.Out, Console.Error);
    }

    /// <summary>Runs, prints the Markdown, writes the files asked for; 1 when any run broke the rule (said loudly on <paramref name="error"/>).</summary>
    public static async Task<int> RunAndReportAsync(Options options, string command, TextWriter output, TextWriter error)
    {
        var report = await RunAsync(options, error);
        var markdown = Markdown(report, command);
        await output.WriteLineAsync(markdown);
        if (options.MarkdownPath is { } md) await File.WriteAllTextAsync(md, markdown);
        if (options.JsonPath is { } json)
            await File.WriteAllTextAsync(json, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        var violations = report.Workloads.Concat(report.Capacity).SelectMany(w => w.Runs).Where(r => r.Violations.Count > 0 || r.BadMerged > 0).ToArray();
        if (violations.Length == 0) return 0;
        await error.WriteLineAsync($"VIOLATION: {violations.Length} run(s) merged a bad or untested commit:");
        foreach (var r in violations.Take(20))
            await error.WriteLineAsync($"  {r.Algorithm} seed {r.Seed}: {r.BadMerged} bad merged; {string.Join("; ", r.Violations.Take(3))}");
        return 1;
    }

    private static string Quote(string arg) => arg.Any(c => char.IsWhiteSpace(c) || c is ';' or '[' or ']' or '{' or '}' or '\'' or '"' or '*') ? $"'{arg}'" : arg;

    public static Options Parse(string[] args)
    {
        var workloads = new List<string>();
        var algorithms = DefaultAlgorithms;
        var configs = new List<string>();
        var defaults = new WorkloadSpec(0.1, 6);
        int seeds = 20, capacitySeeds = -1;
        string? json = null, markdown = null, capacity = null;
        var poll = TimeSpan.FromMinutes(10);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--workloads": workloads.AddRange(Value().Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)); break;
                case "--defaults": defaults = WorkloadSpec.Parse(Value(), defaults); break;
                case "--seeds": seeds = PositiveInt(Value()); break;
                case "--prs": defaults = defaults with { Prs = PositiveInt(Value()) }; break;
                case "--algorithms": algorithms = Value(); break;
                case "--config": configs.Add(Value()); break;
                case "--poll": poll = Duration(Value()); break;
                case "--capacity": capacity = Value(); break;
                case "--capacity-seeds": capacitySeeds = PositiveInt(Value()); break;
                case "--json": json = Value(); break;
                case "--markdown": markdown = Value(); break;
                default: throw new FormatException($"unknown option '{args[i]}'");
            }
        }
        if (workloads.Count == 0 && capacity is null) workloads.Add("p=0.10,lambda=6");
        return new Options
        {
            Workloads = workloads.Select(w => WorkloadSpec.Parse(w, defaults)).ToList(),
            Seeds = seeds,
            Algorithms = algorithms.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Aggregate(new List<string>(), (list, a) =>
                {
                    // "github-mq:g=4,max=8": parameters after the colon may hold commas of their own.
                    if (list.Count > 0 && !a.Contains(':') && a.Contains('=')) list[^1] += "," + a;
                    else list.Add(a);
                    return list;
                })
                .SelectMany(a => Algorithm(a, configs, poll)).ToList(),
            CapacityP = capacity?.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToList() ?? [],
            CapacitySeeds = capacitySeeds > 0 ? capacitySeeds : seeds,
            JsonPath = json,
            MarkdownPath = markdown,
        };
    }

    /// <summary>One algorithm name with its parameters; <c>mergequeue</c> gives one row per <c>--config</c>.</summary>
    public static IEnumerable<AlgorithmSpec> Algorithm(string text, IReadOnlyList<string> configs, TimeSpan poll)
    {
        var colon = text.IndexOf(':');
        var name = colon < 0 ? text : text[..colon];
        var parameters = (colon < 0 ? "" : text[(colon + 1)..]).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length == 2 ? p[1] : throw new FormatException($"'{p[0]}' in {text} is not key=value"));
        int Int(string key, int fallback) => parameters.Remove(key, out var v) ? PositiveInt(v) : fallback;
        TimeSpan Time(string key, TimeSpan fallback) => parameters.Remove(key, out var v) ? Duration(v) : fallback;
        AlgorithmSpec spec;
        switch (name)
        {
            case "mergequeue":
                if (parameters.Count > 0) throw new FormatException("mergequeue takes its settings from --config key=value,...");
                foreach (var config in configs.DefaultIfEmpty(""))
                {
                    var parsed = Config(config);
                    yield return new AlgorithmSpec(config.Length == 0 ? "mergequeue (defaults)" : $"mergequeue ({config})",
                        run => new MergeQueueAlgorithm(run, parsed, poll), IsOurs: true);
                }
                yield break;
            case "serial":
                spec = new AlgorithmSpec("serial (model)", run => new SerialModel(run));
                break;
            case "bors-ng":
                var b = Int("b", 8);
                var delay = Time("delay", TimeSpan.FromMinutes(10));
                spec = new AlgorithmSpec($"bors-ng (model, b = {b})", run => new BorsNgModel(run, b, delay));
                break;
            case "github-mq":
                var (k, g, max) = (Int("k", 4), Int("g", 1), Int("max", 5));
                var wait = Time("wait", TimeSpan.FromMinutes(5));
                spec = new AlgorithmSpec($"github-mq (model, k = {k}, g = {g})", run => new GitHubMqModel(run, k, g, max, wait));
                break;
            case "oracle":
                var ob = Int("b", 8);
                spec = new AlgorithmSpec($"oracle (b = {ob})", run => new OracleModel(run, ob));
                break;
            default:
                throw new FormatException($"unknown algorithm '{name}' (mergequeue, serial, bors-ng, github-mq, oracle)");
        }
        if (parameters.Count > 0) throw new FormatException($"unknown parameter(s) {string.Join(", ", parameters.Keys)} for {name}");
        yield return spec;
    }

    /// <summary><c>key=value,key=value</c> as <c>.github/mergequeue.yml</c> lines (commas inside [] or {} belong to the value).</summary>
    public static RepoConfig Config(string pairs)
    {
        var yaml = new StringBuilder();
        var depth = 0;
        var start = 0;
        for (var i = 0; i <= pairs.Length; i++)
        {
            if (i < pairs.Length && pairs[i] is '[' or '{') depth++;
            if (i < pairs.Length && pairs[i] is ']' or '}') depth--;
            if (i < pairs.Length && (pairs[i] != ',' || depth > 0)) continue;
            var pair = pairs[start..i].Trim();
            start = i + 1;
            if (pair.Length == 0) continue;
            var eq = pair.IndexOf('=');
            if (eq <= 0) throw new FormatException($"config '{pair}' is not key=value");
            yaml.Append(pair[..eq].Trim()).Append(": ").AppendLine(pair[(eq + 1)..].Trim());
        }
        var result = RepoConfigParser.Parse(yaml.Length == 0 ? "target_branches: [main]" : yaml.ToString());
        return result.Config ?? throw new FormatException($"config '{pairs}': {string.Join("; ", result.Errors)}");
    }

    private static int PositiveInt(string v) =>
        int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new FormatException($"'{v}' is not a positive whole number");

    private static TimeSpan Duration(string v)
    {
        var unit = v[^1];
        if (!double.TryParse(v[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)) throw new FormatException($"'{v}' is not a duration (30s, 10m, 1h)");
        return unit switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            _ => throw new FormatException($"'{v}' is not a duration (30s, 10m, 1h)"),
        };
    }

    public sealed record WorkloadReport(string Name, WorkloadSpec Spec, IReadOnlyList<RunResult> Runs);

    public sealed record Report(int Seeds, IReadOnlyList<WorkloadReport> Workloads, IReadOnlyList<WorkloadReport> Capacity, IReadOnlyList<string> Algorithms);

    /// <summary>Runs every (workload, algorithm, seed) on all cores; each simulation is single-threaded and independent.</summary>
    public static async Task<Report> RunAsync(Options options, TextWriter progress)
    {
        var capacity = options.CapacityP.Select(p => new WorkloadSpec(p, 240, Prs: 1000)).ToList();
        var jobs = options.Workloads.Select((w, i) => (Kind: "grid", Index: i, Spec: w, Seeds: options.Seeds))
            .Concat(capacity.Select((w, i) => (Kind: "capacity", Index: i, Spec: w, Seeds: options.CapacitySeeds)))
            .SelectMany(w => options.Algorithms.Select((a, ai) => (w.Kind, w.Index, w.Spec, Algorithm: a, AlgorithmIndex: ai, w.Seeds)))
            .SelectMany(j => Enumerable.Range(1, j.Seeds).Select(seed => (j.Kind, j.Index, j.Spec, j.Algorithm, j.AlgorithmIndex, Seed: seed)))
            .ToArray();
        var results = new ConcurrentDictionary<(string, int, int, int), RunResult>();
        var done = 0;
        await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (job, _) =>
        {
            var result = await new BenchRun(job.Spec, job.Seed).ExecuteAsync(job.Algorithm);
            results[(job.Kind, job.Index, job.AlgorithmIndex, job.Seed)] = result;
            var n = Interlocked.Increment(ref done);
            if (n % 50 == 0 || n == jobs.Length) lock (progress) progress.WriteLine($"{n}/{jobs.Length} runs");
        });
        WorkloadReport Collect(string kind, int index, WorkloadSpec spec) => new(spec.Name, spec,
            results.Where(r => r.Key.Item1 == kind && r.Key.Item2 == index).OrderBy(r => r.Key.Item3).ThenBy(r => r.Key.Item4).Select(r => r.Value).ToArray());
        return new Report(options.Seeds,
            options.Workloads.Select((w, i) => Collect("grid", i, w)).ToArray(),
            capacity.Select((w, i) => Collect("capacity", i, w)).ToArray(),
            options.Algorithms.Select(a => a.Label).ToArray());
    }

    public static string Markdown(Report report, string command)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Command: `{command}`").AppendLine();
        foreach (var w in report.Workloads)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"#### {w.Name}").AppendLine();
            md.AppendLine("| algorithm | median TTM (min) | p95 TTM | mean TTM | CI runs / merged | API calls / merged (reads + writes) | good rejected | bad merged | merged / h | backlog growth | unresolved |");
            md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            foreach (var rows in w.Runs.GroupBy(r => r.Algorithm))
            {
                var r = rows.ToArray();
                var api = r[0].ReadsPerMerged is null ? "—"
                    : $"{Stat(r.Select(x => x.ReadsPerMerged!.Value + x.WritesPerMerged!.Value), "0.0")} ({Mean(r.Select(x => x.ReadsPerMerged!.Value)):0.0} + {Mean(r.Select(x => x.WritesPerMerged!.Value)):0.0})";
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {rows.Key} | {Stat(r.Select(x => x.MedianTtm), "0")} | {Stat(r.Select(x => x.P95Ttm), "0")} | {Stat(r.Select(x => x.MeanTtm), "0")} | {Stat(r.Select(x => x.RunsPerMerged), "0.00")} | {api} | {Stat(r.Select(x => (double)x.GoodRejected), "0.0")} | {r.Sum(x => x.BadMerged)} | {Stat(r.Select(x => x.Throughput), "0.0")} | {Stat(r.Select(x => x.BacklogGrowth), "0.0")} | {Stat(r.Select(x => (double)x.Unresolved), "0.0")} |");
            }
            md.AppendLine();
        }
        if (report.Capacity.Count > 0)
        {
            md.AppendLine("#### Capacity: λ_max = merged per hour ÷ (1 − p), 1,000 PRs arriving at 240/h").AppendLine();
            md.AppendLine("| algorithm | " + string.Join(" | ", report.Capacity.Select(c => string.Create(CultureInfo.InvariantCulture, $"λ_max at p = {c.Spec.P:0.00}"))) + " |");
            md.AppendLine("| --- |" + string.Concat(report.Capacity.Select(_ => " --- |")));
            foreach (var algorithm in report.Algorithms)
                md.AppendLine("| " + algorithm + " | " + string.Join(" | ", report.Capacity.Select(c =>
                    Stat(c.Runs.Where(r => r.Algorithm == algorithm).Select(r => r.Throughput / (1 - c.Spec.P)), "0.0"))) + " |");
            md.AppendLine();
        }
        return md.ToString();
    }

    private static double Mean(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).ToArray();
        return v.Length == 0 ? double.NaN : v.Average();
    }

    /// <summary>Mean ± sample standard deviation over the seeds (non-finite values left out).</summary>
    public static string Stat(IEnumerable<double> values, string format)
    {
        var v = values.Where(double.IsFinite).ToArray();
        if (v.Length == 0) return "—";
        var mean = v.Average();
        if (v.Length == 1) return mean.ToString(format, CultureInfo.InvariantCulture);
        var sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
        return $"{mean.ToString(format, CultureInfo.InvariantCulture)} ± {sd.ToString(format, CultureInfo.InvariantCulture)}";
    }
}
