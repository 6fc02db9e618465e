using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// <c>freeze [reason]</c>: the target of the PR the command was given on (its queued target, else
    /// its base) starts no new attempt until <c>unfreeze</c>. Running attempts finish and requests
    /// still queue; queued PRs say the target is frozen, by whom and why. The freeze is stored, so
    /// it survives restarts.
    /// </summary>
    public Task<FlowResult> FreezeAsync(RepoId repo, int number, string actor, string? reason, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var (queue, refused) = await CommandTargetAsync(repo, number, ct);
            if (refused is not null) return refused;
            await store.SetFreezeAsync(new QueueFreeze(queue, actor, Now, reason), ct);
            await SaveAsync(new Changes { Events = { new EventLogEntry(Now, repo, number, null, "freeze", null, queue.Target, reason, cause) } }, cause, ct);
            await AdvanceAsync(queue, cause, ct); // refreshes the queued PRs' descriptions
            return FlowResult.Ok(Messages.Frozen(queue.Target, actor, reason));
        }, ct);

    /// <summary><c>unfreeze</c>: the target starts attempts again, at once if a batch is due.</summary>
    public Task<FlowResult> UnfreezeAsync(RepoId repo, int number, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var (queue, refused) = await CommandTargetAsync(repo, number, ct);
            if (refused is not null) return refused;
            if (!await store.ClearFreezeAsync(queue, ct)) return FlowResult.Refused(Messages.RefusedNotFrozen(queue.Target));
            await SaveAsync(new Changes { Events = { new EventLogEntry(Now, repo, number, null, "unfreeze", queue.Target, null, null, cause) } }, cause, ct);
            await AdvanceAsync(queue, cause, ct);
            return FlowResult.Ok($"{queue.Target} is open");
        }, ct);

    /// <summary>The target's freeze, if any (the dashboard and API show it).</summary>
    public Task<QueueFreeze?> GetFreezeAsync(QueueId queue, CancellationToken ct) => store.GetFreezeAsync(queue, ct);

    /// <summary>The queue a command on this PR is about: the target of its active request, else its base.</summary>
    private async Task<(QueueId Queue, FlowResult? Refused)> CommandTargetAsync(RepoId repo, int number, CancellationToken ct)
    {
        var config = await configs.GetAsync(repo, ct);
        if (config is null) return (default, FlowResult.Refused(Messages.RefusedNotManaged));
        var active = await store.FindActivePullRequestAsync(repo, number, ct);
        var target = active?.Target;
        if (target is null)
        {
            var info = await github.GetPullRequestAsync(repo, number, ct);
            if (info is null) return (default, FlowResult.Refused(Messages.RefusedNotFound));
            target = info.BaseRef;
        }
        if (!config.IsTarget(target)) return (default, FlowResult.Refused(Messages.RefusedNotTarget(target)));
        return (new QueueId(repo, target), null);
    }
}
