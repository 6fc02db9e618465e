using MergeQueue.Core.Config;

namespace MergeQueue.Core.Runner;

/// <summary>Where a built-in runner job stands; the last four are final.</summary>
public enum JobState { Queued, Running, Success, Failure, Error, Cancelled }

/// <summary>
/// What a job runs, copied from the config when it is queued (a later config change never alters it):
/// the command, its timeout and environment, and the flaky retries of <c>flaky_retries</c>/<c>flaky_patterns</c>.
/// </summary>
public sealed record JobSpec(
    string Run,
    TimeSpan Timeout,
    IReadOnlyDictionary<string, string> Env,
    int FlakyRetries,
    IReadOnlyList<string> FlakyPatterns)
{
    public static JobSpec From(JobConfig job, RepoConfig config) =>
        new(job.Run, job.Timeout, job.Env, config.FlakyRetries, config.FlakyPatterns);
}

/// <summary>A job to queue: one job of the config on one commit.</summary>
public sealed record NewJob(RepoId Repo, CommitSha Sha, string Context, JobTrigger Trigger, string? Branch, AttemptId? Attempt, JobSpec Spec);

/// <summary>A job as stored.</summary>
public sealed record RunnerJob(
    long Id,
    RepoId Repo,
    CommitSha Sha,
    string Context,
    JobTrigger Trigger,
    string? Branch,
    AttemptId? Attempt,
    JobSpec Spec,
    JobState State,
    string? Description,
    int Tries,
    int? ExitCode,
    string? ClaimedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt)
{
    public bool IsFinal => State is JobState.Success or JobState.Failure or JobState.Error or JobState.Cancelled;
}

/// <summary>What one try of a job came to.</summary>
public abstract record TryOutcome
{
    /// <summary>Run it again on the same commit: its log showed a flake.</summary>
    public sealed record Retry(string Pattern) : TryOutcome;
    /// <summary>The job ends in this state, reported with this description.</summary>
    public sealed record Final(JobState State, string Description) : TryOutcome;

    /// <summary>
    /// The decision after a try (seed 001: "rerun failed builds that have logged a network error a few
    /// times"): a pass passes; a timeout fails at once; a failure whose log has a line matching a flaky
    /// pattern (case-insensitive substring) is retried while tries remain (<c>flaky_retries</c> more
    /// than the first); any other failure fails.
    /// </summary>
    public static TryOutcome Decide(JobSpec spec, int tryNumber, int exitCode, bool timedOut, TimeSpan took, IEnumerable<string> log)
    {
        if (timedOut) return new Final(JobState.Failure, Messages.JobTimedOut(spec.Timeout));
        if (exitCode == 0) return new Final(JobState.Success, Messages.JobPassed(took));
        if (tryNumber <= spec.FlakyRetries
            && spec.FlakyPatterns.Where(p => p.Length > 0).FirstOrDefault(p => log.Any(line => line.Contains(p, StringComparison.OrdinalIgnoreCase))) is { } pattern)
            return new Retry(pattern);
        return new Final(JobState.Failure, Messages.JobFailed(exitCode, tryNumber));
    }
}
