using MergeQueue.Core.Approval;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Request (seed 003): a merge command. A new request is REQUESTED, and QUEUED at once when
    /// ready; repeating it on a waiting PR changes its priority instead of erroring.
    /// </summary>
    public Task<FlowResult> RequestAsync(RepoId repo, int number, MergeRequest request, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var config = await configs.GetAsync(repo, ct);
            if (config is null) return FlowResult.Refused(Messages.RefusedNotManaged);
            var info = await github.GetPullRequestAsync(repo, number, ct);
            if (info is null) return FlowResult.Refused(Messages.RefusedNotFound);
            if (!info.Open) return FlowResult.Refused(Messages.RefusedClosed);
            var target = request.Branch ?? info.BaseRef;
            if (!config.IsTarget(target)) return FlowResult.Refused(Messages.RefusedNotTarget(target));

            var existing = await store.FindActivePullRequestAsync(repo, number, ct);
            if (existing is not null)
                return await RepeatRequestAsync(existing, info, request, target, cause, ct);

            var pr = PullRequest.Create(repo, number, target, info.HeadSha, request.Priority ?? 0, Now);
            pr.RequestedBy = request.Actor;
            pr.Title = info.Title;
            pr.Author = info.Author;
            var readiness = await EvaluateReadinessAsync(repo, info, config, ct);
            if (readiness.Ready) pr.Initiate(Now);
            else pr.Reason = Messages.Requested(readiness.Summary);

            await SaveAsync(new Changes { PullRequests = { pr } }, cause, ct);
            if (pr.State == PullRequestState.Queued)
            {
                await ConstructAsync(new QueueId(repo, target), cause, ct);
                return FlowResult.Ok($"queued for {target}");
            }
            await ReportAsync(pr, ct);
            return FlowResult.Ok(pr.Reason!);
        }, ct);

    private async Task<FlowResult> RepeatRequestAsync(PullRequest existing, Ports.PullRequestInfo info, MergeRequest request, string target, Cause cause, CancellationToken ct)
    {
        if (existing.Target != target)
            return FlowResult.Refused($"already queued for {existing.Target}; cancel it first to merge into {target}");
        if (existing.State is PullRequestState.Merging or PullRequestState.Split)
            return FlowResult.Refused(Messages.RefusedAlreadyMerging(existing.AttemptId));
        if (request.Priority is { } p && p != existing.Priority)
        {
            existing.Reprioritize(p, Now);
            await SaveAsync(new Changes { PullRequests = { existing } }, cause, ct);
            if (existing.State == PullRequestState.Queued)
                await ConstructAsync(new QueueId(existing.Repo, existing.Target), cause, ct);
            return FlowResult.Ok($"priority set to {p}");
        }
        // Nothing to change: a repeated request re-checks readiness, as Initiate would.
        await InitiateAsync(existing.Repo, existing.Number, cause, ct);
        return FlowResult.Ok("already requested");
    }

    private async Task<ReadinessResult> EvaluateReadinessAsync(RepoId repo, Ports.PullRequestInfo info, Config.RepoConfig config, CancellationToken ct)
    {
        var reviews = config.RequiredApprovals > 0 ? await github.GetReviewsAsync(repo, info.Number, ct) : [];
        var checks = config.PreChecks.Count > 0 ? await github.GetChecksAsync(repo, info.HeadSha, ct) : [];
        return Readiness.Evaluate(info, reviews, checks, config);
    }
}
