using Dapper;
using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Data;

/// <summary>One event_log row: a state change of a PR or attempt, or an effect a flow reported, with its cause.</summary>
/// <param name="Kind">"transition" for entity state changes, else the kind the flow gave its <see cref="EventLogEntry"/>.</param>
/// <param name="Entity">"pull_request" or "merge_attempt" for transitions, null for other entries.</param>
public sealed record EventLogRecord(
    long Id,
    DateTimeOffset At,
    RepoId Repo,
    int? PullRequest,
    AttemptId? Attempt,
    string Kind,
    string? Entity,
    string? From,
    string? To,
    string? Trigger,
    string? Reason,
    Cause Cause);

/// <summary>Read side of the event log, for the dashboard and for tests: every query returns rows in the order they were written.</summary>
public sealed class EventLogReader(Database database)
{
    /// <summary>The event_log columns under the names <see cref="QueryAsync(Database, string, object, CancellationToken)"/> reads.</summary>
    internal const string Columns =
        """
        id AS Id, at AS At, owner AS Owner, repo AS Repo, pr_number AS PrNumber, attempt_id AS AttemptId, kind AS Kind,
        entity AS Entity, from_state AS FromState, to_state AS ToState, trigger AS Trigger, reason AS Reason,
        cause_kind AS CauseKind, cause_id AS CauseId, actor AS Actor
        """;

    private const string Select = $"SELECT {Columns} FROM event_log";

    /// <summary>Everything logged about one pull request, across all of its requests.</summary>
    public Task<IReadOnlyList<EventLogRecord>> ForPullRequestAsync(RepoId repo, int number, CancellationToken ct = default) =>
        QueryAsync($"{Select} WHERE owner = @Owner AND repo = @Repo AND pr_number = @Number ORDER BY id",
            new { repo.Owner, Repo = repo.Name, Number = number }, ct);

    /// <summary>Everything logged about one attempt: its own transitions and those of the PRs it held.</summary>
    public Task<IReadOnlyList<EventLogRecord>> ForAttemptAsync(AttemptId attempt, CancellationToken ct = default) =>
        QueryAsync($"{Select} WHERE attempt_id = @Attempt ORDER BY id", new { Attempt = attempt.Value }, ct);

    /// <summary>Everything one cause (a delivery, a command, a poll tick) brought about.</summary>
    public Task<IReadOnlyList<EventLogRecord>> ForCauseAsync(string kind, string id, CancellationToken ct = default) =>
        QueryAsync($"{Select} WHERE cause_kind = @Kind AND cause_id = @Id ORDER BY id", new { Kind = kind, Id = id }, ct);

    /// <summary>The latest rows of one repository, or of all when null, newest first.</summary>
    public Task<IReadOnlyList<EventLogRecord>> RecentAsync(RepoId? repo, int limit, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return repo is null
            ? QueryAsync($"{Select} ORDER BY id DESC LIMIT @Limit", new { Limit = limit }, ct)
            : QueryAsync($"{Select} WHERE owner = @Owner AND repo = @Repo ORDER BY id DESC LIMIT @Limit",
                new { repo.Value.Owner, Repo = repo.Value.Name, Limit = limit }, ct);
    }

    private Task<IReadOnlyList<EventLogRecord>> QueryAsync(string sql, object parameters, CancellationToken ct) =>
        QueryAsync(database, sql, parameters, ct);

    /// <summary>Runs a query selecting <see cref="Columns"/> and maps its rows; the dashboard's queries share it.</summary>
    internal static async Task<IReadOnlyList<EventLogRecord>> QueryAsync(Database database, string sql, object parameters, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(sql, parameters, cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    private sealed class Row
    {
        public long Id { get; set; }
        public long At { get; set; }
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public int? PrNumber { get; set; }
        public long? AttemptId { get; set; }
        public string Kind { get; set; } = "";
        public string? Entity { get; set; }
        public string? FromState { get; set; }
        public string? ToState { get; set; }
        public string? Trigger { get; set; }
        public string? Reason { get; set; }
        public string CauseKind { get; set; } = "";
        public string? CauseId { get; set; }
        public string? Actor { get; set; }

        public EventLogRecord ToRecord() => new(
            Id, DateTimeOffset.FromUnixTimeMilliseconds(At), new RepoId(Owner, Repo), PrNumber,
            AttemptId is { } a ? new AttemptId(a) : null, Kind, Entity, FromState, ToState, Trigger, Reason,
            new Cause(CauseKind, CauseId, Actor));
    }
}
