using Dapper;
using MergeQueue.Core;

namespace MergeQueue.Data;

/// <summary>
/// A webhook delivery as received: the raw payload is kept for audit and replay; handlers parse it
/// into domain events. The processing fields are null until <see cref="WebhookInbox.MarkProcessedAsync"/>.
/// </summary>
public sealed record WebhookDelivery(
    string DeliveryId,
    string Event,
    string? Action,
    RepoId? Repo,
    string Payload,
    DateTimeOffset ReceivedAt)
{
    public DateTimeOffset? ProcessedAt { get; init; }
    /// <summary>What handling it came to (e.g. "handled", "ignored", "failed").</summary>
    public string? Outcome { get; init; }
    public string? Error { get; init; }
}

/// <summary>
/// The durable inbox of webhook deliveries: the endpoint stores a delivery and answers GitHub at
/// once; a worker handles unprocessed deliveries in the order they arrived and marks them done.
/// GitHub redelivers on timeouts and by hand, so a delivery id is accepted only once.
/// </summary>
public sealed class WebhookInbox(SqliteDatabase database, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private const string Columns =
        """
        delivery_id AS DeliveryId, event AS Event, action AS Action, owner AS Owner, repo AS Repo, payload AS Payload,
        received_at AS ReceivedAt, processed_at AS ProcessedAt, outcome AS Outcome, error AS Error
        """;

    /// <summary>Stores the delivery; false when a delivery with the same id was already accepted (a redelivery).</summary>
    public async Task<bool> TryAcceptAsync(WebhookDelivery delivery, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentException.ThrowIfNullOrWhiteSpace(delivery.DeliveryId);
        await using var connection = await database.OpenAsync(ct);
        // ON CONFLICT DO NOTHING rather than catching the constraint error: a redelivery is expected, not exceptional.
        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO webhook_delivery (delivery_id, event, action, owner, repo, payload, received_at)
            VALUES (@DeliveryId, @Event, @Action, @Owner, @Repo, @Payload, @ReceivedAt)
            ON CONFLICT (delivery_id) DO NOTHING
            """,
            new
            {
                delivery.DeliveryId,
                delivery.Event,
                delivery.Action,
                Owner = delivery.Repo?.Owner,
                Repo = delivery.Repo?.Name,
                delivery.Payload,
                ReceivedAt = delivery.ReceivedAt.ToUnixTimeMilliseconds(),
            },
            cancellationToken: ct));
        return inserted == 1;
    }

    /// <summary>Deliveries not yet marked processed, in the order they were accepted, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> GetUnprocessedAsync(int limit, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(ct);
        // Row id is the accept order, which received_at (milliseconds, maybe from several hosts) cannot promise.
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM webhook_delivery WHERE processed_at IS NULL ORDER BY id LIMIT @Limit",
            new { Limit = limit }, cancellationToken: ct));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    /// <summary>One delivery by id, processed or not; null when unknown.</summary>
    public async Task<WebhookDelivery?> GetAsync(string deliveryId, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM webhook_delivery WHERE delivery_id = @DeliveryId",
            new { DeliveryId = deliveryId }, cancellationToken: ct));
        return row?.ToDelivery();
    }

    /// <summary>Records how handling ended; false when the delivery is unknown.</summary>
    public async Task<bool> MarkProcessedAsync(string deliveryId, string outcome, string? error = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outcome);
        await using var connection = await database.OpenAsync(ct);
        var updated = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE webhook_delivery SET processed_at = @ProcessedAt, outcome = @Outcome, error = @Error WHERE delivery_id = @DeliveryId",
            new { DeliveryId = deliveryId, ProcessedAt = _time.GetUtcNow().ToUnixTimeMilliseconds(), Outcome = outcome, Error = error },
            cancellationToken: ct));
        return updated == 1;
    }

    private sealed class Row
    {
        public string DeliveryId { get; set; } = "";
        public string Event { get; set; } = "";
        public string? Action { get; set; }
        public string? Owner { get; set; }
        public string? Repo { get; set; }
        public string Payload { get; set; } = "";
        public long ReceivedAt { get; set; }
        public long? ProcessedAt { get; set; }
        public string? Outcome { get; set; }
        public string? Error { get; set; }

        public WebhookDelivery ToDelivery() => new(
            DeliveryId, Event, Action, Owner is not null && Repo is not null ? new RepoId(Owner, Repo) : null, Payload,
            DateTimeOffset.FromUnixTimeMilliseconds(ReceivedAt))
        {
            ProcessedAt = ProcessedAt is { } p ? DateTimeOffset.FromUnixTimeMilliseconds(p) : null,
            Outcome = Outcome,
            Error = Error,
        };
    }
}
