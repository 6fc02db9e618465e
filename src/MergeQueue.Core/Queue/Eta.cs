namespace MergeQueue.Core.Queue;

/// <summary>
/// When a queued PR may merge, and on what that guess rests. <see cref="Expected"/> is the median
/// staging run times the rounds of attempts until the PR's own has run; <see cref="Low"/> and
/// <see cref="High"/> are the same rounds at the shortest and longest recent run: the stated bound.
/// </summary>
/// <param name="AttemptsAhead">Attempts that run before the PR's own: those in flight and the queued batches ahead of its batch.</param>
/// <param name="Samples">How many recent runs the median is taken over.</param>
public sealed record EtaEstimate(TimeSpan Expected, TimeSpan Low, TimeSpan High, int AttemptsAhead, TimeSpan MedianRun, int Samples)
{
    /// <summary>"about 25 min: 2 attempts ahead, median staging run 12 min over the last 10".</summary>
    public string Text => Messages.Eta(this);

    public bool Contains(TimeSpan actual) => actual >= Low && actual <= High;
}

/// <summary>The estimator: pure, from the recent staging runs of the target and the queue's shape.</summary>
public static class Eta
{
    /// <summary>How many recent staging runs the estimate looks at.</summary>
    public const int History = 10;

    /// <param name="recentRuns">How long the target's recent attempts took from start to end, newest first.</param>
    /// <param name="position">The PR's place among the queued PRs, 1 first.</param>
    /// <param name="batchSize">PRs per batch (<c>max_batch_size</c>).</param>
    /// <param name="attemptsInFlight">Attempts of the target running now, all ahead of any queued PR.</param>
    /// <param name="parallelAttempts">Attempts that may run at once (<c>parallel_attempts</c>).</param>
    /// <returns>Null when there is no finished run to go by.</returns>
    public static EtaEstimate? ForQueued(IReadOnlyList<TimeSpan> recentRuns, int position, int batchSize, int attemptsInFlight, int parallelAttempts)
    {
        var runs = recentRuns.Take(History).Where(r => r > TimeSpan.Zero).Order().ToArray();
        if (runs.Length == 0 || position < 1) return null;
        var median = runs.Length % 2 == 1 ? runs[runs.Length / 2] : (runs[runs.Length / 2 - 1] + runs[runs.Length / 2]) / 2;
        var ahead = Math.Max(0, attemptsInFlight) + (position - 1) / Math.Max(1, batchSize);
        // The PR's own attempt runs in the round after those ahead have freed a slot.
        var rounds = (ahead + Math.Max(1, parallelAttempts)) / Math.Max(1, parallelAttempts);
        return new EtaEstimate(median * rounds, runs[0] * rounds, runs[^1] * rounds, ahead, median, runs.Length);
    }
}
