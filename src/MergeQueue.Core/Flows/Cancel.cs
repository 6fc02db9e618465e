using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using Microsoft.Extensions.Logging;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Cancel (seed 003): a command, new commits, or the PR closed. The PR leaves the queue in any
    /// active state; if it was in an attempt in flight, the attempt goes back to SPLIT with the other
    /// PRs, to be rebuilt without it, and the Advance step gives up the attempts stacked on it.
    /// </summary>
    public Task<FlowResult> CancelAsync(RepoId repo, int number, string reason, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var pr = await store.FindActivePullRequestAsync(repo, number, ct);
            if (pr is null) return FlowResult.Refused(Messages.RefusedNotInQueue);
            await WithdrawAsync(pr, reason, cause, ct);
            await AdvanceAsync(new QueueId(repo, pr.Target), cause, ct);
            return FlowResult.Ok(reason);
        }, ct);

    /// <summary>Cancel's change of rows: the PR leaves, an attempt in flight holding it goes back to SPLIT without it.</summary>
    private async Task WithdrawAsync(PullRequest pr, string reason, Cause cause, CancellationToken ct)
    {
        var changes = new Changes { PullRequests = { pr } };
        MergeAttempt? attempt = null;
        if (pr.State == PullRequestState.Merging && pr.AttemptId is { } id)
        {
            attempt = await store.GetAttemptAsync(id, ct);
            if (attempt is { IsInFlight: true })
            {
                attempt.BatchChanged(Messages.SplitBatchChanged(pr.Number), Now);
                changes.Attempts.Add(attempt);
                foreach (var mate in (await MembersAsync(attempt, ct)).Where(p => p.Number != pr.Number))
                {
                    mate.Split(attempt.Id, Messages.SplitBatchChanged(pr.Number), Now);
                    changes.PullRequests.Add(mate);
                }
            }
        }
        pr.Cancel(reason, Now);
        await SaveAsync(changes, cause, ct);
        if (attempt is { State: MergeAttemptState.Split } && await configs.GetAsync(pr.Repo, ct) is { } config)
            await DeleteAttemptBranchesAsync(attempt, config, ct); // its CI run is moot
        await ReportAllAsync(changes.PullRequests, ct);
    }

    /// <summary>The PR's active request, if any.</summary>
    public Task<PullRequest?> FindActiveAsync(RepoId repo, int number, CancellationToken ct) => store.FindActivePullRequestAsync(repo, number, ct);

    /// <summary>New commits on a PR's head branch (<c>synchronize</c>): a request for the old commit is void.</summary>
    public Task PushedAsync(RepoId repo, int number, CommitSha newHead, Cause cause, CancellationToken ct) =>
        CancelIfStillTrueAsync(repo, number, Messages.CancelledNewCommits,
            (pr, now) => pr.HeadSha != newHead && (now is null || now.HeadSha != pr.HeadSha), cause, ct);

    /// <summary>The PR was closed without merging (<c>closed</c>): a request for it is void.</summary>
    public Task ClosedAsync(RepoId repo, int number, Cause cause, CancellationToken ct) =>
        CancelIfStillTrueAsync(repo, number, Messages.CancelledClosed, (_, now) => now is not { Open: true }, cause, ct);

    /// <summary>The PR became a draft (<c>converted_to_draft</c>): a queued or merging request leaves.</summary>
    public Task DraftedAsync(RepoId repo, int number, Cause cause, CancellationToken ct) =>
        CancelIfStillTrueAsync(repo, number, Messages.CancelledDraft, (_, now) => now is null || now.Draft, cause, ct);

    /// <summary>
    /// Cancel for an event GitHub told of: deliveries come late and out of order, so GitHub's present
    /// state decides (read once per step). A push undone since, a PR reopened or made ready again,
    /// cancels nothing.
    /// </summary>
    private Task CancelIfStillTrueAsync(RepoId repo, int number, string reason, Func<PullRequest, PullRequestInfo?, bool> stillTrue, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var pr = await store.FindActivePullRequestAsync(repo, number, ct);
            if (pr is null) return;
            var now = await ReadPullRequestAsync(repo, number, ct);
            if (!stillTrue(pr, now))
            {
                logger.LogInformation("{Repo}#{Number}: a stale event, GitHub shows otherwise now; nothing cancelled ({Reason})", repo, number, reason);
                return;
            }
            await WithdrawAsync(pr, reason, cause, ct);
            await AdvanceAsync(new QueueId(repo, pr.Target), cause, ct);
        }, ct);
}
