using Dapper;

namespace MergeQueue.Data;

/// <summary>
/// Retention (docs/operations.md): deletes handled webhook deliveries, payload and all, event_log
/// rows, finished notifications and ended built-in runner jobs (with their logs) older than a cut-off. Kept whatever their age: deliveries not yet processed, dead-lettered
/// ones (outcome <c>dead</c>), and everything a pull request or merge attempt that is still active
/// needs (its event rows, and the deliveries that caused them, so its timeline stays whole).
/// Deletes in batches, so the write lock is never held for long.
/// </summary>
public sealed class RetentionPurge(Database database)
{
    public const int BatchSize = 2_000;

    public sealed record Purged(int Deliveries, int Events, int Notifications = 0, int RunnerJobs = 0);

    private const string OldEvents =
        """
        SELECT e.id FROM event_log e
        WHERE e.at < @Before
          AND NOT EXISTS (SELECT 1 FROM pull_request p WHERE p.owner = e.owner AND p.repo = e.repo AND p.number = e.pr_number
                          AND p.state IN ('Requested', 'Queued', 'Merging', 'Split'))
          AND (e.attempt_id IS NULL OR e.attempt_id NOT IN
               (SELECT id FROM merge_attempt WHERE state IN ('Constructing', 'Testing', 'Success', 'Red', 'Split')))
        ORDER BY e.at LIMIT @Batch
        """;

    // By age, so the (at) and (received_at) indexes find the old rows without a scan.
    // After the events: a delivery whose effects are still logged is one an active PR needs.
    private const string OldDeliveries =
        """
        SELECT d.id FROM webhook_delivery d
        WHERE d.received_at < @Before AND d.processed_at IS NOT NULL AND d.processed_at < @Before
          AND (d.outcome IS NULL OR d.outcome <> 'dead')
          AND NOT EXISTS (SELECT 1 FROM event_log e WHERE e.cause_id = d.delivery_id)
        ORDER BY d.received_at LIMIT @Batch
        """;

    // Notifications that are done (delivered or given up); their tries go with them (ON DELETE CASCADE).
    private const string OldNotifications =
        """
        SELECT id FROM notification WHERE created_at < @Before AND state IN ('delivered', 'dead') ORDER BY id LIMIT @Batch
        """;

    // Built-in runner jobs that ended before the cut-off, and their logs (first, so no foreign key is left dangling).
    private const string OldRunnerLogs =
        """
        SELECT l.id FROM runner_log l JOIN runner_job j ON j.id = l.job_id
        WHERE j.finished_at IS NOT NULL AND j.finished_at < @Before ORDER BY l.id LIMIT @Batch
        """;

    private const string OldRunnerJobs =
        """
        SELECT id FROM runner_job WHERE finished_at IS NOT NULL AND finished_at < @Before ORDER BY id LIMIT @Batch
        """;

    public async Task<Purged> PurgeAsync(DateTimeOffset before, CancellationToken ct = default)
    {
        var events = await DeleteAsync("event_log", OldEvents, before, ct);
        var deliveries = await DeleteAsync("webhook_delivery", OldDeliveries, before, ct);
        var notifications = await DeleteAsync("notification", OldNotifications, before, ct);
        await DeleteAsync("runner_log", OldRunnerLogs, before, ct);
        var jobs = await DeleteAsync("runner_job", OldRunnerJobs, before, ct);
        return new Purged(deliveries, events, notifications, jobs);
    }

    private async Task<int> DeleteAsync(string table, string select, DateTimeOffset before, CancellationToken ct)
    {
        var total = 0;
        await using var connection = await database.OpenWriteAsync(ct);
        while (true)
        {
            var deleted = await connection.ExecuteAsync(new CommandDefinition(
                $"DELETE FROM {table} WHERE id IN ({select})", new { Before = before.ToUnixTimeMilliseconds(), Batch = BatchSize }, cancellationToken: ct));
            total += deleted;
            if (deleted < BatchSize) return total;
        }
    }
}
