using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.Service.Cluster;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Runner;

/// <summary>
/// The built-in runner's slots in this process (<c>MergeQueue:Runner:Slots</c>, none with 0: external
/// runners only): each claims a queued job and runs it with a <see cref="JobExecutor"/> reporting to the
/// <see cref="JobHost"/>. Every half <c>MergeQueue:Runner:HeartbeatTimeout</c> it also queues again the
/// jobs whose runner (a slot of any instance, or an external runner process) stopped sending heartbeats.
/// </summary>
public sealed class RunnerWorker(
    RunnerJobStore store,
    JobHost host,
    RunnerSignal signal,
    ClusterMember cluster,
    IOptions<ServiceOptions> options,
    ILogger<RunnerWorker> logger) : BackgroundService
{
    private ServiceOptions.RunnerOptions Settings => options.Value.Runner;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Settings.Enabled) return;
        try
        {
            // Jobs left running by an instance that is gone (this one before a restart, or a dead peer) run again.
            var alive = (await cluster.LiveInstancesAsync(stoppingToken)).Select(i => i.Id).Append(cluster.InstanceId).Distinct().ToArray();
            var requeued = await store.RequeueOrphansAsync(alive, stoppingToken);
            if (requeued > 0) logger.LogWarning("Runner: {Count} job(s) of instances that are gone queued again", requeued);
            await Task.WhenAll(Enumerable.Range(0, Settings.Slots).Select(slot => SlotAsync(slot, stoppingToken)).Append(SweepAsync(stoppingToken)));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SweepAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(Settings.HeartbeatTimeout / 2, stop);
            try
            {
                await host.SweepAsync(stop);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                logger.LogError(e, "Runner: could not queue again the jobs whose runner stopped sending heartbeats");
            }
        }
    }

    private async Task SlotAsync(int slot, CancellationToken stop)
    {
        var executor = new JobExecutor(host, Settings, logger);
        while (!stop.IsCancellationRequested)
        {
            RunnerJob? job = null;
            try
            {
                job = await host.ClaimAsync(cluster.InstanceId, stop);
                if (job is null)
                {
                    await signal.WaitAsync(Settings.PollInterval, stop);
                    continue;
                }
                await executor.RunAsync(job, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The runner itself failed (database, GitHub): the job ends in error, the slot goes on.
                logger.LogError(e, "Runner slot {Slot}: job {Job} failed in the runner", slot, job?.Id);
                if (job is not null) await host.FinishAsync(job, JobState.Error, Messages.JobError(e.Message), null, CancellationToken.None);
                await Task.Delay(TimeSpan.FromSeconds(1), stop);
            }
        }
    }
}
