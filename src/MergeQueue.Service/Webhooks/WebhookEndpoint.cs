using System.Text;
using System.Text.Json;
using MergeQueue.Data;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Webhooks;

/// <summary>
/// <c>POST /webhooks/github</c> (CONTRACT §2): verify the signature, store the delivery durably
/// (deduplicated by its id), answer 202, and let <see cref="DeliveryProcessor"/> handle it.
/// </summary>
public static class WebhookEndpoint
{
    /// <summary>GitHub caps payloads at 25 MB; Kestrel answers 413 above it.</summary>
    public const long MaxBodyBytes = 25 * 1024 * 1024;

    public static void MapWebhooks(this IEndpointRouteBuilder app) => app.MapPost("/webhooks/github", HandleAsync);

    private static async Task<IResult> HandleAsync(
        HttpContext http,
        WebhookInbox inbox,
        DeliveryProcessor processor,
        IOptionsMonitor<ServiceOptions> options,
        TimeProvider clock,
        ILogger<DeliveryProcessor> logger,
        CancellationToken ct)
    {
        // A request that cannot be GitHub's is refused before its body is read.
        if (http.Request.ContentLength > MaxBodyBytes) return Problem(StatusCodes.Status413PayloadTooLarge, "payload larger than 25 MB");
        var signature = http.Request.Headers["X-Hub-Signature-256"].ToString();
        if (!WebhookSignature.IsWellFormed(signature))
        {
            logger.LogWarning("Webhook refused: missing or malformed X-Hub-Signature-256");
            return Problem(StatusCodes.Status401Unauthorized, "missing or malformed X-Hub-Signature-256");
        }

        byte[] body;
        try
        {
            using var buffer = new MemoryStream(http.Request.ContentLength is { } length and <= MaxBodyBytes ? (int)length : 0);
            await http.Request.Body.CopyToAsync(buffer, ct);
            body = buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "payload larger than 25 MB");
        }

        if (!WebhookSignature.IsValid(body, signature, options.CurrentValue.GitHub.WebhookSecret ?? ""))
        {
            logger.LogWarning("Webhook refused: wrong X-Hub-Signature-256");
            return Problem(StatusCodes.Status401Unauthorized, "wrong X-Hub-Signature-256");
        }

        var eventName = http.Request.Headers["X-GitHub-Event"].ToString();
        var deliveryId = http.Request.Headers["X-GitHub-Delivery"].ToString();
        if (string.IsNullOrWhiteSpace(eventName) || string.IsNullOrWhiteSpace(deliveryId))
            return Problem(StatusCodes.Status400BadRequest, "missing X-GitHub-Event or X-GitHub-Delivery header");

        string payload;
        string? action;
        Core.RepoId? repo;
        try
        {
            payload = new UTF8Encoding(false, true).GetString(body);
            using var doc = JsonDocument.Parse(payload);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return Problem(StatusCodes.Status400BadRequest, "the payload must be a JSON object");
            action = doc.RootElement.TryGetProperty("action", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            repo = GitHubEvent.TryRepo(doc.RootElement);
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException)
        {
            return Problem(StatusCodes.Status400BadRequest, $"malformed JSON: {e.Message}");
        }
        catch (FormatException e)
        {
            return Problem(StatusCodes.Status400BadRequest, $"repository.full_name: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            // JsonElement.GetString on a lone UTF-16 surrogate escape such as \ud800.
            return Problem(StatusCodes.Status400BadRequest, $"a string in the payload is not valid Unicode: {e.Message}");
        }

        bool accepted;
        try
        {
            accepted = await inbox.TryAcceptAsync(new WebhookDelivery(deliveryId, eventName, action, repo, payload, clock.GetUtcNow()), ct);
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or IOException or InvalidOperationException)
        {
            // Not stored, so not accepted: GitHub shows the delivery as failed and it can be redelivered.
            logger.LogError(e, "Webhook {DeliveryId} could not be stored", deliveryId);
            http.Response.Headers.RetryAfter = "10";
            return Problem(StatusCodes.Status503ServiceUnavailable, "the delivery could not be stored; redeliver it later");
        }
        ServiceMetrics.Deliveries.WithLabels(ServiceMetrics.EventLabel(eventName), accepted ? "accepted" : "duplicate").Inc();
        if (accepted) processor.Signal();
        logger.LogDebug("Webhook {Event}.{Action} {DeliveryId} for {Repo}: {Result}", eventName, action, deliveryId, repo, accepted ? "accepted" : "duplicate");
        return Results.Json(new { delivery = deliveryId, accepted, duplicate = !accepted }, statusCode: StatusCodes.Status202Accepted);
    }

    private static IResult Problem(int status, string detail) => Results.Problem(detail: detail, statusCode: status);
}
