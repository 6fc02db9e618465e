using System.Data;
using System.Data.Common;
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
    /// <summary>Handling attempts that failed so far.</summary>
    public int Attempts { get; init; }
}

/// <summary>
/// The durable inbox of webhook deliveries: the endpoint stores a delivery and answers GitHub at
/// once; a worker handles due deliveries (each repository's in the order they arrived) and marks
/// them done. GitHub redelivers on timeouts and by hand, so a delivery id is accepted only once,
/// unless its handling failed: then a redelivery queues it again.
/// </summary>
/// <remarks>
/// Accepting uses group commit: concurrent callers' rows share one write transaction and so one
/// fsync, and each caller is answered only once that transaction committed.
/// </remarks>
public sealed class WebhookInbox(Database database, TimeProvider? time = null)
{
    /// <summary>Outcome of a delivery whose handling failed too often: it waits for a replay.</summary>
    public const string Dead = "dead";

    /// <summary>The most rows one group commit writes.</summary>
    private const int MaxGroup = 256;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly List<Pending> _pending = [];
    private bool _writing;

    private const string Columns =
        """
        delivery_id AS DeliveryId, event AS Event, action AS Action, owner AS Owner, repo AS Repo, payload AS Payload,
        received_at AS ReceivedAt, processed_at AS ProcessedAt, outcome AS Outcome, error AS Error, attempts AS Attempts
        """;

    /// <summary>
    /// Stores the delivery durably; false when a delivery with the same id was already accepted (a
    /// redelivery), except that one whose handling failed or was refused is queued again (GitHub's
    /// "Redeliver" after a failure).
    /// </summary>
    public Task<bool> TryAcceptAsync(WebhookDelivery delivery, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        ArgumentException.ThrowIfNullOrWhiteSpace(delivery.DeliveryId);
        var pending = new Pending(delivery);
        bool lead;
        lock (_gate)
        {
            _pending.Add(pending);
            lead = !_writing;
            _writing = true;
        }
        // The first caller with nobody writing starts the writer; everyone else's row joins its next group.
        if (lead) _ = Task.Run(WriteGroupsAsync, CancellationToken.None);
        return pending.Done.Task.WaitAsync(ct);
    }

    /// <summary>Writes groups of pending rows until none is left; each group is one transaction.</summary>
    private async Task WriteGroupsAsync()
    {
        while (true)
        {
            List<Pending> group;
            lock (_gate)
            {
                if (_pending.Count == 0)
                {
                    _writing = false;
                    return;
                }
                group = _pending.Take(MaxGroup).ToList();
                _pending.RemoveRange(0, group.Count);
            }
            try
            {
                var accepted = await InsertAsync(group.Select(p => p.Delivery).ToList());
                for (var i = 0; i < group.Count; i++) group[i].Done.TrySetResult(accepted[i]);
            }
            catch (Exception e)
            {
                foreach (var p in group) p.Done.TrySetException(e);
            }
        }
    }

    private async Task<bool[]> InsertAsync(List<WebhookDelivery> deliveries)
    {
        await using var connection = await database.OpenWriteAsync(mode: WriteMode.Intake);
        await using var tx = database.BeginWrite(connection);
        var accepted = connection.CanCreateBatch
            ? await InsertBatchAsync(connection, tx, deliveries)
            : await InsertEachAsync(connection, tx, deliveries);
        await tx.CommitAsync();
        return accepted;
    }

    // ON CONFLICT rather than catching the constraint error: a redelivery is expected, not exceptional.
    private const string InsertSql =
        $"""
        INSERT INTO webhook_delivery (delivery_id, event, action, owner, repo, payload, received_at)
        VALUES (@id, @event, @action, @owner, @repo, @payload, @received)
        ON CONFLICT (delivery_id) DO UPDATE SET
            payload = excluded.payload, received_at = excluded.received_at, processed_at = NULL, outcome = NULL,
            error = NULL, attempts = 0, next_attempt_at = NULL, holds = 0
        WHERE webhook_delivery.outcome IN ({Failed})
        """;

    private static readonly string[] InsertParameters = ["id", "event", "action", "owner", "repo", "payload", "received"];

    private static readonly DbType[] InsertTypes =
        [DbType.String, DbType.String, DbType.String, DbType.String, DbType.String, DbType.String, DbType.Int64];

    private static object[] InsertValues(WebhookDelivery d) =>
        [d.DeliveryId, d.Event, (object?)d.Action ?? DBNull.Value, (object?)d.Repo?.Owner ?? DBNull.Value, (object?)d.Repo?.Name ?? DBNull.Value,
            d.Payload, d.ReceivedAt.ToUnixTimeMilliseconds()];

    /// <summary>
    /// The group's statements in one batch, so one round trip to a database server (PostgreSQL) instead of one
    /// per row. They run in order, as one by one would: a delivery id twice in a group is accepted once.
    /// The statement is prepared: the server parses and plans it once per connection (Npgsql keeps it prepared
    /// across pooled opens) instead of once per row; typed parameters keep a null from asking for a new plan.
    /// </summary>
    private static async Task<bool[]> InsertBatchAsync(DbConnection connection, DbTransaction tx, List<WebhookDelivery> deliveries)
    {
        await using var batch = connection.CreateBatch();
        batch.Transaction = tx;
        foreach (var d in deliveries)
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = InsertSql;
            var values = InsertValues(d);
            for (var j = 0; j < values.Length; j++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = InsertParameters[j];
                parameter.DbType = InsertTypes[j];
                parameter.Value = values[j];
                command.Parameters.Add(parameter);
            }
            batch.BatchCommands.Add(command);
        }
        await batch.PrepareAsync();
        await batch.ExecuteNonQueryAsync();
        return [.. batch.BatchCommands.Select(c => c.RecordsAffected == 1)];
    }

    /// <summary>Row by row, reusing one command (SQLite keeps its statement prepared; in-process, there are no round trips to save).</summary>
    private static async Task<bool[]> InsertEachAsync(DbConnection connection, DbTransaction tx, List<WebhookDelivery> deliveries)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = tx;
        command.CommandText = InsertSql;
        var parameters = InsertParameters
            .Select(name =>
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                command.Parameters.Add(parameter);
                return parameter;
            })
            .ToArray();
        var accepted = new bool[deliveries.Count];
        for (var i = 0; i < deliveries.Count; i++)
        {
            var values = InsertValues(deliveries[i]);
            for (var j = 0; j < values.Length; j++) parameters[j].Value = values[j];
            accepted[i] = await command.ExecuteNonQueryAsync() == 1;
        }
        return accepted;
    }

    /// <summary>Outcomes after which a redelivery or a replay handles the delivery again.</summary>
    private const string Failed = "'dead', 'failed', 'rejected'";

    /// <summary>
    /// Deliveries not yet marked processed (retries not yet due included), in the order they were
    /// accepted, at most <paramref name="limit"/>.
    /// </summary>
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

    /// <summary>
    /// Deliveries to handle now, in accept order: unprocessed, due, not of a repository in
    /// <paramref name="busy"/> (being handled elsewhere), and not behind an earlier delivery of their
    /// repository that holds it (GitHub unavailable for it, retried later).
    /// </summary>
    public async Task<IReadOnlyList<WebhookDelivery>> GetDueAsync(int limit, IReadOnlyCollection<string> busy, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            $"""
            SELECT {Columns} FROM webhook_delivery d
            WHERE processed_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= @Now)
              AND {database.NotIn("lower(coalesce(owner || '/' || repo, ''))", "Busy")}
              AND NOT EXISTS (SELECT 1 FROM webhook_delivery e
                              WHERE e.processed_at IS NULL AND e.owner IS NOT DISTINCT FROM d.owner AND e.repo IS NOT DISTINCT FROM d.repo AND e.id < d.id AND e.holds = 1 AND e.next_attempt_at > @Now)
            ORDER BY id LIMIT @Limit
            """,
            new { Limit = limit, Now = _time.GetUtcNow().ToUnixTimeMilliseconds(), Busy = busy.Select(b => b.ToLowerInvariant()).ToArray() },
            cancellationToken: ct));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    /// <summary>When the next delivery waiting for a retry falls due; null when none waits.</summary>
    public async Task<DateTimeOffset?> GetNextRetryAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var next = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT min(next_attempt_at) FROM webhook_delivery WHERE processed_at IS NULL AND next_attempt_at IS NOT NULL", cancellationToken: ct));
        return next is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    /// <summary>The key <see cref="GetDueAsync"/> takes in its busy list for a delivery's repository.</summary>
    public static string LaneOf(WebhookDelivery delivery) => delivery.Repo is { } r ? $"{r.Owner}/{r.Name}".ToLowerInvariant() : "";

    /// <summary>One delivery by id, processed or not; null when unknown.</summary>
    public async Task<WebhookDelivery?> GetAsync(string deliveryId, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM webhook_delivery WHERE delivery_id = @DeliveryId",
            new { DeliveryId = deliveryId }, cancellationToken: ct));
        return row?.ToDelivery();
    }

    /// <summary>Dead deliveries, newest first, at most <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> GetDeadAsync(int limit, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM webhook_delivery WHERE outcome = '{Dead}' ORDER BY id DESC LIMIT @Limit",
            new { Limit = limit }, cancellationToken: ct));
        return rows.Select(r => r.ToDelivery()).ToList();
    }

    /// <summary>Records how handling ended; false when the delivery is unknown.</summary>
    public async Task<bool> MarkProcessedAsync(string deliveryId, string outcome, string? error = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outcome);
        // No fsync of its own on SQLite (the next durable commit carries it): a mark lost to a power cut only
        // means the delivery is handled again, which the flows tolerate, and intake keeps the disk to itself.
        await using var connection = await database.OpenWriteAsync(ct, WriteMode.Relaxed);
        var updated = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE webhook_delivery SET processed_at = @ProcessedAt, outcome = @Outcome, error = @Error, next_attempt_at = NULL, holds = 0
            WHERE delivery_id = @DeliveryId
            """,
            new { DeliveryId = deliveryId, ProcessedAt = _time.GetUtcNow().ToUnixTimeMilliseconds(), Outcome = outcome, Error = error },
            cancellationToken: ct));
        return updated == 1;
    }

    /// <summary>
    /// Records a failed handling attempt: handled again at <paramref name="retryAt"/>; with
    /// <paramref name="holds"/> the repository's later deliveries wait for it.
    /// </summary>
    public async Task ScheduleRetryAsync(string deliveryId, string error, DateTimeOffset retryAt, bool holds, CancellationToken ct = default)
    {
        await using var connection = await database.OpenWriteAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE webhook_delivery SET attempts = attempts + 1, error = @Error, next_attempt_at = @Next, holds = @Holds
            WHERE delivery_id = @DeliveryId AND processed_at IS NULL
            """,
            new { DeliveryId = deliveryId, Error = error, Next = retryAt.ToUnixTimeMilliseconds(), Holds = holds ? 1 : 0 },
            cancellationToken: ct));
    }

    /// <summary>
    /// Queues a dead, failed or refused delivery again with a fresh retry budget (an admin's replay).
    /// False when it is unknown or did not fail.
    /// </summary>
    public async Task<bool> ReplayAsync(string deliveryId, CancellationToken ct = default)
    {
        await using var connection = await database.OpenWriteAsync(ct);
        var updated = await connection.ExecuteAsync(new CommandDefinition(
            $"""
            UPDATE webhook_delivery SET processed_at = NULL, outcome = NULL, error = NULL, attempts = 0, next_attempt_at = NULL, holds = 0
            WHERE delivery_id = @DeliveryId AND outcome IN ({Failed})
            """,
            new { DeliveryId = deliveryId }, cancellationToken: ct));
        return updated == 1;
    }

    private sealed record Pending(WebhookDelivery Delivery)
    {
        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
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
        public long Attempts { get; set; }

        public WebhookDelivery ToDelivery() => new(
            DeliveryId, Event, Action, Owner is not null && Repo is not null ? new RepoId(Owner, Repo) : null, Payload,
            DateTimeOffset.FromUnixTimeMilliseconds(ReceivedAt))
        {
            ProcessedAt = ProcessedAt is { } p ? DateTimeOffset.FromUnixTimeMilliseconds(p) : null,
            Outcome = Outcome,
            Error = Error,
            Attempts = (int)Attempts,
        };
    }
}
