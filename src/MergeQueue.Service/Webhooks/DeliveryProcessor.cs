using MergeQueue.Core.Ports;
using MergeQueue.Data;

namespace MergeQueue.Service.Webhooks;

/// <summary>
/// Handles accepted deliveries in the order they were received, one at a time, and marks each
/// processed with its outcome. After a crash it resumes with every delivery not yet marked, so
/// nothing accepted is lost (a delivery cut off mid-way is handled again; the flows tolerate that).
/// </summary>
public sealed class DeliveryProcessor(
    WebhookInbox inbox,
    DeliveryHandler handler,
    GitHubCallRecorder recorder,
    ILogger<DeliveryProcessor> logger) : BackgroundService
{
    private readonly SemaphoreSlim _signal = new(0);

    /// <summary>Wakes the processor: a delivery was accepted.</summary>
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
                if (await ProcessPendingAsync(stoppingToken) == 0)
                    await _signal.WaitAsync(TimeSpan.FromSeconds(5), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The inbox itself failed (database locked or gone): wait and try again, losing nothing.
                logger.LogError(e, "Reading the webhook inbox failed");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }

    /// <summary>Handles every pending delivery; returns how many. Tests call it to wait for quiet.</summary>
    public async Task<int> ProcessPendingAsync(CancellationToken ct)
    {
        var count = 0;
        while (true)
        {
            var batch = await inbox.GetUnprocessedAsync(50, ct);
            if (batch.Count == 0) return count;
            foreach (var delivery in batch)
            {
                await ProcessAsync(delivery, ct);
                count++;
            }
        }
    }

    private async Task ProcessAsync(WebhookDelivery delivery, CancellationToken ct)
    {
        var cause = Cause.Delivery(delivery.DeliveryId);
        string outcome;
        string? error = null;
        using (logger.BeginScope(new Dictionary<string, object?> { ["DeliveryId"] = delivery.DeliveryId, ["Event"] = delivery.Event }))
        {
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
                outcome = "rejected";
                error = e.Message;
                logger.LogWarning("Delivery {DeliveryId} ({Event}) rejected: {Error}", delivery.DeliveryId, delivery.Event, e.Message);
            }
            catch (Exception e)
            {
                // GitHub stayed down through the adapter's retries, or a bug: record it; Poll repairs state.
                outcome = "failed";
                error = e.Message;
                logger.LogError(e, "Delivery {DeliveryId} ({Event}) failed", delivery.DeliveryId, delivery.Event);
            }
        }
        await inbox.MarkProcessedAsync(delivery.DeliveryId, outcome, error, ct);
        ServiceMetrics.Deliveries.WithLabels(ServiceMetrics.EventLabel(delivery.Event), ServiceMetrics.OutcomeLabel(outcome)).Inc();
    }
}
