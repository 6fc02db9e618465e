using MergeQueue.Core;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using Quartz;

namespace MergeQueue.Service.Jobs;

/// <summary>
/// One run of seed 003's Poll, then the built-in runner's status reconciliation (when the runner is on).
/// The Quartz job calls it; tests call it directly instead of waiting.
/// </summary>
public sealed class QueueTicker(MergeQueueFlows flows, Runner.StatusReconciler reconciler, GitHubCallRecorder recorder, TimeProvider clock, ILogger<QueueTicker> logger)
{
    public async Task TickAsync(CancellationToken ct)
    {
        var tick = $"tick-{clock.GetUtcNow():yyyyMMddTHHmmss.fff}";
        using var activity = Tracing.StartRoot("poll tick");
        activity?.SetTag("mergequeue.poll.tick", tick);
        ServiceMetrics.PollTicks.Inc();
        var started = clock.GetTimestamp();
        await recorder.RecordAsync(Cause.Poll(tick), async () => { await flows.PollAsync(Cause.Poll(tick), ct); return true; }, ct);
        await recorder.RecordAsync(Cause.Poll(tick), async () => { await reconciler.ReconcileAllAsync(ct); return true; }, ct);
        logger.LogInformation("Poll {Tick} done in {Elapsed} ms", tick, (int)clock.GetElapsedTime(started).TotalMilliseconds);
    }
}

/// <summary>The Quartz poller: never two ticks at once.</summary>
[DisallowConcurrentExecution]
public sealed class PollJob(QueueTicker ticker) : IJob
{
    public const string Name = "poll";

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default) =>
        await ticker.TickAsync(cancellationToken);
}
