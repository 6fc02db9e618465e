using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Freezes a target branch by name (the REST API's <c>freeze</c>), as the <c>freeze</c> command
    /// does for a PR's target: no new attempt starts there until it is unfrozen.
    /// </summary>
    public Task<FlowResult> FreezeTargetAsync(QueueId queue, string actor, string? reason, Cause cause, CancellationToken ct) =>
        Locked(queue.Repo, async () =>
        {
            var config = await configs.GetAsync(queue.Repo, ct);
            if (config is null) return FlowResult.Refused(Messages.RefusedNotManaged);
            if (!config.IsTarget(queue.Target)) return FlowResult.Refused(Messages.RefusedNotTarget(queue.Target));
            await store.SetFreezeAsync(new QueueFreeze(queue, actor, Now, reason), ct);
            await SaveAsync(new Changes { Events = { new EventLogEntry(Now, queue.Repo, null, null, "freeze", null, queue.Target, reason, cause) } }, cause, ct);
            await AdvanceAsync(queue, cause, ct);
            return FlowResult.Ok(Messages.Frozen(queue.Target, actor, reason));
        }, ct);

    /// <summary>Unfreezes a target branch by name (the REST API's <c>unfreeze</c>).</summary>
    public Task<FlowResult> UnfreezeTargetAsync(QueueId queue, Cause cause, CancellationToken ct) =>
        Locked(queue.Repo, async () =>
        {
            var config = await configs.GetAsync(queue.Repo, ct);
            if (config is null) return FlowResult.Refused(Messages.RefusedNotManaged);
            if (!config.IsTarget(queue.Target)) return FlowResult.Refused(Messages.RefusedNotTarget(queue.Target));
            if (!await store.ClearFreezeAsync(queue, ct)) return FlowResult.Refused(Messages.RefusedNotFrozen(queue.Target));
            await SaveAsync(new Changes { Events = { new EventLogEntry(Now, queue.Repo, null, null, "unfreeze", queue.Target, null, null, cause) } }, cause, ct);
            await AdvanceAsync(queue, cause, ct);
            return FlowResult.Ok($"{queue.Target} is open");
        }, ct);
}
