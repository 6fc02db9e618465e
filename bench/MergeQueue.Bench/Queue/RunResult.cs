namespace MergeQueue.Bench.Queue;

/// <summary>What one run measured (times in minutes).</summary>
public sealed record RunResult
{
    public required string Algorithm { get; init; }
    public required int Seed { get; init; }
    public required int Prs { get; init; }
    public required int Merged { get; init; }
    public double MedianTtm { get; init; }
    public double P95Ttm { get; init; }
    public double MeanTtm { get; init; }
    public double RunsPerMerged { get; init; }
    public int RunsStarted { get; init; }
    public double? ReadsPerMerged { get; init; }
    public double? WritesPerMerged { get; init; }
    public int GoodRejected { get; init; }
    public int BadMerged { get; init; }
    public int Unresolved { get; init; }
    /// <summary>Merged PRs per hour, from the first request to the last merge.</summary>
    public double Throughput { get; init; }
    /// <summary>Median TTM of the last 10 % of arrivals ÷ that of the first 10 %; above 3 the queue is over capacity.</summary>
    public double BacklogGrowth { get; init; }
    public IReadOnlyList<string> Violations { get; init; } = [];
    public double WallMilliseconds { get; init; }

    public static RunResult Of(BenchRun run, AlgorithmSpec spec, (int Reads, int Writes)? api, TimeSpan wall)
    {
        var merged = run.Target.MergedAt;
        var ttm = run.Prs.Where(p => !p.Bad && merged.ContainsKey(p.Number))
            .Select(p => (p.Number, Minutes: (merged[p.Number] - p.ArrivesAt).TotalMinutes))
            .ToArray();
        var minutes = ttm.Select(t => t.Minutes).ToArray();
        var tenth = Math.Max(1, run.Prs.Count / 10);
        double DecileMedian(IEnumerable<PrSpec> prs) =>
            Median(prs.Where(p => merged.ContainsKey(p.Number) && !p.Bad).Select(p => (merged[p.Number] - p.ArrivesAt).TotalMinutes).ToArray());
        var first = DecileMedian(run.Prs.Take(tenth));
        var last = DecileMedian(run.Prs.Skip(run.Prs.Count - tenth));
        var hours = merged.Count == 0 ? 0 : (merged.Values.Max() - run.Prs[0].ArrivesAt).TotalHours;
        double PerMerged(double n) => merged.Count == 0 ? double.NaN : n / merged.Count;
        return new RunResult
        {
            Algorithm = spec.Label,
            Seed = run.Seed,
            Prs = run.Prs.Count,
            Merged = merged.Count,
            MedianTtm = Median(minutes),
            P95Ttm = Percentile(minutes, 0.95),
            MeanTtm = minutes.Length == 0 ? double.NaN : minutes.Average(),
            RunsStarted = run.Ci.Started,
            RunsPerMerged = PerMerged(run.Ci.Started),
            ReadsPerMerged = api is { } a ? PerMerged(a.Reads) : null,
            WritesPerMerged = api is { } w ? PerMerged(w.Writes) : null,
            GoodRejected = run.Prs.Count(p => !p.Bad && run.RejectedAt.ContainsKey(p.Number) && !merged.ContainsKey(p.Number)),
            BadMerged = run.Prs.Count(p => p.Bad && merged.ContainsKey(p.Number)),
            Unresolved = run.Prs.Count(p => !run.IsResolved(p.Number)),
            Throughput = hours > 0 ? merged.Count / hours : double.NaN,
            BacklogGrowth = first > 0 ? last / first : double.NaN,
            Violations = run.Target.Violations.ToArray(),
            WallMilliseconds = wall.TotalMilliseconds,
        };
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 0.5);

    /// <summary>Linear interpolation between closest ranks; NaN for no values.</summary>
    public static double Percentile(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var rank = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
