using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Queue;

/// <summary>
/// Batching left to the planner (<c>auto</c>): sized from how often the target's PRs failed
/// lately. When PRs rarely fail, waiting for a few to batch saves CI runs at little cost in time;
/// when they often fail, every PR of a failed batch waits for its bisection, so small batches start
/// at once and beside a bisection (docs/benchmarks.md shows both ends).
/// </summary>
public static class BatchPolicy
{
    public static readonly string[] Keys = ["batch_delay", "max_batch_size", "batch_min_size", "beside_bisection"];

    /// <summary>The outcomes looked at, and the prior: as if 10 more had been seen, failing at 8 % (a new queue starts careful).</summary>
    public const int Window = 100;
    private const double PriorCount = 10, PriorRate = 0.08;

    /// <summary>At or above this failure rate batches stay small and start at once.</summary>
    public const double HighFailureRate = 0.05;

    public static double FailureRate(int merged, int failed) => (failed + PriorCount * PriorRate) / (merged + failed + PriorCount);

    /// <summary>The config in force for the target now: its <c>auto</c> batching keys set from the target's recent outcomes.</summary>
    public static async Task<RepoConfig> EffectiveAsync(IQueueStore store, QueueId queue, RepoConfig config, CancellationToken ct)
    {
        if (config.AutoBatching.Count == 0) return config;
        var (merged, failed) = await store.GetRecentOutcomesAsync(queue, Window, ct);
        return Effective(config, FailureRate(merged, failed));
    }

    /// <summary>The config with its <c>auto</c> batching keys set for this failure rate.</summary>
    public static RepoConfig Effective(RepoConfig config, double failureRate)
    {
        if (config.AutoBatching.Count == 0) return config;
        var high = failureRate >= HighFailureRate;
        var auto = config.AutoBatching;
        return config with
        {
            BatchDelay = auto.Contains("batch_delay") ? (high ? TimeSpan.Zero : TimeSpan.FromMinutes(40)) : config.BatchDelay,
            MaxBatchSize = auto.Contains("max_batch_size") ? (high ? 2 : 8) : config.MaxBatchSize,
            BatchMinSize = auto.Contains("batch_min_size") ? (high ? 1 : 3) : config.BatchMinSize,
            BesideBisection = auto.Contains("beside_bisection") ? high : config.BesideBisection,
        };
    }
}
