using System.Data.Common;
using Dapper;
using MergeQueue.Core;

namespace MergeQueue.Data;

/// <summary>A message to be written to the outbox: one event for one target.</summary>
/// <param name="EventKey">What it announces; with channel and target name it is unique, so an event is queued once per target.</param>
public sealed record NewNotification(
    string EventKey, string Event, RepoId Repo, string? Target, int? PullRequest, string Channel, string TargetName, string Payload);

/// <summary>One outbox row as the sender and the dashboard see it.</summary>
public sealed record Notification(
    long Id, string Event, RepoId Repo, string? Target, int? PullRequest, string Channel, string TargetName, string Payload,
    DateTimeOffset CreatedAt, string State, int Attempts, DateTimeOffset NextAttemptAt, DateTimeOffset? DeliveredAt, string? LastError);

/// <summary>One try to deliver a notification.</summary>
public sealed record NotificationAttempt(long NotificationId, DateTimeOffset At, int? StatusCode, string? Error, int DurationMs);

/// <summary>What the latest request for a PR says about it (a notification's title and target).</summary>
public sealed record PullSummary(string Target, string? Title, string? MergedSha);

/// <summary>
/// The notification outbox (migration 0008): the notifier reads event_log past its cursor, writes a
/// message per target and moves the cursor in one transaction, then delivers and logs every try.
/// </summary>
public sealed class NotificationStore(Database database)
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Dead = "dead";

    /// <summary>The event_log rows notifications are made of: PR outcomes, freezes and unfreezes.</summary>
    private const string Interesting =
        "(kind IN ('freeze', 'unfreeze') OR (kind = 'transition' AND entity = 'pull_request' AND to_state IN ('Merged', 'Failed', 'TimedOut')))";

    private const string Columns =
        """
        id AS Id, event AS Event, owner AS Owner, repo AS Repo, target_branch AS Target, pr_number AS PrNumber, channel AS Channel,
        target_name AS TargetName, payload AS Payload, created_at AS CreatedAt, state AS State, attempts AS Attempts,
        next_attempt_at AS NextAttemptAt, delivered_at AS DeliveredAt, last_error AS LastError
        """;

    /// <summary>
    /// The event_log rows worth announcing after the cursor, at most <paramref name="limit"/>, and the id
    /// the cursor may move to once they are queued (past rows that announce nothing as well); null when nothing is new.
    /// </summary>
    public async Task<(IReadOnlyList<EventLogRecord> Events, long? ReadUpTo)> ReadEventsAsync(int limit, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var after = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT last_event_id FROM notification_cursor WHERE name = 'event_log'", cancellationToken: ct));
        // Writers are serialised, so ids commit in order: every row up to the current end is visible.
        var end = await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT max(id) FROM event_log", cancellationToken: ct)) ?? 0;
        if (end <= after) return ([], null);
        var rows = await EventLogReader.QueryAsync(database,
            $"SELECT {EventLogReader.Columns} FROM event_log WHERE id > @After AND id <= @End AND {Interesting} ORDER BY id LIMIT @Limit",
            new { After = after, End = end, Limit = limit }, ct);
        return (rows, rows.Count == limit ? rows[^1].Id : end);
    }

    /// <summary>Queues the messages (each once: a second copy is ignored) and moves the cursor, in one transaction.</summary>
    public async Task EnqueueAsync(IReadOnlyList<NewNotification> notifications, long? cursor, DateTimeOffset now, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        await using var tx = database.BeginWrite(connection);
        await InsertAsync(connection, tx, notifications, now, ct);
        if (cursor is { } c)
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE notification_cursor SET last_event_id = CASE WHEN last_event_id < @C THEN @C ELSE last_event_id END WHERE name = 'event_log'", new { C = c }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    private static async Task InsertAsync(DbConnection connection, DbTransaction tx,
        IReadOnlyList<NewNotification> notifications, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var n in notifications)
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO notification (event_key, event, owner, repo, target_branch, pr_number, channel, target_name, payload,
                    created_at, state, attempts, next_attempt_at)
                VALUES (@EventKey, @Event, @Owner, @Repo, @Target, @PullRequest, @Channel, @TargetName, @Payload, @Now, 'pending', 0, @Now)
                ON CONFLICT DO NOTHING
                """,
                new { n.EventKey, n.Event, n.Repo.Owner, Repo = n.Repo.Name, n.Target, n.PullRequest, n.Channel, n.TargetName, n.Payload, Now = now.ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
    }

    /// <summary>What the PR's latest request says: its target, title and merge commit.</summary>
    public async Task<PullSummary?> GetPullAsync(RepoId repo, int number, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<PullSummary>(new CommandDefinition(
            """
            SELECT target_branch AS Target, title AS Title, merged_sha AS MergedSha FROM pull_request
            WHERE owner = @Owner AND repo = @Repo AND number = @Number ORDER BY id DESC LIMIT 1
            """, new { repo.Owner, Repo = repo.Name, Number = number }, cancellationToken: ct));
    }

    /// <summary>Pending messages due at <paramref name="now"/>, oldest first.</summary>
    public Task<IReadOnlyList<Notification>> DueAsync(DateTimeOffset now, int limit, CancellationToken ct = default) =>
        QueryAsync($"SELECT {Columns} FROM notification WHERE state = 'pending' AND next_attempt_at <= @Now ORDER BY id LIMIT @Limit",
            new { Now = now.ToUnixTimeMilliseconds(), Limit = limit }, ct);

    /// <summary>When the next pending message is due, or null when none waits.</summary>
    public async Task<DateTimeOffset?> NextDueAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var next = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT min(next_attempt_at) FROM notification WHERE state = 'pending'", cancellationToken: ct));
        return next is { } n ? DateTimeOffset.FromUnixTimeMilliseconds(n) : null;
    }

    /// <summary>Logs a try and moves the message on: delivered, due again at <paramref name="retryAt"/>, or dead when that is null.</summary>
    public async Task RecordAttemptAsync(NotificationAttempt attempt, bool delivered, DateTimeOffset? retryAt, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        await using var tx = database.BeginWrite(connection);
        var at = attempt.At.ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO notification_attempt (notification_id, at, status_code, error, duration_ms) VALUES (@Id, @At, @StatusCode, @Error, @DurationMs)",
            new { Id = attempt.NotificationId, At = at, attempt.StatusCode, attempt.Error, attempt.DurationMs }, tx, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE notification SET attempts = attempts + 1, state = @State, delivered_at = @DeliveredAt,
                next_attempt_at = coalesce(@RetryAt, next_attempt_at), last_error = @Error
            WHERE id = @Id
            """,
            new
            {
                Id = attempt.NotificationId,
                State = delivered ? Delivered : retryAt is null ? Dead : Pending,
                DeliveredAt = delivered ? at : (long?)null,
                RetryAt = retryAt?.ToUnixTimeMilliseconds(),
                Error = delivered ? null : attempt.Error,
            }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    /// <summary>The latest messages, newest first, with every try of each.</summary>
    public async Task<IReadOnlyList<(Notification Notification, IReadOnlyList<NotificationAttempt> Attempts)>> RecentAsync(int limit, CancellationToken ct = default)
    {
        var notifications = await QueryAsync($"SELECT {Columns} FROM notification ORDER BY id DESC LIMIT @Limit", new { Limit = limit }, ct);
        if (notifications.Count == 0) return [];
        await using var connection = await database.OpenAsync(ct);
        var attempts = (await connection.QueryAsync<AttemptRow>(new CommandDefinition(
            $"""
            SELECT notification_id AS NotificationId, at AS At, status_code AS StatusCode, error AS Error, duration_ms AS DurationMs
            FROM notification_attempt WHERE {database.In("notification_id", "Ids")} ORDER BY id
            """, new { Ids = notifications.Select(n => n.Id).ToArray() }, cancellationToken: ct)))
            .Select(a => a.ToAttempt()).ToLookup(a => a.NotificationId);
        return notifications.Select(n => (n, (IReadOnlyList<NotificationAttempt>)attempts[n.Id].ToList())).ToList();
    }

    /// <summary>When the queue last merged into the target (the queue's clock), or null if it never did.</summary>
    public async Task<DateTimeOffset?> LastMergeAtAsync(RepoId repo, string target, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var at = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT max(timestamp) FROM pull_request WHERE owner = @Owner AND repo = @Repo AND target_branch = @Target AND state = 'Merged'",
            new { repo.Owner, Repo = repo.Name, Target = target }, cancellationToken: ct));
        return at is { } a ? DateTimeOffset.FromUnixTimeMilliseconds(a) : null;
    }

    /// <summary>Targets announced as stuck, with the last merge each was stuck behind (null: none yet).</summary>
    public async Task<IReadOnlyList<(RepoId Repo, string Target, DateTimeOffset? LastMergeAt)>> StuckAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(string Owner, string Repo, string Target, long? LastMergeAt)>(new CommandDefinition(
            "SELECT owner, repo, target_branch, last_merge_at FROM notification_stuck", cancellationToken: ct));
        return rows.Select(r => (new RepoId(r.Owner, r.Repo), r.Target, r.LastMergeAt is { } m ? DateTimeOffset.FromUnixTimeMilliseconds(m) : (DateTimeOffset?)null)).ToList();
    }

    /// <summary>Records a stuck episode and queues its messages in one transaction, so it is announced once; <paramref name="now"/> is the delivery clock (real time), which makes the messages due.</summary>
    public async Task MarkStuckAsync(RepoId repo, string target, DateTimeOffset? lastMergeAt, DateTimeOffset now, IReadOnlyList<NewNotification> notifications, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        await using var tx = database.BeginWrite(connection);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO notification_stuck (owner, repo, target_branch, last_merge_at, notified_at) VALUES (@Owner, @Repo, @Target, @LastMergeAt, @Now)
            ON CONFLICT (owner, repo, target_branch) DO UPDATE SET last_merge_at = excluded.last_merge_at, notified_at = excluded.notified_at
            """, new { repo.Owner, Repo = repo.Name, Target = target, LastMergeAt = lastMergeAt?.ToUnixTimeMilliseconds(), Now = now.ToUnixTimeMilliseconds() },
            tx, cancellationToken: ct));
        await InsertAsync(connection, tx, notifications, now, ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Ends a stuck episode: nothing waits on the target any more.</summary>
    public async Task ClearStuckAsync(RepoId repo, string target, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM notification_stuck WHERE owner = @Owner AND repo = @Repo AND target_branch = @Target",
            new { repo.Owner, Repo = repo.Name, Target = target }, cancellationToken: ct));
    }

    private async Task<IReadOnlyList<Notification>> QueryAsync(string sql, object parameters, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<Row>(new CommandDefinition(sql, parameters, cancellationToken: ct))).Select(r => r.ToNotification()).ToList();
    }

    private sealed class Row
    {
        public long Id { get; set; }
        public string Event { get; set; } = "";
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public string? Target { get; set; }
        public int? PrNumber { get; set; }
        public string Channel { get; set; } = "";
        public string TargetName { get; set; } = "";
        public string Payload { get; set; } = "";
        public long CreatedAt { get; set; }
        public string State { get; set; } = "";
        public int Attempts { get; set; }
        public long NextAttemptAt { get; set; }
        public long? DeliveredAt { get; set; }
        public string? LastError { get; set; }

        public Notification ToNotification() => new(
            Id, Event, new RepoId(Owner, Repo), Target, PrNumber, Channel, TargetName, Payload, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            State, Attempts, DateTimeOffset.FromUnixTimeMilliseconds(NextAttemptAt),
            DeliveredAt is { } d ? DateTimeOffset.FromUnixTimeMilliseconds(d) : null, LastError);
    }

    private sealed class AttemptRow
    {
        public long NotificationId { get; set; }
        public long At { get; set; }
        public int? StatusCode { get; set; }
        public string? Error { get; set; }
        public int DurationMs { get; set; }

        public NotificationAttempt ToAttempt() => new(NotificationId, DateTimeOffset.FromUnixTimeMilliseconds(At), StatusCode, Error, DurationMs);
    }
}
