using MergeQueue.Core.Approval;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Request (seed 003): a merge command. A new request is REQUESTED, and QUEUED at once when
    /// ready; repeating it on a waiting PR changes its priority instead of erroring. A request
    /// that breaks a rule only new commits could fix (commit messages, size, author) fails at once.
    /// </summary>
    public Task<FlowResult> RequestAsync(RepoId repo, int number, MergeRequest request, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var config = await configs.GetAsync(repo, ct);
            if (config is null) return FlowResult.Refused(Messages.RefusedNotManaged);
            var info = await ReadPullRequestAsync(repo, number, ct);
            if (info is null) return FlowResult.Refused(Messages.RefusedNotFound);
            if (!info.Open) return FlowResult.Refused(Messages.RefusedClosed);
            var target = request.Branch ?? info.BaseRef;
            if (!config.IsTarget(target)) return FlowResult.Refused(Messages.RefusedNotTarget(target));
            if (await HeadIsNotTheRequestedAsync(repo, info, request.Head, request.WrittenAt, ct) is { } moved) return FlowResult.Refused(moved);

            var existing = await store.FindActivePullRequestAsync(repo, number, ct);
            if (existing is not null)
                return await RepeatRequestAsync(existing, info, request, target, cause, ct);

            var pr = PullRequest.Create(repo, number, target, info.HeadSha, request.Priority ?? 0, Now);
            pr.RequestedBy = request.Actor;
            pr.Title = info.Title;
            pr.Author = info.Author;
            var readiness = await EvaluateReadinessAsync(repo, info, config, ct);
            if (readiness.Failed) pr.Fail(readiness.Short, Now);
            else if (readiness.Ready) pr.Initiate(Now);
            else pr.Reason = readiness.Short;

            await SaveAsync(new Changes { PullRequests = { pr } }, cause, ct);
            if (pr.State == PullRequestState.Queued)
            {
                await AdvanceAsync(new QueueId(repo, target), cause, ct);
                return FlowResult.Ok(Messages.QueuedFor(target));
            }
            await ReportAsync(pr, ct);
            return FlowResult.Ok(pr.Reason!);
        }, ct);

    /// <summary>
    /// <c>retry</c>: a new request with the last request's priority and target (a <c>branch=</c>
    /// given then still applies), after it failed, timed out or was cancelled. On a PR still in the
    /// queue it is a repeated request.
    /// </summary>
    public async Task<FlowResult> RetryAsync(RepoId repo, int number, string actor, Cause cause, CancellationToken ct, DateTimeOffset? writtenAt = null)
    {
        var last = await store.FindLatestPullRequestAsync(repo, number, ct);
        var request = last is null ? new MergeRequest(actor) : new MergeRequest(actor, last.Priority, last.Target);
        return await RequestAsync(repo, number, request with { WrittenAt = writtenAt }, cause, ct);
    }

    /// <summary>
    /// A request is pinned to the head it was made for: the commit an approval approved, or the
    /// head a comment was written on. A head GitHub's repository activity shows pushed after the
    /// comment's second is not that head (timestamps are whole seconds: a push in the same second
    /// counts as before). Null when the head is the requested one, or nothing says otherwise.
    /// </summary>
    private async Task<string?> HeadIsNotTheRequestedAsync(RepoId repo, Ports.PullRequestInfo info, CommitSha? head, DateTimeOffset? writtenAt, CancellationToken ct)
    {
        if (head is { } approved && approved != info.HeadSha) return Messages.RefusedNotApprovedHead(approved, info.HeadSha);
        if (writtenAt is not { } written) return null;
        var pushedAt = await github.GetPushedAtAsync(repo, info.HeadRef, info.HeadSha, ct);
        return pushedAt > written ? Messages.RefusedPushedAfterCommand(info.HeadSha) : null;
    }

    private async Task<FlowResult> RepeatRequestAsync(PullRequest existing, Ports.PullRequestInfo info, MergeRequest request, string target, Cause cause, CancellationToken ct)
    {
        if (existing.Target != target)
            return FlowResult.Refused(Messages.RefusedQueuedElsewhere(existing.Target, target));
        if (existing.State is PullRequestState.Merging or PullRequestState.Split)
            return FlowResult.Refused(Messages.RefusedAlreadyMerging(existing.AttemptId));
        if (request.Priority is { } p && p != existing.Priority)
        {
            existing.Reprioritize(p, Now);
            await SaveAsync(new Changes { PullRequests = { existing } }, cause, ct);
            if (existing.State == PullRequestState.Queued)
                await AdvanceAsync(new QueueId(existing.Repo, existing.Target), cause, ct);
            return FlowResult.Ok(Messages.PrioritySet(p));
        }
        // Nothing to change: a repeated request re-checks readiness, as Initiate would.
        await InitiateLockedAsync(existing.Repo, existing.Number, cause, ct);
        return FlowResult.Ok(Messages.AlreadyRequested);
    }

    /// <summary>Reads what readiness needs (only what the config asks for) and explains it.</summary>
    private async Task<ReadinessResult> EvaluateReadinessAsync(RepoId repo, Ports.PullRequestInfo info, Config.RepoConfig config, CancellationToken ct)
    {
        var reviews = config.RequiredApprovals > 0 ? await ReadReviewsAsync(repo, info.Number, ct) : [];
        var checks = config.PreChecks.Count > 0 ? await github.GetChecksAsync(repo, info.HeadSha, ct) : [];
        var commits = config.CommitMessagePattern is null ? null : await github.GetPullRequestCommitsAsync(repo, info.Number, ct);
        return Readiness.Evaluate(info, reviews, checks, config, commits);
    }

    /// <summary>The rules alone (Construct checks them again before a PR enters a batch).</summary>
    private async Task<ReadinessResult> EvaluateRulesAsync(RepoId repo, Ports.PullRequestInfo info, Config.RepoConfig config, CancellationToken ct)
    {
        var commits = config.CommitMessagePattern is null ? null : await github.GetPullRequestCommitsAsync(repo, info.Number, ct);
        // Approvals and pre-checks are not asked again (seed 003 checks them once, at the requested commit).
        return Readiness.Explain(new ReadinessFacts { Config = config with { RequiredApprovals = 0, PreChecks = [] }, PullRequest = info, Commits = commits });
    }
}
