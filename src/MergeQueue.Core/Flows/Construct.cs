using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Construct (seed 003): when no attempt runs on the target, build the next one: a split attempt
    /// first, else a new batch of queued PRs (see <see cref="BatchPlanner"/>). The batch is merged
    /// on the tmp branch, the result put on the staging branch for CI, and the attempt is TESTING.
    /// </summary>
    public Task ConstructAsync(QueueId queue, Cause cause, CancellationToken ct) =>
        Locked(queue.Repo, async () =>
        {
            var config = await configs.GetAsync(queue.Repo, ct);
            if (config is null) return;
            // Each pass either starts an attempt or retires PRs/attempts, so this ends; the bound is a guard.
            for (var pass = 0; pass < 64; pass++)
            {
                var (prs, attempts) = await LoadQueueAsync(queue, ct);
                var decision = BatchPlanner.Plan(prs, attempts, config, Now);
                if (decision is BatchDecision.RemoveEmpty empty)
                {
                    empty.Attempt.Empty("no pull requests left", Now);
                    await SaveAsync(new Changes { Attempts = { empty.Attempt } }, cause, ct);
                    await DeleteAttemptBranchesAsync(empty.Attempt, config, ct);
                    continue;
                }

                MergeAttempt attempt;
                IReadOnlyList<PullRequest> batch;
                if (decision is BatchDecision.BuildSplit split)
                {
                    (attempt, batch) = (split.Attempt, split.PullRequests);
                    attempt.Construct(Now);
                }
                else if (decision is BatchDecision.NewBatch next)
                {
                    var id = await store.NextAttemptIdAsync(ct);
                    (attempt, batch) = (MergeAttempt.Create(id, queue, MergeAttemptState.Constructing, null, null, Now), next.PullRequests);
                }
                else
                {
                    break; // busy, idle, frozen, or waiting for the batch delay
                }

                foreach (var pr in batch) pr.Batch(attempt.Id, Now);
                var changes = new Changes { Attempts = { attempt } };
                changes.PullRequests.AddRange(batch);
                await SaveAsync(changes, cause, ct);
                await ReportAllAsync(batch, ct);
                if (await BuildAsync(attempt, batch, config, cause, ct)) break;
            }
            await ReportPositionsAsync(queue, config, cause, ct);
        }, ct);

    /// <summary>
    /// Builds the attempt's commit with the merge strategy: a merge commit per PR on the tmp branch,
    /// then the staging branch set to the result. A PR that conflicts with the target itself fails;
    /// one that conflicts only with its batch-mates goes to a new SPLIT attempt. Returns false when
    /// no PR could be merged (the attempt is retired and Construct goes on).
    /// </summary>
    private async Task<bool> BuildAsync(MergeAttempt attempt, IReadOnlyList<PullRequest> batch, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var repo = attempt.Repo;
        var tmp = config.TmpBranch(attempt.Target, attempt.Id);
        var baseSha = await github.GetBranchAsync(repo, attempt.Target, ct)
            ?? throw new InvalidOperationException($"{repo} has no branch {attempt.Target}");
        await github.ResetBranchAsync(repo, tmp, baseSha, ct);

        var head = baseSha;
        var merged = new List<PullRequest>();
        var conflictWithTarget = new List<PullRequest>();
        var conflictWithBatch = new List<PullRequest>();
        foreach (var pr in batch)
        {
            var result = await github.MergeAsync(repo, tmp, pr.HeadSha, Messages.MergeCommit(pr.Number, pr.Title, []), ct);
            switch (result)
            {
                case MergeResult.Merged m:
                    head = m.Sha;
                    merged.Add(pr);
                    break;
                case MergeResult.NothingToMerge:
                    merged.Add(pr);
                    break;
                default:
                    // Against the bare target the conflict is the PR's own; after batch-mates it may be theirs.
                    (merged.Count == 0 ? conflictWithTarget : conflictWithBatch).Add(pr);
                    break;
            }
        }

        var changes = new Changes { Attempts = { attempt } };
        foreach (var pr in conflictWithTarget) pr.Fail(Messages.ConflictWithTarget, Now);
        changes.PullRequests.AddRange(conflictWithTarget);
        if (conflictWithBatch.Count > 0)
        {
            var id = await store.NextAttemptIdAsync(ct);
            var split = MergeAttempt.Create(id, attempt.Queue, MergeAttemptState.Split, attempt.Id, Messages.SplitConflict(attempt.Id), Now);
            foreach (var pr in conflictWithBatch) pr.Split(id, Messages.SplitConflict(attempt.Id), Now);
            changes.Attempts.Add(split);
            changes.PullRequests.AddRange(conflictWithBatch);
        }

        if (merged.Count == 0)
        {
            attempt.Empty("every pull request conflicted", Now);
            await SaveAsync(changes, cause, ct);
            await DeleteBranchQuietlyAsync(repo, tmp, ct);
            await ReportAllAsync(changes.PullRequests, ct);
            return false;
        }

        await github.ResetBranchAsync(repo, config.StagingBranch(attempt.Target, attempt.Id), head, ct);
        await DeleteBranchQuietlyAsync(repo, tmp, ct);
        attempt.Built(baseSha, head, Now);
        foreach (var pr in merged) pr.Reason = Messages.Testing(attempt.Id, merged.Count);
        changes.PullRequests.AddRange(merged);
        await SaveAsync(changes, cause, ct);
        await ReportAllAsync(changes.PullRequests, ct);
        return true;
    }
}
