using MergeQueue.Core.Approval;
using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;
using MergeQueue.Core.Strategies;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Construct (seed 003): when no attempt runs on the target and the target is not frozen, build
    /// the next one: a split attempt first, else a new batch of queued PRs (see
    /// <see cref="BatchPlanner"/>). The PRs of a new batch pass the merge rules again first: one
    /// that now fails a rule fails, one that waits (a blocking label added, made draft) stays queued
    /// but held back, and the batch is planned again without them. The batch is merged on the tmp
    /// branch, the result put on the staging branch for CI, and the attempt is TESTING.
    /// </summary>
    public Task ConstructAsync(QueueId queue, Cause cause, CancellationToken ct) =>
        Locked(queue.Repo, async () =>
        {
            var config = await configs.GetAsync(queue.Repo, ct);
            if (config is null) return;
            var freeze = await store.GetFreezeAsync(queue, ct);
            var held = new Dictionary<int, string>();
            // Each pass either starts an attempt or retires or holds PRs/attempts, so this ends; the bound is a guard.
            for (var pass = 0; pass < 64; pass++)
            {
                var (prs, attempts) = await LoadQueueAsync(queue, ct);
                var candidates = prs.Where(p => !held.ContainsKey(p.Number)).ToArray();
                var decision = BatchPlanner.Plan(candidates, attempts, config, Now, frozen: freeze is not null);
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
                    // Split PRs passed the rules when their first batch was built; a split is that attempt continuing.
                    (attempt, batch) = (split.Attempt, split.PullRequests);
                    attempt.Construct(Now);
                }
                else if (decision is BatchDecision.NewBatch next)
                {
                    if (await RetireOrHoldAsync(next.PullRequests, config, held, cause, ct)) continue;
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
            await ReportPositionsAsync(queue, config, cause, ct, freeze, held);
        }, ct);

    /// <summary>
    /// Construct's second look at the rules, for the PRs of a new batch. Fails those that now break
    /// a rule, cancels those closed or pushed to since they were queued, and notes in
    /// <paramref name="held"/> those that must wait. Returns true when any PR was taken out (the
    /// batch is planned again).
    /// </summary>
    private async Task<bool> RetireOrHoldAsync(IReadOnlyList<PullRequest> batch, RepoConfig config, Dictionary<int, string> held, Cause cause, CancellationToken ct)
    {
        var changes = new Changes();
        foreach (var pr in batch)
        {
            var info = await github.GetPullRequestAsync(pr.Repo, pr.Number, ct);
            if (info is null || !info.Open)
            {
                pr.Cancel(Messages.CancelledClosed, Now);
                changes.PullRequests.Add(pr);
                continue;
            }
            if (info.HeadSha != pr.HeadSha)
            {
                pr.Cancel(Messages.CancelledNewCommits, Now);
                changes.PullRequests.Add(pr);
                continue;
            }
            var rules = await EvaluateRulesAsync(pr.Repo, info, config, ct);
            if (rules.Failed)
            {
                pr.Fail(rules.Short, Now);
                changes.PullRequests.Add(pr);
            }
            else if (!rules.Ready)
            {
                held[pr.Number] = Messages.Held(rules.Summary);
            }
        }
        await SaveAsync(changes, cause, ct);
        await ReportAllAsync(changes.PullRequests, ct);
        return changes.PullRequests.Count > 0 || batch.Any(p => held.ContainsKey(p.Number));
    }

    /// <summary>
    /// Builds the attempt's commit with the repository's strategy (<see cref="StrategyPlan"/>, run by
    /// <see cref="StrategyExecutor"/>) and puts it on the staging branch. A PR that conflicts with the
    /// target itself fails, as does one the strategy refuses; one that conflicts only with its
    /// batch-mates goes to a new SPLIT attempt. Returns false when no PR could be built (the attempt
    /// is retired and Construct goes on).
    /// </summary>
    private async Task<bool> BuildAsync(MergeAttempt attempt, IReadOnlyList<PullRequest> batch, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var repo = attempt.Repo;
        var baseSha = await github.GetBranchAsync(repo, attempt.Target, ct)
            ?? throw new InvalidOperationException($"{repo} has no branch {attempt.Target}");
        var members = new List<BatchMember>();
        foreach (var pr in batch)
        {
            var approvers = ApprovalRule.Evaluate(await github.GetReviewsAsync(repo, pr.Number, ct), pr.HeadSha, config.RequiredApprovals).ApprovedBy;
            members.Add(new BatchMember(pr.Number, pr.Title, pr.HeadSha, approvers));
        }
        var plan = StrategyPlan.For(config.Strategy);
        var result = await new StrategyExecutor(github, logger).BuildAsync(
            repo, plan, baseSha, config.TmpBranch(attempt.Target, attempt.Id), config.StagingBranch(attempt.Target, attempt.Id), members, ct);

        var byNumber = batch.ToDictionary(p => p.Number);
        var changes = new Changes { Attempts = { attempt } };
        var splitToo = new List<PullRequest>();
        foreach (var skipped in result.Skipped)
        {
            var pr = byNumber[skipped.Number];
            changes.PullRequests.Add(pr);
            if (skipped.Kind == SkipKind.Refused) pr.Fail(skipped.Reason ?? Messages.ConflictWithTarget, Now);
            // Against the bare target the conflict is the PR's own; after batch-mates it may be theirs.
            else if (!skipped.AfterBatchMates) pr.Fail(Messages.ConflictWithTarget, Now);
            else splitToo.Add(pr);
        }
        if (splitToo.Count > 0)
        {
            var id = await store.NextAttemptIdAsync(ct);
            var split = MergeAttempt.Create(id, attempt.Queue, MergeAttemptState.Split, attempt.Id, Messages.SplitConflict(attempt.Id), Now);
            foreach (var pr in splitToo) pr.Split(id, Messages.SplitConflict(attempt.Id), Now);
            changes.Attempts.Add(split);
        }

        if (result.Head is not { } head)
        {
            attempt.Empty("every pull request conflicted", Now);
            await SaveAsync(changes, cause, ct);
            await ReportAllAsync(changes.PullRequests, ct);
            return false;
        }

        attempt.Built(baseSha, head, Now);
        foreach (var landed in result.Merged)
        {
            var pr = byNumber[landed.Number];
            // Set (or cleared) on every build: the strategy may have changed since an earlier attempt.
            pr.LandedSha = plan.ClosesPullRequests ? landed.Sha : null;
            pr.Reason = Messages.Testing(attempt.Id, result.Merged.Count);
            changes.PullRequests.Add(pr);
        }
        await SaveAsync(changes, cause, ct);
        await ReportAllAsync(changes.PullRequests, ct);
        return true;
    }
}
