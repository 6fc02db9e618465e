using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator.Api;

/// <summary>Decides which REST calls get a fault instead of (or before) their answer.</summary>
public sealed class ApiFaultInjector
{
    private sealed class Rule(ApiFault fault)
    {
        public ApiFault Fault { get; } = fault;
        public int Remaining { get; set; } = fault.Count;
    }

    private readonly object sync = new();
    private readonly List<Rule> rules = [];
    private RandomApiFaults? random;
    private Random rng = new(0);

    public static readonly string[] Kinds = ["secondary_rate_limit", "rate_limit", "bad_gateway", "server_error", "unavailable", "latency"];

    public void Add(ApiFault fault)
    {
        if (!Kinds.Contains(fault.Kind)) throw Engine.SimulatorError.Validation($"Unknown fault kind {fault.Kind}", "ApiFault", "kind");
        if (fault.Count < 1) throw Engine.SimulatorError.Validation("count must be >= 1", "ApiFault", "count");
        lock (sync) rules.Add(new Rule(fault));
    }

    public void SetRandom(RandomApiFaults? value)
    {
        if (value is not null && (value.Probability is < 0 or > 1 || value.Kinds?.Any(k => !Kinds.Contains(k)) == true))
            throw Engine.SimulatorError.Validation("probability must be in [0,1] and kinds known", "RandomApiFaults", "probability");
        lock (sync)
        {
            random = value;
            rng = new Random(value?.Seed ?? 0);
        }
    }

    public void Clear()
    {
        lock (sync)
        {
            rules.Clear();
            random = null;
        }
    }

    /// <summary>The fault for this call, if any; consumes one use of a counted rule.</summary>
    public ApiFault? Next(string method, string path)
    {
        lock (sync)
        {
            var rule = rules.FirstOrDefault(r => r.Remaining > 0
                && (r.Fault.Method is null || string.Equals(r.Fault.Method, method, StringComparison.OrdinalIgnoreCase))
                && (r.Fault.PathPrefix is null || path.StartsWith(r.Fault.PathPrefix, StringComparison.OrdinalIgnoreCase)));
            if (rule is not null)
            {
                rule.Remaining--;
                rules.RemoveAll(r => r.Remaining == 0);
                return rule.Fault;
            }
            if (random is { } r2 && rng.NextDouble() < r2.Probability)
            {
                var kinds = r2.Kinds is { Count: > 0 } k ? k : ["secondary_rate_limit", "rate_limit", "bad_gateway", "server_error"];
                return new ApiFault(kinds[rng.Next(kinds.Count)], 1, RetryAfterSeconds: r2.RetryAfterSeconds);
            }
            return null;
        }
    }
}
