using MergeQueue.Core.Ports;
using Microsoft.Extensions.Logging;

namespace MergeQueue.Core.Strategies;

/// <summary>A pull request to build, with what its commit messages need.</summary>
/// <param name="Reviewers">Its approvers at <paramref name="HeadSha"/> (<c>Reviewed-by:</c>).</param>
public sealed record BatchMember(int Number, string? Title, CommitSha HeadSha, IReadOnlyList<string> Reviewers);

/// <summary>A PR that made it into the build, and the commit that carries it there.</summary>
/// <param name="Sha">
/// Its own commit where the strategy makes one (squash: its squash commit; cherry-pick: its last
/// replayed commit), the batch commit for octopus and batch squash, its merge commit for merge.
/// </param>
public sealed record LandedPr(int Number, CommitSha Sha);

/// <summary>Why the executor left a PR out of the build.</summary>
public enum SkipKind
{
    /// <summary>A merge conflict (seed: "skip this PR, report merge conflict").</summary>
    Conflict,
    /// <summary>The strategy cannot build it at all, for the reason given (cherry-pick and merge commits).</summary>
    Refused,
}

/// <summary>A PR left out of the build.</summary>
/// <param name="AfterBatchMates">
/// Whether other PRs were already merged when it conflicted: a conflict with the bare target is the
/// PR's own, one after batch-mates may be theirs.
/// </param>
public sealed record SkippedPr(int Number, SkipKind Kind, bool AfterBatchMates, string? Reason);

/// <summary>The outcome of a build.</summary>
/// <param name="Head">The commit put on the output branch; null when no PR could be built (the output branch is untouched).</param>
public sealed record BuildResult(CommitSha BaseSha, CommitSha? Head, IReadOnlyList<LandedPr> Merged, IReadOnlyList<SkippedPr> Skipped);

/// <summary>
/// Runs a <see cref="StrategyPlan"/> over the GitHub API, as seed 003 lists it: create tmp at the
/// target, run the plan's steps for each PR (skipping one that conflicts, with tmp put back where
/// the PR started), make the plan's final commit, force-reset the output branch (staging, or a try
/// branch) to the result and delete tmp. Every strategy goes through this one code path.
/// </summary>
public sealed class StrategyExecutor(IGitHub github, ILogger logger)
{
    /// <summary>
    /// Builds <paramref name="prs"/> in order on <paramref name="tmpBranch"/> from <paramref name="baseSha"/>
    /// and force-resets <paramref name="outputBranch"/> to the result, unless no PR could be built.
    /// </summary>
    public async Task<BuildResult> BuildAsync(
        RepoId repo, StrategyPlan plan, CommitSha baseSha, string tmpBranch, string outputBranch,
        IReadOnlyList<BatchMember> prs, CancellationToken ct)
    {
        await github.ResetBranchAsync(repo, tmpBranch, baseSha, ct);
        var build = new Build(repo, tmpBranch, baseSha);
        foreach (var pr in prs)
            await BuildPrAsync(build, plan, pr, ct);

        var head = build.Tmp;
        if (build.Landed.Count > 0 && plan.Final != FinalCommit.None && build.Tmp != baseSha)
        {
            var landed = build.LandedMembers;
            var (parents, message) = plan.Final switch
            {
                FinalCommit.OnTargetWithPrHeads => ((IReadOnlyList<CommitSha>)[baseSha, .. build.MergedHeads],
                    Messages.OctopusCommit(landed.Select(p => (p.Number, p.Title, p.Reviewers)).ToArray())),
                _ => ([baseSha], Messages.BatchSquashCommit(landed.Select(p => (p.Number, p.Title, p.Reviewers)).ToArray(), build.Authors)),
            };
            head = await github.CreateCommitAsync(repo, await TreeOfAsync(repo, build.Tmp, ct), parents, message, ct);
            // The batch commit carries every PR of the batch.
            build.Landed = build.Landed.Select(l => l with { Sha = head }).ToList();
        }

        if (build.Landed.Count > 0) await github.ResetBranchAsync(repo, outputBranch, head, ct);
        try
        {
            await github.DeleteBranchAsync(repo, tmpBranch, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // tmp is disposable: the next build of this attempt resets it, Complete deletes it again.
            logger.LogWarning(e, "Could not delete {Repo} branch {Branch}", repo, tmpBranch);
        }
        return new BuildResult(baseSha, build.Landed.Count > 0 ? head : null, build.Landed, build.Skipped);
    }

    private async Task BuildPrAsync(Build build, StrategyPlan plan, BatchMember pr, CancellationToken ct)
    {
        var repo = build.Repo;
        var start = build.Tmp;
        IReadOnlyList<CommitInfo> commits = [];
        if (plan.NeedsPrCommits)
        {
            var range = await github.CompareCommitsAsync(repo, build.BaseSha, pr.HeadSha, ct);
            commits = TopologicalOrder(range.Commits);
            if (plan.ForEachPr.Contains(PrStep.MergeEachCommit))
            {
                var refusal = !range.Complete ? Messages.RefusedTooManyCommits
                    : commits.FirstOrDefault(c => c.Parents.Count > 1) is { } merge ? Messages.RefusedMergeCommits(merge.Sha)
                    : null;
                if (refusal is not null)
                {
                    build.Skipped.Add(new SkippedPr(pr.Number, SkipKind.Refused, build.Landed.Count > 0, refusal));
                    return;
                }
            }
        }

        var headMerged = false;
        CommitSha? landed = null;
        var replayed = new List<(CommitInfo Commit, string Tree)>();
        foreach (var step in plan.ForEachPr)
        {
            switch (step)
            {
                case PrStep.MergeHead:
                    var result = await github.MergeAsync(repo, build.TmpBranch, pr.HeadSha, Messages.MergeCommit(pr.Number, pr.Title, pr.Reviewers), ct);
                    if (result is MergeResult.Conflict)
                    {
                        await SkipConflictAsync(build, pr, start, ct);
                        return;
                    }
                    if (result is MergeResult.Merged m)
                    {
                        build.Tmp = m.Sha;
                        headMerged = true;
                    }
                    break;

                case PrStep.MergeEachCommit:
                    foreach (var commit in commits)
                    {
                        var r = await github.MergeAsync(repo, build.TmpBranch, commit.Sha, Messages.ReplayMerge(commit.Sha, pr.Number), ct);
                        if (r is MergeResult.Conflict)
                        {
                            await SkipConflictAsync(build, pr, start, ct);
                            return;
                        }
                        // Already contained (nothing to merge): there is nothing of it to replay.
                        if (r is MergeResult.Merged rm)
                        {
                            build.Tmp = rm.Sha;
                            replayed.Add((commit, await TreeOfAsync(repo, rm.Sha, ct)));
                        }
                    }
                    break;

                case PrStep.SquashOntoS:
                    if (build.Tmp != start)
                    {
                        var author = commits.Count > 0 ? commits[0].Author with { Date = null } : null;
                        var message = Messages.SquashCommit(pr.Number, pr.Title, pr.Reviewers, commits.Select(c => c.Author));
                        build.S = await github.CreateCommitAsync(repo, await TreeOfAsync(repo, build.Tmp, ct), [build.S], message, author, null, ct);
                        await MoveTmpToSAsync(build, ct);
                    }
                    landed = build.S;
                    break;

                case PrStep.ReplayOntoS:
                    foreach (var (commit, tree) in replayed)
                    {
                        var message = Messages.CherryPickCommit(commit.Message, pr.Number, pr.Title, pr.Reviewers);
                        build.S = await github.CreateCommitAsync(repo, tree, [build.S], message, commit.Author, null, ct);
                    }
                    if (build.Tmp != build.S) await MoveTmpToSAsync(build, ct);
                    landed = build.S;
                    break;

                default:
                    throw new InvalidOperationException($"Unknown plan step {step}");
            }
        }

        build.Landed.Add(new LandedPr(pr.Number, landed ?? build.Tmp));
        build.LandedMembers.Add(pr);
        if (headMerged) build.MergedHeads.Add(pr.HeadSha);
        build.Authors.AddRange(commits.Select(c => c.Author));
    }

    private async Task SkipConflictAsync(Build build, BatchMember pr, CommitSha start, CancellationToken ct)
    {
        // A failed merge leaves tmp alone, but earlier commits of the same PR (cherry-pick) moved it.
        if (build.Tmp != start)
        {
            await github.ResetBranchAsync(build.Repo, build.TmpBranch, start, ct);
            build.Tmp = start;
        }
        build.Skipped.Add(new SkippedPr(pr.Number, SkipKind.Conflict, build.Landed.Count > 0, null));
    }

    private async Task MoveTmpToSAsync(Build build, CancellationToken ct)
    {
        await github.ResetBranchAsync(build.Repo, build.TmpBranch, build.S, ct);
        build.Tmp = build.S;
    }

    private async Task<string> TreeOfAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        (await github.GetCommitAsync(repo, sha, ct)).TreeSha;

    /// <summary>
    /// Parents before children, otherwise in the order given (GitHub's compare lists by date, which
    /// clock skew or rebases can make disagree with ancestry).
    /// </summary>
    internal static IReadOnlyList<CommitInfo> TopologicalOrder(IReadOnlyList<CommitInfo> commits)
    {
        var inRange = commits.Select(c => c.Sha).ToHashSet();
        var placed = new HashSet<CommitSha>();
        var remaining = commits.ToList();
        var ordered = new List<CommitInfo>(commits.Count);
        while (remaining.Count > 0)
        {
            var index = remaining.FindIndex(c => c.Parents.All(p => !inRange.Contains(p) || placed.Contains(p)));
            if (index < 0) throw new InvalidOperationException("The commits of the range form a cycle");
            ordered.Add(remaining[index]);
            placed.Add(remaining[index].Sha);
            remaining.RemoveAt(index);
        }
        return ordered;
    }

    /// <summary>One build's state: tmp's head, S (the last commit of the resulting history), and what landed.</summary>
    private sealed class Build(RepoId repo, string tmpBranch, CommitSha baseSha)
    {
        public RepoId Repo { get; } = repo;
        public string TmpBranch { get; } = tmpBranch;
        public CommitSha BaseSha { get; } = baseSha;
        public CommitSha Tmp { get; set; } = baseSha;
        public CommitSha S { get; set; } = baseSha;
        public List<LandedPr> Landed { get; set; } = [];
        public List<BatchMember> LandedMembers { get; } = [];
        public List<SkippedPr> Skipped { get; } = [];
        public List<CommitSha> MergedHeads { get; } = [];
        public List<GitIdentity> Authors { get; } = [];
    }
}
