namespace MergeQueue.Core.Config;

/// <summary>How a batch's commits are built (seed 003's merge strategies).</summary>
public enum MergeStrategy { Merge, Octopus, Squash, BatchSquash, CherryPick }

/// <summary>How the halves of a failed batch are tested (CONTRACT §3 <c>bisect</c>).</summary>
public enum BisectMode
{
    /// <summary>Both halves at once, the second built on the first.</summary>
    Concurrent,
    /// <summary>One half after the other, each alone on the target (bors-ng).</summary>
    Serial,
}

/// <summary>How long each state may last before Poll times it out (seed 003, Poll).</summary>
public sealed record Timeouts
{
    public TimeSpan Requested { get; init; } = TimeSpan.FromHours(1);
    public TimeSpan Queued { get; init; } = TimeSpan.FromHours(24);
    public TimeSpan Merging { get; init; } = TimeSpan.FromHours(24);
    public TimeSpan Split { get; init; } = TimeSpan.FromHours(24);
    public TimeSpan Constructing { get; init; } = TimeSpan.FromMinutes(15);
    public TimeSpan Testing { get; init; } = TimeSpan.FromHours(1);
    public TimeSpan Success { get; init; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// The repository's <c>notify:</c>: which notification targets named in the service's settings
/// (<c>MergeQueue:Notifications</c>) hear about its queue. URLs and secrets never come from the
/// repository; it only names them.
/// </summary>
public sealed record NotifyConfig
{
    /// <summary>Names of outgoing webhooks (<c>MergeQueue:Notifications:Webhooks:N:Name</c>).</summary>
    public IReadOnlyList<string> Webhooks { get; init; } = [];
    /// <summary>Names of Slack incoming webhooks (<c>MergeQueue:Notifications:Slack:N:Name</c>).</summary>
    public IReadOnlyList<string> Slack { get; init; } = [];
    /// <summary>A target counts as stuck when nothing merged for this long while PRs wait; null: never.</summary>
    public TimeSpan? StuckAfter { get; init; }
}

/// <summary>Which commits a built-in runner job runs on (CONTRACT §3 <c>jobs.*.on</c>).</summary>
public enum JobTrigger
{
    /// <summary>Staging commits (<c>{prefix}/staging/**</c>), the ones that gate merges.</summary>
    Staging,
    /// <summary>Try builds (<c>{prefix}/try/**</c>).</summary>
    Try,
    /// <summary>Pull request heads.</summary>
    PullRequest,
    /// <summary>Commits pushed to a target branch.</summary>
    Push,
}

/// <summary>
/// One job of the built-in runner (<c>jobs:</c>, seeds 001 and 002): its name is the status context
/// it reports on the commit it ran on.
/// </summary>
public sealed record JobConfig
{
    public required string Name { get; init; }
    /// <summary>The shell command, run with <c>sh -c</c> in a fresh copy of the commit.</summary>
    public required string Run { get; init; }
    public IReadOnlyList<JobTrigger> On { get; init; } = [JobTrigger.Staging, JobTrigger.Try];
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>Plain values added to the job's environment (never the service's secrets).</summary>
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A repository's <c>.github/mergequeue.yml</c> (CONTRACT §3). Every default lives here: the
/// initializers are what a config made in code starts from (one attempt at a time, fixed batching);
/// <see cref="FileDefaults"/> adds what a file that says nothing gets, chosen by the benchmark.
/// </summary>
public sealed record RepoConfig
{
    public IReadOnlyList<string> TargetBranches { get; init; } = ["main"];
    public MergeStrategy Strategy { get; init; } = MergeStrategy.Merge;
    public int RequiredApprovals { get; init; } = 1;
    public IReadOnlyList<string> RequiredChecks { get; init; } = ["ci"];
    /// <summary>
    /// <c>required_checks: from_branch_protection</c>: each attempt reads the target's branch protection
    /// required status checks when it starts and must pass those (<see cref="RequiredChecks"/> is then empty).
    /// </summary>
    public bool RequiredChecksFromBranchProtection { get; init; }
    /// <summary>An empty <see cref="RequiredChecks"/> (merging untested commits) must be asked for with this.</summary>
    public bool AllowNoChecks { get; init; }
    public IReadOnlyList<string> PreChecks { get; init; } = [];
    public bool QueueOnApproval { get; init; }
    public TimeSpan BatchDelay { get; init; } = TimeSpan.FromMinutes(10);
    public int MaxBatchSize { get; init; } = 8;
    /// <summary>A batch also starts, before <see cref="BatchDelay"/> has passed, once this many PRs wait; 0: only the delay counts.</summary>
    public int BatchMinSize { get; init; }
    /// <summary>
    /// The batching keys (<c>batch_delay</c>, <c>max_batch_size</c>, <c>batch_min_size</c>, <c>beside_bisection</c>) the file
    /// leaves to the planner (<c>auto</c>, the file's default): <see cref="Queue.BatchPolicy"/> sets
    /// them from the target's recent failure rate. A value set in the file is honoured exactly.
    /// </summary>
    public IReadOnlySet<string> AutoBatching { get; init; } = new HashSet<string>();

    /// <summary>What a file that says nothing gets: every batching key left to the planner.</summary>
    public static RepoConfig FileDefaults => new() { AutoBatching = new HashSet<string>(Queue.BatchPolicy.Keys), ParallelAttempts = 4 };
    public bool Comments { get; init; }
    public string BranchPrefix { get; init; } = "mergequeue";
    public IReadOnlyList<string> RequiredLabels { get; init; } = [];
    public IReadOnlyList<string> BlockingLabels { get; init; } = ["do-not-merge"];
    public string? CommitMessagePattern { get; init; }
    public int? MaxChangedLines { get; init; }
    public IReadOnlyList<string> AllowedAuthors { get; init; } = [];
    public IReadOnlyList<string> DeniedAuthors { get; init; } = [];
    public Timeouts Timeouts { get; init; } = new();
    /// <summary>Attempts in flight per target; each after the first is built on the staging commit of the one ahead.</summary>
    public int ParallelAttempts { get; init; } = 1;
    public BisectMode Bisect { get; init; } = BisectMode.Concurrent;
    /// <summary>
    /// While a bisection is under test (or a red attempt waits for blame), new batches and split halves
    /// start lines of their own on the target instead of waiting; whichever line lands first wins, the
    /// others' verdicts still count.
    /// </summary>
    public bool BesideBisection { get; init; }
    /// <summary>How often a staging run that failed like a flake is rebuilt on the same tree before the failure counts.</summary>
    public int FlakyRetries { get; init; } = 1;
    /// <summary>Matched case-insensitively against a failing check's description: a match is a flake.</summary>
    public IReadOnlyList<string> FlakyPatterns { get; init; } = ["network error", "timed out", "connection reset", "ECONNRESET", "ETIMEDOUT"];
    /// <summary>Who hears about merges, failures, timeouts, a stuck queue, freezes (docs/configuration.md, notify).</summary>
    public NotifyConfig Notify { get; init; } = new();
    /// <summary>The built-in runner's jobs by name (docs/runner.md); empty: the runner does nothing for this repository.</summary>
    public IReadOnlyList<JobConfig> Jobs { get; init; } = [];

    /// <summary>The jobs that run on commits of this kind.</summary>
    public IEnumerable<JobConfig> JobsOn(JobTrigger trigger) => Jobs.Where(j => j.On.Contains(trigger));

    public bool IsTarget(string branch) => TargetBranches.Contains(branch, StringComparer.Ordinal);

    /// <summary>Where an attempt's batch is built; CI must not run here (CONTRACT §5).</summary>
    public string TmpBranch(string target, AttemptId attempt) => $"{BranchPrefix}/tmp/{target}/{attempt}";

    /// <summary>The commit under test lives here; CI runs on it.</summary>
    public string StagingBranch(string target, AttemptId attempt) => $"{BranchPrefix}/staging/{target}/{attempt}";

    public string TryBranch(int number) => $"{BranchPrefix}/try/{number}";
}
