using MergeQueue.Core.Ports;
using MergeQueue.Data;
using MergeQueue.GitHub.Resilience;
using MergeQueue.Service.Cluster;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Webhooks;

/// <summary>
/// Handles accepted deliveries: each repository's in the order they were received, one at a time,
/// and different repositories side by side (a lane each), so a repository that GitHub rate limits
/// never holds up another. A delivery whose handling fails is retried with backoff
/// (<see cref="ServiceOptions.WebhookOptions"/>) and after the last try parked as dead for an admin
/// to replay; a refusal by GitHub (a 404, a 422) ends as failed at once. When GitHub was unavailable, the repository's later deliveries wait behind it (their
/// order is kept); any other failure (a poison delivery) holds up nothing. After a crash it resumes
/// with every delivery not yet marked, so nothing accepted is lost (a delivery cut off mid-way is
/// handled again; the flows tolerate that). Instances sharing a database split the lanes between them:
/// a lane runs only while its instance holds the lane's lease (<see cref="ClusterMember"/>), renewed as
/// it works, so a repository's deliveries are still handled once and in order; a dead instance's lanes
/// are taken over when their leases expire.
/// </summary>
public sealed class DeliveryProcessor(
    WebhookInbox inbox,
    Database database,
    ClusterMember member,
    DeliveryHandler handler,
    GitHubCallRecorder recorder,
    IOptions<ServiceOptions> options,
    TimeProvider clock,
    ILogger<DeliveryProcessor> logger) : BackgroundService
{
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Dictionary<string, Task> _lanes = [];
    private readonly SemaphoreSlim _dispatch = new(1, 1);

    /// <summary>Wakes the processor: a delivery was accepted, replayed, or a lane finished.</summary>
    public void Signal()
    {
        if (_signal.CurrentCount == 0) _signal.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await DispatchAsync(stoppingToken);
                await _signal.WaitAsync(await UntilNextRetryAsync(stoppingToken), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The inbox itself failed (database locked or gone): wait and try again, losing nothing.
                logger.LogError(e, "Reading the webhook inbox failed");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        Task[] running;
        lock (_lanes) running = [.. _lanes.Values];
        await Task.WhenAll(running).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>How long to sleep when nothing is due: until the next retry, at most 5 s.</summary>
    private async Task<TimeSpan> UntilNextRetryAsync(CancellationToken ct)
    {
        var cap = TimeSpan.FromSeconds(5);
        if (await inbox.GetNextRetryAsync(ct) is not { } next) return cap;
        var wait = next - clock.GetUtcNow();
        return wait <= TimeSpan.Zero ? TimeSpan.FromMilliseconds(50) : wait < cap ? wait : cap;
    }

    /// <summary>Starts a lane for every repository with due deliveries, none running here, and no other instance holding it.</summary>
    private async Task DispatchAsync(CancellationToken ct)
    {
        await _dispatch.WaitAsync(ct);
        try
        {
            string[] busy;
            lock (_lanes) busy = [.. _lanes.Keys];
            var free = options.Value.Webhooks.Lanes - busy.Length;
            if (free <= 0) return;
            var elsewhere = (await member.LeasesAsync(ct))
                .Where(l => l.Holder != member.InstanceId && l.Name.StartsWith(ClusterMember.LanePrefix, StringComparison.Ordinal))
                .Select(l => l.Name[ClusterMember.LanePrefix.Length..]);
            var due = await inbox.GetDueAsync(200, [.. busy, .. elsewhere], ct);
            foreach (var lane in due.GroupBy(WebhookInbox.LaneOf))
            {
                if (free == 0) break;
                if (!await member.TryLeaseAsync(ClusterMember.LanePrefix + lane.Key, ct)) continue; // another instance took it just now
                free--;
                var deliveries = lane.ToList();
                lock (_lanes) _lanes[lane.Key] = Task.Run(() => RunLaneAsync(lane.Key, deliveries, ct), CancellationToken.None);
            }
        }
        finally
        {
            _dispatch.Release();
        }
    }

    private async Task RunLaneAsync(string lane, List<WebhookDelivery> deliveries, CancellationToken ct)
    {
        var lease = ClusterMember.LanePrefix + lane;
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var renewing = RenewAsync(lease, lost);
        try
        {
            foreach (var delivery in deliveries)
            {
                if (lost.IsCancellationRequested) break;
                // Read before acting: the lane's previous holder may have handled it after this list was read.
                if (await inbox.GetAsync(delivery.DeliveryId, ct) is not { ProcessedAt: null, Outcome: null } current || current.Attempts != delivery.Attempts) continue;
                if (!await ProcessAsync(delivery, ct)) break; // the rest wait behind it
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Recording a delivery's outcome failed; it is handled again");
        }
        finally
        {
            await lost.CancelAsync();
            await renewing;
            try
            {
                await member.ReleaseAsync(lease, CancellationToken.None);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Releasing lease {Lease} failed; it expires by itself", lease);
            }
            lock (_lanes) _lanes.Remove(lane);
            Signal();
        }
    }

    /// <summary>Renews the lane's lease while it runs; when another instance took it over (this one stalled), the lane stops.</summary>
    private async Task RenewAsync(string lease, CancellationTokenSource lane)
    {
        while (!lane.IsCancellationRequested)
        {
            await Task.Delay(member.LeaseTimeout / 3, lane.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            if (lane.IsCancellationRequested) return;
            try
            {
                if (await member.TryLeaseAsync(lease, lane.Token)) continue;
                logger.LogWarning("Lease {Lease} was taken over by another instance; this lane stops", lease);
                await lane.CancelAsync();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Renewing lease {Lease} failed; trying again", lease);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Handles one delivery; false when it failed and the repository's later deliveries must wait.</summary>
    private async Task<bool> ProcessAsync(WebhookDelivery delivery, CancellationToken ct)
    {
        var cause = Cause.Delivery(delivery.DeliveryId);
        using var activity = DeliveryTracing.Start(delivery);
        using var scope = logger.BeginScope(new Dictionary<string, object?> { ["DeliveryId"] = delivery.DeliveryId, ["Event"] = delivery.Event });
        string outcome;
        try
        {
            outcome = await recorder.RecordAsync(cause, () => handler.HandleAsync(delivery, cause, ct), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (FormatException e)
        {
            // The payload cannot be what GitHub sends: handling it again cannot help.
            logger.LogWarning("Delivery {DeliveryId} ({Event}) rejected: {Error}", delivery.DeliveryId, delivery.Event, e.Message);
            await inbox.MarkProcessedAsync(delivery.DeliveryId, "rejected", e.Message, ct);
            ServiceMetrics.Deliveries.WithLabels(ServiceMetrics.EventLabel(delivery.Event), "rejected").Inc();
            return true;
        }
        catch (Exception e) when (GitHubErrors.IsRefusal(e))
        {
            // GitHub decided (a 404 for a repository we cannot see, a 422): handling it again changes nothing.
            logger.LogWarning("Delivery {DeliveryId} ({Event}) failed: {Error}", delivery.DeliveryId, delivery.Event, GitHubErrors.Describe(e));
            await inbox.MarkProcessedAsync(delivery.DeliveryId, "failed", GitHubErrors.Describe(e), ct);
            ServiceMetrics.Deliveries.WithLabels(ServiceMetrics.EventLabel(delivery.Event), "failed").Inc();
            return true;
        }
        catch (Exception e)
        {
            return await FailedAsync(delivery, e, ct);
        }
        await inbox.MarkProcessedAsync(delivery.DeliveryId, outcome, null, ct);
        ServiceMetrics.Deliveries.WithLabels(ServiceMetrics.EventLabel(delivery.Event), ServiceMetrics.OutcomeLabel(outcome)).Inc();
        return true;
    }

    /// <summary>Schedules a retry with backoff, or parks the delivery as dead after the last try.</summary>
    private async Task<bool> FailedAsync(WebhookDelivery delivery, Exception e, CancellationToken ct)
    {
        var settings = options.Value.Webhooks;
        var now = clock.GetUtcNow();
        var unavailable = GitHubErrors.IsUnavailable(e, now, out var asked) || database.IsUnavailable(e);
        var error = GitHubErrors.Describe(e);
        var tries = delivery.Attempts + 1;
        if (tries >= settings.MaxAttempts)
        {
            logger.LogError(e, "Delivery {DeliveryId} ({Event}) failed {Tries} times; parked as dead until an admin replays it",
                delivery.DeliveryId, delivery.Event, tries);
            await inbox.MarkProcessedAsync(delivery.DeliveryId, WebhookInbox.Dead, error, ct);
            ServiceMetrics.Deliveries.WithLabels(ServiceMetrics.EventLabel(delivery.Event), WebhookInbox.Dead).Inc();
            return true;
        }
        var backoff = settings.RetryDelay * Math.Pow(2, Math.Min(delivery.Attempts, 20));
        if (backoff > settings.MaxRetryDelay) backoff = settings.MaxRetryDelay;
        if (asked is { } wait && wait > backoff) backoff = wait;
        logger.LogWarning(e, "Delivery {DeliveryId} ({Event}) failed (try {Tries} of {Max}); retrying in {Backoff}{Holding}",
            delivery.DeliveryId, delivery.Event, tries, settings.MaxAttempts, backoff, unavailable ? ", its repository's later deliveries wait for it" : "");
        await inbox.ScheduleRetryAsync(delivery.DeliveryId, error, now + backoff, holds: unavailable, ct);
        ServiceMetrics.Deliveries.WithLabels(ServiceMetrics.EventLabel(delivery.Event), "retried").Inc();
        return !unavailable;
    }
}
