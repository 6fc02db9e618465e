namespace MergeQueue.GitHub;

/// <summary>
/// Bounds on how hard the adapter tries. The defaults suit a queue that polls: a call that cannot
/// get through within a few minutes fails, and the next tick tries again.
/// </summary>
public sealed record GitHubRetryOptions
{
    /// <summary>Attempts per call, the first included.</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>The first backoff step; it doubles per retry and is jittered down by up to half.</summary>
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest backoff step we compute ourselves (server-requested waits are not capped by it).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// GitHub asks for at least a minute after a secondary rate limit that names no retry-after.
    /// </summary>
    public TimeSpan SecondaryRateLimitWait { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The most one call may spend waiting between attempts. A retry-after or rate-limit reset
    /// beyond it fails the call at once: retrying earlier only earns another refusal.
    /// </summary>
    public TimeSpan MaxTotalWait { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>Per-request HTTP timeout; a timed-out request counts as an ambiguous failure.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
