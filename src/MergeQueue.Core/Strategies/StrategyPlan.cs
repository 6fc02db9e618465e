using MergeQueue.Core.Config;

namespace MergeQueue.Core.Strategies;

/// <summary>What the executor does for each PR of the batch, in the order listed (seed 003, "Constructing merges").</summary>
public enum PrStep
{
    /// <summary>Merge the PR's head into tmp (POST /merges). On conflict: skip the PR, report it.</summary>
    MergeHead,

    /// <summary>
    /// Merge the PR's own commits (compare base...head, topological order) into tmp one by one,
    /// recording the tree after each (A', B', …). A PR with a merge commit among them is refused;
    /// on conflict tmp is reset to S and the PR skipped.
    /// </summary>
    MergeEachCommit,

    /// <summary>Create a commit with tmp's tree and parent S; it becomes S and tmp is reset to it.</summary>
    SquashOntoS,

    /// <summary>Create A'' = A' on S, B'' = B' on A'', …, keeping author and message; the last becomes S and tmp is reset to it.</summary>
    ReplayOntoS,
}

/// <summary>The one commit made after every PR was merged, with tmp's tree.</summary>
public enum FinalCommit
{
    /// <summary>None: tmp itself goes to staging.</summary>
    None,

    /// <summary>Parents: the target and every merged PR head (octopus).</summary>
    OnTargetWithPrHeads,

    /// <summary>Parent: the target only (batch squash).</summary>
    OnTarget,
}

/// <summary>
/// A merge strategy as data: the steps per PR and the final commit, which <see cref="StrategyExecutor"/>
/// runs over the GitHub port. A new strategy is a new plan here, not a new code path.
/// </summary>
/// <param name="ClosesPullRequests">
/// The PR head is not in the resulting history, so GitHub will not mark the PR merged: the queue
/// closes it and reports <c>Merged as &lt;sha&gt;</c> with the commit that carries it (CONTRACT §5).
/// </param>
public sealed record StrategyPlan(MergeStrategy Strategy, IReadOnlyList<PrStep> ForEachPr, FinalCommit Final, bool ClosesPullRequests)
{
    /// <summary>Whether the executor needs each PR's own commits (to replay them, or to credit their authors).</summary>
    public bool NeedsPrCommits => ClosesPullRequests;

    public static StrategyPlan Merge { get; } = new(MergeStrategy.Merge, [PrStep.MergeHead], FinalCommit.None, false);
    public static StrategyPlan Octopus { get; } = new(MergeStrategy.Octopus, [PrStep.MergeHead], FinalCommit.OnTargetWithPrHeads, false);
    public static StrategyPlan Squash { get; } = new(MergeStrategy.Squash, [PrStep.MergeHead, PrStep.SquashOntoS], FinalCommit.None, true);
    public static StrategyPlan BatchSquash { get; } = new(MergeStrategy.BatchSquash, [PrStep.MergeHead], FinalCommit.OnTarget, true);
    public static StrategyPlan CherryPick { get; } = new(MergeStrategy.CherryPick, [PrStep.MergeEachCommit, PrStep.ReplayOntoS], FinalCommit.None, true);

    public static StrategyPlan For(MergeStrategy strategy) => strategy switch
    {
        MergeStrategy.Merge => Merge,
        MergeStrategy.Octopus => Octopus,
        MergeStrategy.Squash => Squash,
        MergeStrategy.BatchSquash => BatchSquash,
        MergeStrategy.CherryPick => CherryPick,
        _ => throw new ArgumentOutOfRangeException(nameof(strategy), strategy, null),
    };
}
