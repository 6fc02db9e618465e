using System.Globalization;

namespace MergeQueue.Bench.Queue;

/// <summary>
/// One workload of the queue benchmark: PRs arrive as a Poisson process at <see cref="Lambda"/> per
/// hour, each bad with probability <see cref="P"/>; each CI run flakes with probability <see cref="F"/>;
/// CI takes <see cref="CiMinutes"/> (lognormal jitter <see cref="Jitter"/>); at most
/// <see cref="Runners"/> runs execute at once.
/// </summary>
public sealed record WorkloadSpec(double P, double Lambda, double F = 0, double CiMinutes = 30, double Jitter = 0, int Runners = 4, int Prs = 200)
{
    public TimeSpan CiDuration => TimeSpan.FromMinutes(CiMinutes);

    public string Name => string.Create(CultureInfo.InvariantCulture,
        $"p = {P:0.###}, λ = {Lambda:0.##}/h, f = {F:0.###}, T = {CiMinutes:0.#} min{(Jitter > 0 ? $" (σ = {Jitter:0.##})" : "")}, R = {Runners}, {Prs} PRs");

    /// <summary>Parses <c>p=0.02,lambda=6,f=0.05,T=30,sigma=0.2,R=4,prs=200</c>; keys left out take <paramref name="defaults"/>' values.</summary>
    public static WorkloadSpec Parse(string text, WorkloadSpec defaults)
    {
        var spec = defaults;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw new FormatException($"'{part}' is not key=value");
            var key = part[..eq].Trim();
            var value = double.Parse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
            spec = key.ToLowerInvariant() switch
            {
                "p" => spec with { P = Probability(key, value) },
                "lambda" or "λ" => spec with { Lambda = Positive(key, value) },
                "f" => spec with { F = Probability(key, value) },
                "t" => spec with { CiMinutes = Positive(key, value) },
                "sigma" or "σ" => spec with { Jitter = value >= 0 ? value : throw new FormatException("sigma must be ≥ 0") },
                "r" => spec with { Runners = (int)Positive(key, value) },
                "prs" => spec with { Prs = (int)Positive(key, value) },
                _ => throw new FormatException($"unknown workload key '{key}' (p, lambda, f, T, sigma, R, prs)"),
            };
        }
        return spec;
    }

    private static double Probability(string key, double v) => v is >= 0 and <= 1 ? v : throw new FormatException($"{key} must be in [0, 1]");
    private static double Positive(string key, double v) => v > 0 ? v : throw new FormatException($"{key} must be > 0");
}

/// <summary>One pull request of the stream: when its merge is requested, and whether its own change breaks CI.</summary>
public sealed record PrSpec(int Number, DateTimeOffset ArrivesAt, bool Bad);

public static class Workload
{
    /// <summary>When every simulation starts (virtual time).</summary>
    public static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    /// <summary>The PR stream of one seed: the same seed gives every algorithm the same stream.</summary>
    public static IReadOnlyList<PrSpec> Generate(WorkloadSpec spec, int seed)
    {
        var random = new Random(seed);
        var at = Start;
        var prs = new List<PrSpec>(spec.Prs);
        for (var i = 0; i < spec.Prs; i++)
        {
            // Exponential gaps: a Poisson process at λ per hour.
            at += TimeSpan.FromHours(-Math.Log(1 - random.NextDouble()) / spec.Lambda);
            prs.Add(new PrSpec(i + 1, at, random.NextDouble() < spec.P));
        }
        return prs;
    }
}
