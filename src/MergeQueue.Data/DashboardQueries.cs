using Dapper;
using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Data;

/// <summary>A pull request row as history shows it (any state, finished ones included).</summary>
public sealed record PullRequestRecord(
    long Id, RepoId Repo, int Number, string Target, string State, long? Attempt, int Priority,
    DateTimeOffset RequestedAt, DateTimeOffset StateChangedAt, DateTimeOffset? QueuedAt, string? RequestedBy,
    string? Title, string? Author, string? Reason, string? MergedSha, string HeadSha);

/// <summary>A merge attempt row as history shows it.</summary>
public sealed record AttemptRecord(
    long Id, RepoId Repo, string Target, string State, string? BaseSha, string? StagingSha, long? ParentId,
    DateTimeOffset CreatedAt, DateTimeOffset StateChangedAt, string? Reason)
{
    /// <summary>The attempt ahead whose staging commit it is built on (speculative attempts).</summary>
    public long? AheadId { get; init; }
    /// <summary>Flake retries of its staging run so far.</summary>
    public int FlakeRetries { get; init; }
}

/// <summary>How many PRs of one queue reached one terminal state.</summary>
public sealed record OutcomeCount(RepoId Repo, string Target, string State, int Count);

/// <summary>The audit log's filter; null fields do not filter.</summary>
public sealed record AuditFilter
{
    public RepoId? Repo { get; init; }
    public int? PullRequest { get; init; }
    /// <summary>Rows about these attempts (their own transitions carry no PR number).</summary>
    public IReadOnlyCollection<long>? Attempts { get; init; }
    /// <summary>A transition's trigger (e.g. Retry).</summary>
    public string? Trigger { get; init; }
    /// <summary>"transition", "github", or a flow's own kind.</summary>
    public string? Kind { get; init; }
    /// <summary>A state a transition went to (e.g. Merged).</summary>
    public string? ToState { get; init; }
    public string? Actor { get; init; }
    public string? CauseKind { get; init; }
    public string? CauseId { get; init; }
    public DateTimeOffset? From { get; init; }
    public DateTimeOffset? To { get; init; }
    /// <summary>Only rows older than this id (paging, newest first).</summary>
    public long? Before { get; init; }
    public int Limit { get; init; } = 200;
}

/// <summary>The webhook inbox at a glance: backlog and failures.</summary>
public sealed record InboxHealth(int Unprocessed, DateTimeOffset? OldestUnprocessed, DateTimeOffset? LastReceived, int FailedSince);

/// <summary>The raw history a trend is computed from.</summary>
public sealed record TrendData(
    IReadOnlyList<(DateTimeOffset RequestedAt, DateTimeOffset MergedAt)> Merged,
    IReadOnlyList<DateTimeOffset> Failed,
    IReadOnlyList<(long Attempt, DateTimeOffset At, int Size)> Batches,
    IReadOnlyList<DateTimeOffset> CiRuns,
    int QueuedAtStart,
    IReadOnlyList<(DateTimeOffset At, int Delta)> QueueChanges);

/// <summary>Read-only queries for the dashboard and the audit log (history across every table).</summary>
public sealed class DashboardQueries(Database database)
{
    private static readonly string[] FinishedStates = ["Merged", "Failed", "Cancelled", "TimedOut"];

    private const string PrColumns =
        """
        id AS Id, owner AS Owner, repo AS Repo, number AS Number, target_branch AS Target, state AS State,
        merge_attempt AS Attempt, priority AS Priority, requested_at AS RequestedAt, timestamp AS Timestamp,
        queued_at AS QueuedAt, requested_by AS RequestedBy, title AS Title, author AS Author, reason AS Reason,
        merged_sha AS MergedSha, commit_hash AS HeadSha
        """;

    private const string AttemptColumns =
        """
        id AS Id, owner AS Owner, repo AS Repo, target_branch AS Target, state AS State, base_sha AS BaseSha,
        staging_sha AS StagingSha, parent_id AS ParentId, ahead_id AS AheadId, flake_retries AS FlakeRetries,
        created_at AS CreatedAt, timestamp AS Timestamp, reason AS Reason
        """;

    /// <summary>Every repository the tables mention, by name.</summary>
    public async Task<IReadOnlyList<RepoId>> RepositoriesAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var repos = new List<RepoId>();
        foreach (var table in (string[])["pull_request", "merge_attempt", "webhook_delivery"])
        {
            var rows = await connection.QueryAsync<(string Owner, string Repo)>(new CommandDefinition(DistinctRepos(table), cancellationToken: ct));
            repos.AddRange(rows.Select(r => new RepoId(r.Owner, r.Repo)));
        }
        return repos.Distinct().OrderBy(r => r.Owner, StringComparer.OrdinalIgnoreCase).ThenBy(r => r.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>
    /// The distinct (owner, repo) of a table by a skip scan of its (owner, repo, …) index: one index
    /// seek per repository, however many rows the table holds (a plain DISTINCT reads them all, and
    /// every page lists the repositories).
    /// </summary>
    private static string DistinctRepos(string table) =>
        $"""
        WITH RECURSIVE r(owner, repo) AS (
            SELECT * FROM (SELECT owner, repo FROM {table} WHERE owner IS NOT NULL AND repo IS NOT NULL ORDER BY owner, repo LIMIT 1) AS first -- PostgreSQL 15 wants the alias
            UNION ALL
            -- The next repository of the same owner, else the first of the next owner: both index seeks.
            SELECT coalesce((SELECT t.owner FROM {table} t WHERE t.owner = r.owner AND t.repo > r.repo ORDER BY t.repo LIMIT 1),
                            (SELECT t.owner FROM {table} t WHERE t.owner > r.owner ORDER BY t.owner, t.repo LIMIT 1)),
                   coalesce((SELECT t.repo FROM {table} t WHERE t.owner = r.owner AND t.repo > r.repo ORDER BY t.repo LIMIT 1),
                            (SELECT t.repo FROM {table} t WHERE t.owner > r.owner ORDER BY t.owner, t.repo LIMIT 1))
            FROM r WHERE r.owner IS NOT NULL
        )
        SELECT owner, repo FROM r WHERE owner IS NOT NULL
        """;

    /// <summary>Finished PRs per queue and terminal state since a time.</summary>
    public async Task<IReadOnlyList<OutcomeCount>> OutcomesSinceAsync(DateTimeOffset since, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(string Owner, string Repo, string Target, string State, long Count)>(new CommandDefinition(
            $"""
            SELECT owner, repo, target_branch, state, count(*) FROM pull_request
            WHERE {database.In("state", "States")} AND timestamp >= @Since GROUP BY owner, repo, target_branch, state
            """, new { States = FinishedStates, Since = since.ToUnixTimeMilliseconds() }, cancellationToken: ct));
        return rows.Select(r => new OutcomeCount(new RepoId(r.Owner, r.Repo), r.Target, r.State, (int)r.Count)).ToList();
    }

    /// <summary>Active pull requests of a repository (or all), in request order.</summary>
    /// <remarks>IN the active states, not NOT IN the finished ones: an index on state serves it.</remarks>
    public async Task<IReadOnlyList<PullRequestRecord>> ActivePullRequestsAsync(RepoId? repo, CancellationToken ct = default) =>
        await QueryPrsAsync(
            $"SELECT {PrColumns} FROM pull_request WHERE state IN ('Requested', 'Queued', 'Merging', 'Split') {(repo is null ? "" : "AND owner = @Owner AND repo = @Repo")} ORDER BY id",
            new { repo?.Owner, Repo = repo?.Name }, ct);

    /// <summary>The latest finished pull requests of a repository, newest first.</summary>
    public Task<IReadOnlyList<PullRequestRecord>> RecentFinishedAsync(RepoId repo, int limit, CancellationToken ct = default) =>
        QueryPrsAsync(
            $"SELECT {PrColumns} FROM pull_request WHERE owner = @Owner AND repo = @Repo AND {database.In("state", "Finished")} ORDER BY timestamp DESC, id DESC LIMIT @Limit",
            new { repo.Owner, Repo = repo.Name, Finished = FinishedStates, Limit = limit }, ct);

    /// <summary>Every request ever made for one pull request, oldest first.</summary>
    public Task<IReadOnlyList<PullRequestRecord>> PullRequestHistoryAsync(RepoId repo, int number, CancellationToken ct = default) =>
        QueryPrsAsync($"SELECT {PrColumns} FROM pull_request WHERE owner = @Owner AND repo = @Repo AND number = @Number ORDER BY id",
            new { repo.Owner, Repo = repo.Name, Number = number }, ct);

    /// <summary>Active attempts of a repository (or all), oldest first.</summary>
    public Task<IReadOnlyList<AttemptRecord>> ActiveAttemptsAsync(RepoId? repo, CancellationToken ct = default) =>
        QueryAttemptsAsync(
            $"SELECT {AttemptColumns} FROM merge_attempt WHERE state IN ('Constructing', 'Testing', 'Success', 'Red', 'Split') {(repo is null ? "" : "AND owner = @Owner AND repo = @Repo")} ORDER BY id",
            new { repo?.Owner, Repo = repo?.Name }, ct);

    /// <summary>The latest attempts of a repository, newest first.</summary>
    public Task<IReadOnlyList<AttemptRecord>> RecentAttemptsAsync(RepoId repo, int limit, CancellationToken ct = default) =>
        QueryAttemptsAsync($"SELECT {AttemptColumns} FROM merge_attempt WHERE owner = @Owner AND repo = @Repo ORDER BY id DESC LIMIT @Limit",
            new { repo.Owner, Repo = repo.Name, Limit = limit }, ct);

    public Task<IReadOnlyList<AttemptRecord>> AttemptsAsync(IEnumerable<long> ids, CancellationToken ct = default) =>
        QueryAttemptsAsync($"SELECT {AttemptColumns} FROM merge_attempt WHERE {database.In("id", "Ids")} ORDER BY id", new { Ids = ids.ToArray() }, ct);

    /// <summary>The PR numbers each attempt ever held (from the event log, so finished PRs count too).</summary>
    public async Task<ILookup<long, int>> AttemptMembersAsync(IEnumerable<long> attemptIds, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(long Attempt, long Number)>(new CommandDefinition(
            $"""
            SELECT DISTINCT attempt_id, pr_number FROM event_log
            WHERE entity = 'pull_request' AND {database.In("attempt_id", "Ids")} AND pr_number IS NOT NULL ORDER BY attempt_id, pr_number
            """, new { Ids = attemptIds.ToArray() }, cancellationToken: ct));
        return rows.ToLookup(r => r.Attempt, r => (int)r.Number);
    }

    /// <summary>The attempts that ever held one pull request.</summary>
    public async Task<IReadOnlyList<long>> AttemptsOfPullRequestAsync(RepoId repo, int number, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<long>(new CommandDefinition(
            """
            SELECT DISTINCT attempt_id FROM event_log
            WHERE owner = @Owner AND repo = @Repo AND pr_number = @Number AND entity = 'pull_request' AND attempt_id IS NOT NULL ORDER BY 1
            """, new { repo.Owner, Repo = repo.Name, Number = number }, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>Event log rows matching the filter, newest first.</summary>
    public async Task<IReadOnlyList<EventLogRecord>> SearchEventsAsync(AuditFilter filter, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var where = new List<string>();
        if (filter.Repo is not null) where.Add("owner = @Owner AND repo = @Repo");
        if (filter.PullRequest is not null) where.Add("pr_number = @Pr");
        if (filter.Attempts is not null) where.Add(database.In("attempt_id", "Attempts"));
        if (filter.Trigger is not null) where.Add("trigger = @Trigger");
        if (filter.Kind is not null) where.Add("kind = @Kind");
        if (filter.ToState is not null) where.Add("to_state = @ToState");
        if (filter.Actor is not null) where.Add("lower(actor) = lower(@Actor)");
        if (filter.CauseKind is not null) where.Add("cause_kind = @CauseKind");
        if (filter.CauseId is not null) where.Add("cause_id = @CauseId");
        if (filter.From is not null) where.Add("at >= @From");
        if (filter.To is not null) where.Add("at < @To");
        if (filter.Before is not null) where.Add("id < @Before");
        var sql = $"SELECT {EventLogReader.Columns} FROM event_log {(where.Count == 0 ? "" : "WHERE " + string.Join(" AND ", where))} ORDER BY id DESC LIMIT @Limit";
        return await QueryEventsAsync(sql, new
        {
            filter.Repo?.Owner,
            Repo = filter.Repo?.Name,
            Pr = filter.PullRequest,
            filter.Attempts,
            filter.Trigger,
            filter.Kind,
            filter.ToState,
            filter.Actor,
            filter.CauseKind,
            filter.CauseId,
            From = filter.From?.ToUnixTimeMilliseconds(),
            To = filter.To?.ToUnixTimeMilliseconds(),
            filter.Before,
            Limit = Math.Clamp(filter.Limit, 1, 1000),
        }, ct);
    }

    /// <summary>
    /// Everything one cause brought about, oldest first. Matched by id alone: a command's
    /// transitions carry cause kind "command" and its GitHub calls "delivery", both with the delivery's id.
    /// </summary>
    /// <remarks>At most <see cref="MaxCaused"/> rows: a poll tick over many repositories does a lot.</remarks>
    public Task<IReadOnlyList<EventLogRecord>> CausedByAsync(string causeId, CancellationToken ct = default) =>
        QueryEventsAsync($"SELECT {EventLogReader.Columns} FROM event_log WHERE cause_id = @Id ORDER BY id LIMIT {MaxCaused}", new { Id = causeId }, ct);

    public const int MaxCaused = 1000;

    /// <summary>The latest deliveries, newest first, optionally of one repository.</summary>
    public async Task<IReadOnlyList<WebhookDelivery>> RecentDeliveriesAsync(RepoId? repo, int limit, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<DeliveryRow>(new CommandDefinition(
            $"""
            SELECT delivery_id AS DeliveryId, event AS Event, action AS Action, owner AS Owner, repo AS Repo,
                received_at AS ReceivedAt, processed_at AS ProcessedAt, outcome AS Outcome, error AS Error
            FROM webhook_delivery {(repo is null ? "" : "WHERE owner = @Owner AND repo = @Repo")} ORDER BY id DESC LIMIT @Limit
            """, new { repo?.Owner, Repo = repo?.Name, Limit = limit }, cancellationToken: ct));
        return rows.Select(r => new WebhookDelivery(r.DeliveryId, r.Event, r.Action,
            r.Owner is not null && r.Repo is not null ? new RepoId(r.Owner, r.Repo) : null, "", DateTimeOffset.FromUnixTimeMilliseconds(r.ReceivedAt))
        {
            ProcessedAt = r.ProcessedAt is { } p ? DateTimeOffset.FromUnixTimeMilliseconds(p) : null,
            Outcome = r.Outcome,
            Error = r.Error,
        }).ToList();
    }

    public async Task<InboxHealth> InboxHealthAsync(DateTimeOffset failuresSince, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleAsync<(long Unprocessed, long? Oldest, long? Last, long Failed)>(new CommandDefinition(
            """
            SELECT (SELECT count(*) FROM webhook_delivery WHERE processed_at IS NULL),
                   (SELECT min(received_at) FROM webhook_delivery WHERE processed_at IS NULL),
                   (SELECT max(received_at) FROM webhook_delivery),
                   (SELECT count(*) FROM webhook_delivery WHERE outcome LIKE 'failed%' AND received_at >= @Since)
            """, new { Since = failuresSince.ToUnixTimeMilliseconds() }, cancellationToken: ct));
        return new InboxHealth((int)row.Unprocessed, ToTime(row.Oldest), ToTime(row.Last), (int)row.Failed);
    }

    /// <summary>The history trends are computed from, for [from, to), of one repository or all.</summary>
    public async Task<TrendData> TrendDataAsync(DateTimeOffset from, DateTimeOffset to, RepoId? repo, CancellationToken ct = default)
    {
        var p = new { From = from.ToUnixTimeMilliseconds(), To = to.ToUnixTimeMilliseconds(), repo?.Owner, Repo = repo?.Name };
        var inRepo = repo is null ? "" : "AND owner = @Owner AND repo = @Repo";
        await using var connection = await database.OpenAsync(ct);
        var merged = await connection.QueryAsync<(long RequestedAt, long MergedAt)>(new CommandDefinition(
            $"SELECT requested_at, timestamp FROM pull_request WHERE state = 'Merged' AND timestamp >= @From AND timestamp < @To {inRepo}", p, cancellationToken: ct));
        var failed = await connection.QueryAsync<long>(new CommandDefinition(
            $"SELECT timestamp FROM pull_request WHERE state IN ('Failed', 'TimedOut') AND timestamp >= @From AND timestamp < @To {inRepo}", p, cancellationToken: ct));
        var batches = await connection.QueryAsync<(long Attempt, long At, long Size)>(new CommandDefinition(
            $"""
            SELECT attempt_id, min(at), count(*) FROM event_log
            WHERE entity = 'pull_request' AND trigger = 'Batch' AND attempt_id IS NOT NULL AND at >= @From AND at < @To {inRepo}
            GROUP BY attempt_id
            """, p, cancellationToken: ct));
        var ciRuns = await connection.QueryAsync<long>(new CommandDefinition(
            $"SELECT at FROM event_log WHERE entity = 'merge_attempt' AND to_state = 'Testing' AND at >= @From AND at < @To {inRepo}", p, cancellationToken: ct));
        // Queue length is rebuilt from transitions: into Queued +1, out of it -1 (a re-entry nets zero).
        var before = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            $"""
            SELECT sum((CASE WHEN to_state = 'Queued' THEN 1 ELSE 0 END) - (CASE WHEN from_state = 'Queued' THEN 1 ELSE 0 END))
            FROM event_log WHERE entity = 'pull_request' AND at < @From {inRepo}
            """, p, cancellationToken: ct)) ?? 0;
        var changes = await connection.QueryAsync<(long At, long Delta)>(new CommandDefinition(
            $"""
            SELECT at, (CASE WHEN to_state = 'Queued' THEN 1 ELSE 0 END) - (CASE WHEN from_state = 'Queued' THEN 1 ELSE 0 END)
            FROM event_log WHERE entity = 'pull_request' AND (to_state = 'Queued' OR from_state = 'Queued') AND at >= @From AND at < @To {inRepo}
            ORDER BY id
            """, p, cancellationToken: ct));
        return new TrendData(
            merged.Select(m => (ToTime(m.RequestedAt)!.Value, ToTime(m.MergedAt)!.Value)).ToList(),
            failed.Select(f => ToTime(f)!.Value).ToList(),
            batches.Select(b => (b.Attempt, ToTime(b.At)!.Value, (int)b.Size)).ToList(),
            ciRuns.Select(c => ToTime(c)!.Value).ToList(),
            (int)before,
            changes.Where(c => c.Delta != 0).Select(c => (ToTime(c.At)!.Value, (int)c.Delta)).ToList());
    }

    /// <summary>The time of the first event, for a trend's default span.</summary>
    public async Task<DateTimeOffset?> FirstEventAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return ToTime(await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT min(at) FROM event_log", cancellationToken: ct)));
    }

    private static DateTimeOffset? ToTime(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;

    private async Task<IReadOnlyList<PullRequestRecord>> QueryPrsAsync(string sql, object parameters, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<PrRow>(new CommandDefinition(sql, parameters, cancellationToken: ct));
        return rows.Select(r => new PullRequestRecord(r.Id, new RepoId(r.Owner, r.Repo), (int)r.Number, r.Target, r.State, r.Attempt, (int)r.Priority,
            ToTime(r.RequestedAt)!.Value, ToTime(r.Timestamp)!.Value, ToTime(r.QueuedAt), r.RequestedBy, r.Title, r.Author, r.Reason, r.MergedSha, r.HeadSha)).ToList();
    }

    private async Task<IReadOnlyList<AttemptRecord>> QueryAttemptsAsync(string sql, object parameters, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<AttemptRow>(new CommandDefinition(sql, parameters, cancellationToken: ct));
        return rows.Select(r => new AttemptRecord(r.Id, new RepoId(r.Owner, r.Repo), r.Target, r.State, r.BaseSha, r.StagingSha, r.ParentId,
            ToTime(r.CreatedAt)!.Value, ToTime(r.Timestamp)!.Value, r.Reason) { AheadId = r.AheadId, FlakeRetries = r.FlakeRetries }).ToList();
    }

    private Task<IReadOnlyList<EventLogRecord>> QueryEventsAsync(string sql, object parameters, CancellationToken ct) =>
        EventLogReader.QueryAsync(database, sql, parameters, ct);

    private sealed class PrRow
    {
        public long Id { get; set; }
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public long Number { get; set; }
        public string Target { get; set; } = "";
        public string State { get; set; } = "";
        public long? Attempt { get; set; }
        public long Priority { get; set; }
        public long RequestedAt { get; set; }
        public long Timestamp { get; set; }
        public long? QueuedAt { get; set; }
        public string? RequestedBy { get; set; }
        public string? Title { get; set; }
        public string? Author { get; set; }
        public string? Reason { get; set; }
        public string? MergedSha { get; set; }
        public string HeadSha { get; set; } = "";
    }

    private sealed class AttemptRow
    {
        public long Id { get; set; }
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public string Target { get; set; } = "";
        public string State { get; set; } = "";
        public string? BaseSha { get; set; }
        public string? StagingSha { get; set; }
        public long? ParentId { get; set; }
        public long? AheadId { get; set; }
        public int FlakeRetries { get; set; }
        public long CreatedAt { get; set; }
        public long Timestamp { get; set; }
        public string? Reason { get; set; }
    }

    private sealed class DeliveryRow
    {
        public string DeliveryId { get; set; } = "";
        public string Event { get; set; } = "";
        public string? Action { get; set; }
        public string? Owner { get; set; }
        public string? Repo { get; set; }
        public long ReceivedAt { get; set; }
        public long? ProcessedAt { get; set; }
        public string? Outcome { get; set; }
        public string? Error { get; set; }
    }
}
