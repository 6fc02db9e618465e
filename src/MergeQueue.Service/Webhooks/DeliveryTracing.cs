using System.Diagnostics;
using MergeQueue.Core;
using MergeQueue.Data;

namespace MergeQueue.Service.Webhooks;

/// <summary>The root span of one delivery's handling: each delivery is a trace of its own.</summary>
public static class DeliveryTracing
{
    public const string SpanName = "webhook delivery";

    /// <summary>Ids and names only: the payload (and anything from the request's headers) stays out of traces.</summary>
    public static Activity? Start(WebhookDelivery delivery)
    {
        var activity = Tracing.StartRoot(SpanName, ActivityKind.Consumer);
        activity?.SetTag("mergequeue.delivery.id", delivery.DeliveryId);
        activity?.SetTag("mergequeue.delivery.event", delivery.Event);
        activity?.SetTag("mergequeue.delivery.action", delivery.Action);
        activity?.SetTag("mergequeue.repository", delivery.Repo?.ToString());
        return activity;
    }
}
