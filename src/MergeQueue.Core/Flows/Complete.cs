using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using Microsoft.Extensions.Logging;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Complete (seed 003): fast-forward the target to the tested staging commit. If the target
    /// moved meanwhile the fast-forward is refused and the PRs are queued again, to be rebuilt on
    /// top of it. Either way the attempt's branches go and Construct runs.
    /// </summary>
    private async Task CompleteAttemptAsync(MergeAttempt attempt, IReadOnlyList<PullRequest> members, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var staging = attempt.StagingSha!.Value;
        var moved = await github.FastForwardAsync(attempt.Repo, attempt.Target, staging, ct);
        if (moved)
        {
            attempt.Completed(Now);
            foreach (var pr in members)
            {
                if (pr.LandedSha is { } landed) pr.MarkMerged(landed, Messages.MergedAs(landed), Now);
                else pr.MarkMerged(staging, Messages.MergedIn(staging), Now);
            }
        }
        else
        {
            RequeueAll(attempt, members, Messages.RequeuedTargetMoved(attempt.Target));
        }
        var changes = new Changes { Attempts = { attempt } };
        changes.PullRequests.AddRange(members);
        await SaveAsync(changes, cause, ct);
        await DeleteAttemptBranchesAsync(attempt, config, ct);
        await ReportAllAsync(members, ct);
        if (moved) await CloseLandedAsync(members, ct);
        await ConstructAsync(attempt.Queue, cause, ct);
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
    /// Someone else moved a target branch. An attempt built on the old target can never be
    /// fast-forwarded, so its CI run is wasted: give it up now and queue its PRs again.
    /// </summary>
    public Task TargetPushedAsync(RepoId repo, string branch, CommitSha newSha, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var config = await configs.GetAsync(repo, ct);
            if (config is null || !config.IsTarget(branch)) return;
            var stale = (await store.GetActiveAttemptsAsync(repo, ct))
                .Where(a => a.Target == branch && a.State is MergeAttemptState.Testing or MergeAttemptState.Success
                            && a.BaseSha != newSha && a.StagingSha != newSha)
                .ToArray();
            foreach (var attempt in stale)
            {
                var members = await MembersAsync(attempt, ct);
                RequeueAll(attempt, members, Messages.RequeuedTargetMoved(branch));
                var changes = new Changes { Attempts = { attempt } };
                changes.PullRequests.AddRange(members);
                await SaveAsync(changes, cause, ct);
                await DeleteAttemptBranchesAsync(attempt, config, ct);
                await ReportAllAsync(members, ct);
            }
            if (stale.Length > 0) await ConstructAsync(new QueueId(repo, branch), cause, ct);
        }, ct);

    private void RequeueAll(MergeAttempt attempt, IEnumerable<PullRequest> members, string reason)
    {
        attempt.TargetMoved(reason, Now);
        foreach (var pr in members) pr.Requeue(reason, Now);
    }
}
