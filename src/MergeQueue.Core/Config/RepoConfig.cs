namespace MergeQueue.Core.Config;

/// <summary>How a batch's commits are built (seed 003's merge strategies).</summary>
public enum MergeStrategy { Merge, Octopus, Squash, BatchSquash, CherryPick }

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

/// <summary>A repository's <c>.github/mergequeue.yml</c> (CONTRACT §3). Every default lives here.</summary>
public sealed record RepoConfig
{
    public IReadOnlyList<string> TargetBranches { get; init; } = ["main"];
    public MergeStrategy Strategy { get; init; } = MergeStrategy.Merge;
    public int RequiredApprovals { get; init; } = 1;
    public IReadOnlyList<string> RequiredChecks { get; init; } = ["ci"];
    public IReadOnlyList<string> PreChecks { get; init; } = [];
    public bool QueueOnApproval { get; init; }
    public TimeSpan BatchDelay { get; init; } = TimeSpan.FromMinutes(10);
    public int MaxBatchSize { get; init; } = 8;
    public bool Comments { get; init; }
    public string BranchPrefix { get; init; } = "mergequeue";
    public IReadOnlyList<string> RequiredLabels { get; init; } = [];
    public IReadOnlyList<string> BlockingLabels { get; init; } = ["do-not-merge"];
    public string? CommitMessagePattern { get; init; }
    public int? MaxChangedLines { get; init; }
    public IReadOnlyList<string> AllowedAuthors { get; init; } = [];
    public IReadOnlyList<string> DeniedAuthors { get; init; } = [];
    public Timeouts Timeouts { get; init; } = new();

    public bool IsTarget(string branch) => TargetBranches.Contains(branch, StringComparer.Ordinal);

    /// <summary>Where an attempt's batch is built; CI must not run here (CONTRACT §5).</summary>
    public string TmpBranch(string target, AttemptId attempt) => $"{BranchPrefix}/tmp/{target}/{attempt}";

    /// <summary>The commit under test lives here; CI runs on it.</summary>
    public string StagingBranch(string target, AttemptId attempt) => $"{BranchPrefix}/staging/{target}/{attempt}";

    public string TryBranch(int number) => $"{BranchPrefix}/try/{number}";
}
