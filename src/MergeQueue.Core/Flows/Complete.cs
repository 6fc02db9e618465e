using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using Microsoft.Extensions.Logging;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>Complete (seed 003) as an entry point: one <see cref="AdvanceAsync"/> step lands every attempt that passed.</summary>
    public Task CompleteAsync(QueueId queue, Cause cause, CancellationToken ct) =>
        Locked(queue.Repo, () => AdvanceAsync(queue, cause, ct), ct);

    /// <summary>
    /// Complete (seed 003): fast-forward the target to the staging commit that passed. Attempts ahead
    /// of it that are still testing land with it (its commit holds theirs); attempts stacked on it
    /// now stand on the target. If the target moved meanwhile the fast-forward is refused and every
    /// attempt in flight is given up, its PRs queued again to be rebuilt on top of it.
    /// </summary>
    private async Task CompleteAttemptAsync(MergeAttempt attempt, IReadOnlyList<MergeAttempt> covered, RepoConfig config, Cause cause, CancellationToken ct)
    {
        if (await WithdrawMovedAsync(covered.Append(attempt).ToArray(), cause, ct)) return; // the planner looks again
        var staging = attempt.StagingSha!.Value;
        var moved = await github.FastForwardAsync(attempt.Repo, attempt.Target, staging, ct);
        var changes = new Changes();
        var ended = new List<MergeAttempt>();
        var (prs, attempts) = await LoadLineAsync(attempt.Queue, ct);
        if (moved)
        {
            foreach (var a in covered.Append(attempt))
            {
                a.Completed(Now, a == attempt ? null : Messages.LandedWith(attempt.Id));
                ended.Add(a);
                foreach (var pr in prs.Where(p => p.AttemptId == a.Id).ToArray())
                {
                    if (pr.LandedSha is { } landed) pr.MarkMerged(landed, Messages.MergedAs(landed), Now);
                    else pr.MarkMerged(staging, Messages.MergedIn(staging), Now);
                    changes.PullRequests.Add(pr);
                }
            }
            // Stacked on the landed commit: now built on the target itself.
            foreach (var next in attempts.Where(a => a.IsInFlight && a.AheadId == attempt.Id && a.BaseSha == staging))
            {
                next.AheadId = null;
                changes.Attempts.Add(next);
            }
        }
        else
        {
            foreach (var a in attempts.Where(a => a.IsInFlight))
            {
                var members = prs.Where(p => p.AttemptId == a.Id).ToArray();
                RequeueAll(a, members, Messages.RequeuedTargetMoved(attempt.Target));
                changes.PullRequests.AddRange(members);
                ended.Add(a);
            }
        }
        changes.Attempts.AddRange(ended);
        await SaveAsync(changes, cause, ct);
        foreach (var a in ended) await DeleteAttemptBranchesAsync(a, config, ct);
        await ReportAllAsync(changes.PullRequests, ct);
        if (moved) await CloseLandedAsync(changes.PullRequests, ct);
    }

    /// <summary>
    /// Before the target moves, every PR about to land must still be open at the head it was tested
    /// with: a push accepted but not processed yet (its delivery queued behind the CI result that
    /// completes the attempt) would otherwise land the old head. GitHub is asked (once per step). A PR
    /// that moved or was closed unmerged is cancelled as its delivery would have done; true when any was.
    /// </summary>
    private async Task<bool> WithdrawMovedAsync(IReadOnlyList<MergeAttempt> landing, Cause cause, CancellationToken ct)
    {
        var ids = landing.Select(a => a.Id).ToHashSet();
        var withdrawn = false;
        foreach (var pr in await store.GetAttemptMembersAsync(ids, ct))
        {
            var info = await ReadPullRequestAsync(pr.Repo, pr.Number, ct);
            // Merged already is fine: our own fast-forward whose save a crash interrupted, landing again as a no-op.
            if (info is not null && (info.Open || info.Merged) && info.HeadSha == pr.HeadSha) continue;
            var current = await store.FindActivePullRequestAsync(pr.Repo, pr.Number, ct);
            if (current is null) continue;
            await WithdrawAsync(current, info is { Open: true } ? Messages.CancelledNewCommits : Messages.CancelledClosed, cause, ct);
            withdrawn = true;
        }
        return withdrawn;
    }

    /// <summary>
    /// Squash-type strategies leave the PR head out of the target, so GitHub does not see the PR as
    /// merged: we close it (CONTRACT §5). Its row is already Merged, so the <c>closed</c> webhook this
    /// causes finds no active request and changes nothing.
    /// </summary>
    private async Task CloseLandedAsync(IEnumerable<PullRequest> members, CancellationToken ct)
    {
        foreach (var pr in members.Where(p => p.State == PullRequestState.Merged && p.LandedSha is not null))
        {
            try
            {
                await github.ClosePullRequestAsync(pr.Repo, pr.Number, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The merge is done and reported; an open PR is cosmetic and closing it again is for a person.
                logger.LogWarning(e, "Could not close {Repo}#{Number} after merging it as {Sha}", pr.Repo, pr.Number, pr.LandedSha);
            }
        }
    }

    /// <summary>
    /// A push to a target branch. GitHub's present state decides, not the delivery: a late delivery
    /// of our own earlier fast-forward names an older commit than the branch holds now. When someone
    /// else moved the branch, a line of attempts built on the old target can never be fast-forwarded,
    /// so its CI runs are wasted: give it up now and queue its PRs again.
    /// </summary>
    public Task TargetPushedAsync(RepoId repo, string branch, CommitSha newSha, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var config = await configs.GetAsync(repo, ct);
            if (config is null || !config.IsTarget(branch)) return;
            var queue = new QueueId(repo, branch);
            var (_, attempts) = await LoadLineAsync(queue, ct);
            var heads = attempts.Where(a => a.IsInFlight && a.AheadId is null && a.BaseSha is not null).ToArray();
            // Our own landing moves nothing we do not know of: lines built beside it are the planner's to settle.
            if (heads.Length > 0 && await github.GetBranchAsync(repo, branch, ct) is { } current && current != (await store.GetLastLandedAsync(queue, ct))?.Sha)
            {
                foreach (var head in heads.Where(a => a.BaseSha != current && a.StagingSha != current))
                    await AbandonAsync(head, Messages.RequeuedTargetMoved(branch), config, cause, ct, targetMoved: true);
            }
            await AdvanceAsync(queue, cause, ct);
        }, ct);

    private void RequeueAll(MergeAttempt attempt, IEnumerable<PullRequest> members, string reason)
    {
        attempt.TargetMoved(reason, Now);
        foreach (var pr in members) pr.Requeue(reason, Now);
    }
}
