namespace MergeQueue.GitHub.Resilience;

/// <summary>How long to wait before the next attempt, or not to try again.</summary>
internal static class RetryDelay
{
    /// <param name="failure">the failure just seen</param>
    /// <param name="retry">0 for the first retry</param>
    /// <param name="waitedSoFar">the waits this call already spent</param>
    /// <param name="random">a number in [0, 1) for jitter</param>
    /// <returns>The wait, or null when the failure is final or the wait would break the budget.</returns>
    public static TimeSpan? Next(GitHubFailure failure, int retry, TimeSpan waitedSoFar, double random, GitHubRetryOptions options)
    {
        if (failure.Kind == FailureKind.Final) return null;

        TimeSpan delay;
        if (failure.ServerWait is { } asked)
        {
            // Never earlier than GitHub asked; spread clients that were told the same instant.
            delay = asked + TimeSpan.FromTicks((long)(Math.Min(asked.Ticks * 0.1, TimeSpan.TicksPerSecond) * random));
        }
        else
        {
            var step = options.BaseDelay.Ticks * Math.Pow(2, Math.Min(retry, 30));
            var capped = Math.Min(step, options.MaxBackoff.Ticks);
            // Jitter down to half so that clients failing together do not come back together.
            delay = TimeSpan.FromTicks((long)(capped * (0.5 + random / 2)));
            if (failure.Kind == FailureKind.RateLimited && delay < options.SecondaryRateLimitWait)
                delay = options.SecondaryRateLimitWait + TimeSpan.FromTicks((long)(TimeSpan.TicksPerSecond * 5 * random));
        }

        return waitedSoFar + delay > options.MaxTotalWait ? null : delay;
    }
}
