using System.Diagnostics.CodeAnalysis;
using MergeQueue.Core.Config;

namespace MergeQueue.Core.Runner;

/// <summary>How a commit the runner tested stands, from its jobs (docs/runner.md, "History and trends").</summary>
public enum CommitResult { Pending, Success, Failure, Cancelled }

/// <summary>
/// A commit's jobs by state: the latest job of each job name only (a job run again on the same commit,
/// by a trigger or the reconciler, stands for the earlier ones).
/// </summary>
public sealed record JobCounts(int Queued, int Running, int Success, int Failure, int Error, int Cancelled)
{
    public int Total => Queued + Running + Success + Failure + Error + Cancelled;

    /// <summary>
    /// Pending while any job is queued or running; then failure when any failed or erred; success when
    /// every one passed; otherwise (some cancelled, none failed) cancelled.
    /// </summary>
    public CommitResult Result =>
        Queued + Running > 0 ? CommitResult.Pending
        : Failure + Error > 0 ? CommitResult.Failure
        : Total > 0 && Success == Total ? CommitResult.Success
        : CommitResult.Cancelled;

    public static JobCounts Of(IEnumerable<JobState> states)
    {
        var n = new int[Enum.GetValues<JobState>().Length];
        foreach (var s in states) n[(int)s]++;
        return new JobCounts(n[(int)JobState.Queued], n[(int)JobState.Running], n[(int)JobState.Success], n[(int)JobState.Failure],
            n[(int)JobState.Error], n[(int)JobState.Cancelled]);
    }
}

/// <summary>
/// One commit the runner tested: where it came from (the branch and trigger of its first job), its jobs'
/// counts and result, when its first job was queued and its last one finished. <see cref="LatestJobId"/>
/// orders the history (newest activity first) and is its paging cursor.
/// </summary>
public sealed record TestedCommit(
    RepoId Repo, CommitSha Sha, string? Branch, JobTrigger Trigger, JobCounts Jobs,
    DateTimeOffset FirstQueuedAt, DateTimeOffset? LastFinishedAt, long LatestJobId)
{
    public CommitResult Result => Jobs.Result;
}

/// <summary>Which tested commits to list: each filter is optional; a job filter narrows the summary to that job.</summary>
public sealed record CommitFilter(string? Branch = null, string? Job = null, CommitResult? Result = null, CommitSha? Sha = null);

/// <summary>Names of results on the wire and in query strings.</summary>
public static class CommitResults
{
    public static string Name(CommitResult result) => result.ToString().ToLowerInvariant();

    public static IReadOnlyList<string> Names { get; } = Enum.GetValues<CommitResult>().Select(Name).ToList();

    public static bool TryParse(string? text, [NotNullWhen(true)] out CommitResult? result)
    {
        result = Enum.GetValues<CommitResult>().Cast<CommitResult?>().FirstOrDefault(r => string.Equals(Name(r!.Value), text?.Trim(), StringComparison.OrdinalIgnoreCase));
        return result is not null;
    }
}

/// <summary>Names of job triggers as <c>jobs.*.on</c> writes them (<c>pull_request</c>, not the enum's).</summary>
public static class JobTriggers
{
    public static string Name(JobTrigger trigger) => trigger == JobTrigger.PullRequest ? "pull_request" : trigger.ToString().ToLowerInvariant();

    /// <summary>The trigger a <see cref="Name"/> stands for (an unknown name is a <c>push</c>).</summary>
    public static JobTrigger Parse(string name) => name switch
    {
        "staging" => JobTrigger.Staging,
        "try" => JobTrigger.Try,
        "pull_request" => JobTrigger.PullRequest,
        _ => JobTrigger.Push,
    };
}

/// <summary>A finished job as the trend charts see it.</summary>
public sealed record JobSample(DateTimeOffset FinishedAt, JobState State, TimeSpan? Duration);

/// <summary>Per bucket: jobs finished, the share that passed (%), and the median duration (s); null where nothing finished.</summary>
public sealed record RunnerTrend(TimeBuckets Buckets, IReadOnlyList<int> Runs, IReadOnlyList<double?> PassRate, IReadOnlyList<double?> MedianSeconds)
{
    /// <summary>
    /// Pass rate counts passed, failed and erred jobs (a cancelled job says nothing about the code); the
    /// duration is from start to finish of the jobs that passed or failed.
    /// </summary>
    public static RunnerTrend Compute(IEnumerable<JobSample> samples, TimeBuckets buckets)
    {
        var n = buckets.Starts.Count;
        var runs = new int[n];
        var passed = new int[n];
        var durations = Enumerable.Range(0, n).Select(_ => new List<double>()).ToArray();
        foreach (var s in samples)
        {
            if (s.State is not (JobState.Success or JobState.Failure or JobState.Error) || buckets.IndexOf(s.FinishedAt) is not { } i) continue;
            runs[i]++;
            if (s.State == JobState.Success) passed[i]++;
            if (s.State is JobState.Success or JobState.Failure && s.Duration is { } d) durations[i].Add(d.TotalSeconds);
        }
        return new RunnerTrend(buckets, runs,
            runs.Select((r, i) => r == 0 ? (double?)null : 100.0 * passed[i] / r).ToList(),
            durations.Select(d => d.Count == 0 ? (double?)null : TimeBuckets.Percentile(d, 0.5)).ToList());
    }
}
