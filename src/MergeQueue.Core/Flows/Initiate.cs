using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Initiate (seed 003): something that may make a REQUESTED PR ready happened (a review, a
    /// pre-check status, ready for review, a label, or a poll tick). Queues it when ready.
    /// </summary>
    public Task InitiateAsync(RepoId repo, int number, Cause cause, CancellationToken ct) =>
        Locked(repo, () => InitiateLockedAsync(repo, number, cause, ct), ct);

    private async Task InitiateLockedAsync(RepoId repo, int number, Cause cause, CancellationToken ct)
    {
        var pr = await store.FindActivePullRequestAsync(repo, number, ct);
        if (pr is null) return;
        // A queued PR held back at Construct (a label, draft) may be free now: Construct looks again.
        if (pr.State == PullRequestState.Queued)
        {
            await AdvanceAsync(new QueueId(repo, pr.Target), cause, ct);
            return;
        }
        if (pr.State != PullRequestState.Requested) return;
        var config = await configs.GetAsync(repo, ct);
        if (config is null) return;
        var info = await ReadPullRequestAsync(repo, number, ct);
        if (info is null || !info.Open)
        {
            pr.Cancel(Messages.CancelledClosed, Now);
        }
        else if (info.HeadSha != pr.HeadSha)
        {
            pr.Cancel(Messages.CancelledNewCommits, Now);
        }
        else
        {
            var readiness = await EvaluateReadinessAsync(repo, info, config, ct);
            if (readiness.Failed)
            {
                pr.Fail(readiness.Short, Now);
            }
            else if (readiness.Ready)
            {
                pr.Initiate(Now);
            }
            else
            {
                var reason = readiness.Short;
                if (reason == pr.Reason) return;
                pr.Reason = reason;
            }
        }

        await SaveAsync(new Changes { PullRequests = { pr } }, cause, ct);
        if (pr.State == PullRequestState.Queued) await AdvanceAsync(new QueueId(repo, pr.Target), cause, ct);
        else await ReportAsync(pr, ct);
    }

    /// <summary>Initiate for every REQUESTED PR whose head is this commit (a pre-check reported on it).</summary>
    public Task InitiateForCommitAsync(RepoId repo, CommitSha sha, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            foreach (var pr in (await RequestedAsync(repo, ct)).Where(p => p.HeadSha == sha))
                await InitiateLockedAsync(repo, pr.Number, cause, ct);
        }, ct);

    /// <summary>The repository's REQUESTED PRs (not yet ready), without the rest of its queues.</summary>
    private Task<IReadOnlyList<PullRequest>> RequestedAsync(RepoId repo, CancellationToken ct) =>
        store.GetPullRequestsInStatesAsync(repo, new Dictionary<PullRequestState, DateTimeOffset> { [PullRequestState.Requested] = DateTimeOffset.MaxValue }, ct);
}
