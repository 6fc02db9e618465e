using System.Data.Common;
using Dapper;
using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Data;

/// <summary>
/// <see cref="IQueueStore"/> over SQLite or PostgreSQL: entities are rehydrated from their rows, and a save writes
/// rows and event log in one write transaction, with optimistic concurrency on a version column.
/// </summary>
public sealed class QueueStore(Database database, TimeProvider? time = null) : IQueueStore
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    // Must match PullRequest.IsActive / MergeAttempt.IsActive (a test checks) and, for PRs, the partial
    // unique index of 0001_initial.sql.
    internal static readonly string[] ActivePullRequestStates =
        [nameof(PullRequestState.Requested), nameof(PullRequestState.Queued), nameof(PullRequestState.Merging), nameof(PullRequestState.Split)];
    internal static readonly string[] ActiveAttemptStates =
        [nameof(MergeAttemptState.Constructing), nameof(MergeAttemptState.Testing), nameof(MergeAttemptState.Success), nameof(MergeAttemptState.Red), nameof(MergeAttemptState.Split)];

    private const string PullRequestColumns =
        """
        id AS Id, owner AS Owner, repo AS Repo, number AS Number, target_branch AS TargetBranch,
        commit_hash AS CommitHash, state AS State, merge_attempt AS MergeAttempt, priority AS Priority,
        requested_at AS RequestedAt, timestamp AS Timestamp, queued_at AS QueuedAt, requested_by AS RequestedBy,
        title AS Title, author AS Author, reason AS Reason, merged_sha AS MergedSha, landed_sha AS LandedSha, held AS Held, version AS Version
        """;

    private const string AttemptColumns =
        """
        id AS Id, owner AS Owner, repo AS Repo, target_branch AS TargetBranch, state AS State, base_sha AS BaseSha,
        staging_sha AS StagingSha, parent_id AS ParentId, ahead_id AS AheadId, flake_retries AS FlakeRetries, required_checks AS RequiredChecks,
        created_at AS CreatedAt, timestamp AS Timestamp, reason AS Reason, version AS Version
        """;

    /// <summary>
    /// Hands out attempt ids from a counter row. One UPDATE … RETURNING is atomic and takes the write
    /// lock, so concurrent callers (threads or processes) are serialised and never share a value. Ids
    /// taken by an attempt that is never saved are simply skipped.
    /// </summary>
    public async Task<AttemptId> NextAttemptIdAsync(CancellationToken ct)
    {
        await using var connection = await database.OpenWriteAsync(ct);
        var next = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "UPDATE attempt_sequence SET value = value + 1 WHERE name = 'merge_attempt' RETURNING value",
            cancellationToken: ct));
        return new AttemptId(next);
    }

    public async Task<PullRequest?> FindActivePullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<PullRequestRow>(new CommandDefinition(
            $"SELECT {PullRequestColumns} FROM pull_request WHERE owner = @Owner AND repo = @Repo AND number = @Number AND {database.In("state", "States")}",
            new { repo.Owner, Repo = repo.Name, Number = number, States = ActivePullRequestStates }, cancellationToken: ct));
        return row?.ToEntity();
    }

    public async Task<IReadOnlyList<PullRequest>> GetActivePullRequestsAsync(RepoId? repo, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        // Ordered by row id, i.e. by when the request was first saved, so callers get a stable order.
        var sql = repo is null
            ? $"SELECT {PullRequestColumns} FROM pull_request WHERE {database.In("state", "States")} ORDER BY id"
            : $"SELECT {PullRequestColumns} FROM pull_request WHERE owner = @Owner AND repo = @Repo AND {database.In("state", "States")} ORDER BY id";
        var rows = await connection.QueryAsync<PullRequestRow>(new CommandDefinition(
            sql, new { Owner = repo?.Owner, Repo = repo?.Name, States = ActivePullRequestStates }, cancellationToken: ct));
        return rows.Select(r => r.ToEntity()).ToList();
    }

    /// <summary>Any pull request row by id, active or finished (history, the dashboard, tests).</summary>
    public async Task<PullRequest?> GetPullRequestAsync(long id, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<PullRequestRow>(new CommandDefinition(
            $"SELECT {PullRequestColumns} FROM pull_request WHERE id = @Id", new { Id = id }, cancellationToken: ct));
        return row?.ToEntity();
    }

    /// <summary>Every request ever saved for one PR, oldest first: finished ones are kept as history.</summary>
    public async Task<IReadOnlyList<PullRequest>> GetPullRequestHistoryAsync(RepoId repo, int number, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<PullRequestRow>(new CommandDefinition(
            $"SELECT {PullRequestColumns} FROM pull_request WHERE owner = @Owner AND repo = @Repo AND number = @Number ORDER BY id",
            new { repo.Owner, Repo = repo.Name, Number = number }, cancellationToken: ct));
        return rows.Select(r => r.ToEntity()).ToList();
    }

    public async Task<MergeAttempt?> GetAttemptAsync(AttemptId id, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<AttemptRow>(new CommandDefinition(
            $"SELECT {AttemptColumns} FROM merge_attempt WHERE id = @Id", new { Id = id.Value }, cancellationToken: ct));
        return row?.ToEntity();
    }

    public async Task<IReadOnlyList<MergeAttempt>> GetActiveAttemptsAsync(RepoId? repo, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var sql = repo is null
            ? $"SELECT {AttemptColumns} FROM merge_attempt WHERE {database.In("state", "States")} ORDER BY id"
            : $"SELECT {AttemptColumns} FROM merge_attempt WHERE owner = @Owner AND repo = @Repo AND {database.In("state", "States")} ORDER BY id";
        var rows = await connection.QueryAsync<AttemptRow>(new CommandDefinition(
            sql, new { Owner = repo?.Owner, Repo = repo?.Name, States = ActiveAttemptStates }, cancellationToken: ct));
        return rows.Select(r => r.ToEntity()).ToList();
    }

    public async Task<IReadOnlyList<QueueId>> GetActiveQueuesAsync(CancellationToken ct)
    {
        // One grouped range of ix_pull_request_state_queue per state (an index-only scan, already in order); a
        // single IN over the states would gather every active row before grouping them.
        var parameters = new DynamicParameters(new { AttemptStates = ActiveAttemptStates });
        var perState = ActivePullRequestStates.Select((state, i) =>
        {
            parameters.Add($"State{i}", state);
            return $"SELECT owner, repo, target_branch FROM pull_request WHERE state = @State{i} GROUP BY owner, repo, target_branch";
        });
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<QueueRow>(new CommandDefinition(
            $"""
            SELECT owner AS Owner, repo AS Repo, target_branch AS Target FROM merge_attempt WHERE {database.In("state", "AttemptStates")}
            UNION {string.Join(" UNION ", perState)}
            """,
            parameters, cancellationToken: ct));
        // Names differing only in case are one repository (GitHub's rule; the columns compare so too).
        return rows.Select(r => new QueueId(new RepoId(r.Owner, r.Repo), r.Target)).Distinct()
            .OrderBy(q => q.Repo.Owner, StringComparer.OrdinalIgnoreCase).ThenBy(q => q.Repo.Name, StringComparer.OrdinalIgnoreCase)
            .ThenBy(q => q.Target, StringComparer.Ordinal).ToList();
    }

    private sealed class QueueRow
    {
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public string Target { get; set; } = "";
    }

    public async Task<IReadOnlyList<PullRequest>> GetPullRequestsInStatesAsync(
        RepoId repo, IReadOnlyDictionary<PullRequestState, DateTimeOffset> enteredBefore, CancellationToken ct)
    {
        if (enteredBefore.Count == 0) return [];
        var parameters = new DynamicParameters(new { repo.Owner, Repo = repo.Name });
        // One range of ix_pull_request_owner_repo_state per state: an OR of the states would walk every row of the repository.
        var perState = enteredBefore.Select((entry, i) =>
        {
            if (!ActivePullRequestStates.Contains(entry.Key.ToString())) throw new ArgumentException($"{entry.Key} is not an active state", nameof(enteredBefore));
            parameters.Add($"State{i}", entry.Key.ToString());
            parameters.Add($"Before{i}", CeilingMilliseconds(entry.Value));
            return $"SELECT {PullRequestColumns} FROM pull_request WHERE owner = @Owner AND repo = @Repo AND state = @State{i} AND timestamp < @Before{i}";
        }).ToArray();
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<PullRequestRow>(new CommandDefinition(
            $"{string.Join(" UNION ALL ", perState)} ORDER BY Id", parameters, cancellationToken: ct));
        return rows.Select(r => r.ToEntity()).ToList();
    }

    /// <summary>
    /// The instant in stored milliseconds, rounded up: a row stored at t ms entered before the instant
    /// exactly when t is below this (the instant may carry a fraction of a millisecond).
    /// </summary>
    private static long CeilingMilliseconds(DateTimeOffset instant)
    {
        if (instant == DateTimeOffset.MaxValue) return long.MaxValue;
        var ms = instant.ToUnixTimeMilliseconds();
        return DateTimeOffset.FromUnixTimeMilliseconds(ms) < instant ? ms + 1 : ms;
    }

    public async Task<IReadOnlyList<PullRequest>> GetAttemptMembersAsync(IReadOnlyCollection<AttemptId> attempts, CancellationToken ct)
    {
        if (attempts.Count == 0) return [];
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<PullRequestRow>(new CommandDefinition(
            $"SELECT {PullRequestColumns} FROM pull_request WHERE {database.In("merge_attempt", "Attempts")} AND {database.In("state", "States")} ORDER BY id",
            new { Attempts = attempts.Select(a => a.Value).Distinct().ToArray(), States = ActivePullRequestStates }, cancellationToken: ct));
        return rows.Select(r => r.ToEntity()).ToList();
    }

    public async Task<QueueHead?> GetQueueHeadAsync(QueueId queue, CancellationToken ct)
    {
        const string waiting = "owner = @Owner AND repo = @Repo AND target_branch = @Target AND state = 'Queued' AND held = 0";
        var parameters = new { queue.Repo.Owner, Repo = queue.Repo.Name, queue.Target };
        await using var connection = await database.OpenAsync(ct);
        // QueuePlanner.Ordered's order: priority, then when queued (the state change before queuing was recorded), then number.
        var first = await connection.QuerySingleOrDefaultAsync<PullRequestRow>(new CommandDefinition(
            $"SELECT {PullRequestColumns} FROM pull_request WHERE {waiting} ORDER BY priority DESC, COALESCE(queued_at, timestamp), number LIMIT 1",
            parameters, cancellationToken: ct));
        if (first is null) return null;
        var oldest = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT MIN(COALESCE(queued_at, timestamp)) FROM pull_request WHERE {waiting}", parameters, cancellationToken: ct));
        return new QueueHead(first.ToEntity(), Time(oldest));
    }

    /// <summary>
    /// Writes the unit of work in one BEGIN IMMEDIATE transaction. Entities with version 0 are
    /// inserted; others are updated only if their row still has the version they were loaded with.
    /// A stale version, or a second active row for the same PR, rolls everything back and throws
    /// <see cref="ConcurrencyConflictException"/>. Ids, versions and transitions of the entities
    /// change only after the commit, so after a failure the caller can throw them away and reload.
    /// </summary>
    public async Task SaveAsync(Changes changes, Cause cause, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(changes);
        ArgumentNullException.ThrowIfNull(cause);
        if (changes.IsEmpty) return;

        var at = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var insertedPrIds = new Dictionary<PullRequest, long>(ReferenceEqualityComparer.Instance);

        await using var connection = await database.OpenWriteAsync(ct);
        await using var tx = database.BeginWrite(connection);
        try
        {
            // Attempts first: PRs point at them (the foreign key is deferred anyway, this is just tidy).
            foreach (var attempt in changes.Attempts)
            {
                if (attempt.Version == 0)
                    await InsertAttemptAsync(connection, tx, attempt, ct);
                else
                    await UpdateAttemptAsync(connection, tx, attempt, ct);

                foreach (var t in attempt.Transitions)
                    await InsertEventAsync(connection, tx, new EventRow(
                        at, attempt.Repo.Owner, attempt.Repo.Name, null, attempt.Id.Value, "transition", "merge_attempt",
                        t.From, t.To, t.Trigger, t.Reason, cause.Kind, cause.Id, cause.Actor), ct);
            }

            foreach (var pr in changes.PullRequests)
            {
                long? previousAttempt = null;
                if (pr.Version == 0)
                {
                    insertedPrIds[pr] = await InsertPullRequestAsync(connection, tx, pr, ct);
                }
                else
                {
                    // A PR leaving its attempt (merged, failed, cancelled) has AttemptId null now; the
                    // log row should still say which attempt it left, so read it before overwriting.
                    if (pr.AttemptId is null && pr.Transitions.Count > 0)
                        previousAttempt = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                            "SELECT merge_attempt FROM pull_request WHERE id = @Id", new { pr.Id }, tx, cancellationToken: ct));
                    await UpdatePullRequestAsync(connection, tx, pr, ct);
                }

                foreach (var t in pr.Transitions)
                    await InsertEventAsync(connection, tx, new EventRow(
                        at, pr.Repo.Owner, pr.Repo.Name, pr.Number, pr.AttemptId?.Value ?? previousAttempt, "transition", "pull_request",
                        t.From, t.To, t.Trigger, t.Reason, cause.Kind, cause.Id, cause.Actor), ct);
            }

            foreach (var e in changes.Events)
            {
                // An entry carries its own cause; the flows build it from the same cause they save with.
                await InsertEventAsync(connection, tx, new EventRow(
                    e.At.ToUnixTimeMilliseconds(), e.Repo.Owner, e.Repo.Name, e.PullRequest, e.Attempt?.Value, e.Kind, null,
                    e.From, e.To, null, e.Reason, e.Cause.Kind, e.Cause.Id, e.Cause.Actor), ct);
            }

            await tx.CommitAsync(ct);
        }
        catch (Exception ex) when (database.IsUniqueViolation(ex))
        {
            throw new ConcurrencyConflictException(
                $"A row saved concurrently conflicts with this change (a second active request for the same pull request, or a reused attempt id): {ex.Message}");
        }

        // Only now that the rows are durable do the entities take their new ids and versions.
        foreach (var attempt in changes.Attempts)
        {
            attempt.Version = attempt.Version == 0 ? 1 : attempt.Version + 1;
            attempt.ClearTransitions();
        }

        foreach (var pr in changes.PullRequests)
        {
            if (insertedPrIds.TryGetValue(pr, out var id)) pr.Id = id;
            pr.Version = pr.Version == 0 ? 1 : pr.Version + 1;
            pr.ClearTransitions();
        }
    }

    public async Task<(int Merged, int Failed)> GetRecentOutcomesAsync(QueueId queue, int count, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var states = (await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT state FROM pull_request
            WHERE owner = @Owner AND repo = @Repo AND target_branch = @Target AND state IN ('Merged', 'Failed')
            ORDER BY timestamp DESC LIMIT @Count
            """, new { queue.Repo.Owner, Repo = queue.Repo.Name, queue.Target, Count = count }, cancellationToken: ct))).ToList();
        return (states.Count(s => s == nameof(PullRequestState.Merged)), states.Count(s => s == nameof(PullRequestState.Failed)));
    }

    public async Task<IReadOnlyList<TimeSpan>> GetRecentRunDurationsAsync(QueueId queue, int count, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var millis = await connection.QueryAsync<long>(new CommandDefinition(
            """
            SELECT timestamp - created_at FROM merge_attempt
            WHERE owner = @Owner AND repo = @Repo AND target_branch = @Target AND state IN ('Merged', 'Failed') AND staging_sha IS NOT NULL
            ORDER BY timestamp DESC, id DESC LIMIT @Count
            """, new { queue.Repo.Owner, Repo = queue.Repo.Name, queue.Target, Count = count }, cancellationToken: ct));
        return millis.Select(ms => TimeSpan.FromMilliseconds(ms)).ToArray();
    }

    public async Task<Landing?> GetLastLandedAsync(QueueId queue, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        // Attempts that landed with a later one end at the same time with lower ids: the highest id is the one landed.
        var row = await connection.QuerySingleOrDefaultAsync<LandingRow>(new CommandDefinition(
            """
            SELECT id AS Id, staging_sha AS Sha FROM merge_attempt
            WHERE owner = @Owner AND repo = @Repo AND target_branch = @Target AND state = 'Merged'
            ORDER BY timestamp DESC, id DESC LIMIT 1
            """, new { queue.Repo.Owner, Repo = queue.Repo.Name, queue.Target }, cancellationToken: ct));
        return row is null ? null : new Landing(new AttemptId(row.Id), new CommitSha(row.Sha));
    }

    private sealed class LandingRow
    {
        public long Id { get; set; }
        public string Sha { get; set; } = "";
    }

    public async Task<PullRequest?> FindLatestPullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<PullRequestRow>(new CommandDefinition(
            $"SELECT {PullRequestColumns} FROM pull_request WHERE owner = @Owner AND repo = @Repo AND number = @Number ORDER BY id DESC LIMIT 1",
            new { repo.Owner, Repo = repo.Name, Number = number }, cancellationToken: ct));
        return row?.ToEntity();
    }

    public async Task<QueueFreeze?> GetFreezeAsync(QueueId queue, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<FreezeRow>(new CommandDefinition(
            """
            SELECT owner AS Owner, repo AS Repo, target_branch AS TargetBranch, frozen_by AS FrozenBy, frozen_at AS FrozenAt, reason AS Reason
            FROM queue_freeze WHERE owner = @Owner AND repo = @Repo AND target_branch = @Target
            """, new { queue.Repo.Owner, Repo = queue.Repo.Name, queue.Target }, cancellationToken: ct));
        return row is null ? null : new QueueFreeze(new QueueId(new RepoId(row.Owner, row.Repo), row.TargetBranch), row.FrozenBy, Time(row.FrozenAt), row.Reason);
    }

    public async Task SetFreezeAsync(QueueFreeze freeze, CancellationToken ct)
    {
        await using var connection = await database.OpenWriteAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO queue_freeze (owner, repo, target_branch, frozen_by, frozen_at, reason)
            VALUES (@Owner, @Repo, @Target, @FrozenBy, @FrozenAt, @Reason)
            ON CONFLICT (owner, repo, target_branch) DO UPDATE SET frozen_by = excluded.frozen_by, frozen_at = excluded.frozen_at, reason = excluded.reason
            """, new
            {
                freeze.Queue.Repo.Owner,
                Repo = freeze.Queue.Repo.Name,
                freeze.Queue.Target,
                freeze.FrozenBy,
                FrozenAt = freeze.FrozenAt.ToUnixTimeMilliseconds(),
                freeze.Reason,
            }, cancellationToken: ct));
    }

    public async Task<bool> ClearFreezeAsync(QueueId queue, CancellationToken ct)
    {
        await using var connection = await database.OpenWriteAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM queue_freeze WHERE owner = @Owner AND repo = @Repo AND target_branch = @Target",
            new { queue.Repo.Owner, Repo = queue.Repo.Name, queue.Target }, cancellationToken: ct)) > 0;
    }

    private const string TryColumns =
        """
        owner AS Owner, repo AS Repo, number AS Number, target_branch AS TargetBranch, head_sha AS HeadSha, try_sha AS TrySha,
        state AS State, requested_by AS RequestedBy, started_at AS StartedAt, reason AS Reason
        """;

    public async Task<TryBuild?> GetTryAsync(RepoId repo, int number, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<TryRow>(new CommandDefinition(
            $"SELECT {TryColumns} FROM try_build WHERE owner = @Owner AND repo = @Repo AND number = @Number",
            new { repo.Owner, Repo = repo.Name, Number = number }, cancellationToken: ct));
        return row?.ToBuild();
    }

    public async Task<IReadOnlyList<TryBuild>> GetRunningTriesAsync(RepoId? repo, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var sql = repo is null
            ? $"SELECT {TryColumns} FROM try_build WHERE state = @State ORDER BY started_at"
            : $"SELECT {TryColumns} FROM try_build WHERE owner = @Owner AND repo = @Repo AND state = @State ORDER BY started_at";
        var rows = await connection.QueryAsync<TryRow>(new CommandDefinition(
            sql, new { Owner = repo?.Owner, Repo = repo?.Name, State = nameof(TryState.Running) }, cancellationToken: ct));
        return rows.Select(r => r.ToBuild()).ToList();
    }

    public async Task SaveTryAsync(TryBuild build, CancellationToken ct)
    {
        await using var connection = await database.OpenWriteAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO try_build (owner, repo, number, target_branch, head_sha, try_sha, state, requested_by, started_at, reason)
            VALUES (@Owner, @Repo, @Number, @TargetBranch, @HeadSha, @TrySha, @State, @RequestedBy, @StartedAt, @Reason)
            ON CONFLICT (owner, repo, number) DO UPDATE SET target_branch = excluded.target_branch, head_sha = excluded.head_sha,
                try_sha = excluded.try_sha, state = excluded.state, requested_by = excluded.requested_by,
                started_at = excluded.started_at, reason = excluded.reason
            """, TryRow.From(build), cancellationToken: ct));
    }

    private sealed class FreezeRow
    {
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public string TargetBranch { get; set; } = "";
        public string FrozenBy { get; set; } = "";
        public long FrozenAt { get; set; }
        public string? Reason { get; set; }
    }

    /// <summary>A try_build row as Dapper reads and writes it.</summary>
    private sealed class TryRow
    {
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public int Number { get; set; }
        public string TargetBranch { get; set; } = "";
        public string HeadSha { get; set; } = "";
        public string? TrySha { get; set; }
        public string State { get; set; } = "";
        public string RequestedBy { get; set; } = "";
        public long StartedAt { get; set; }
        public string? Reason { get; set; }

        public static TryRow From(TryBuild b) => new()
        {
            Owner = b.Repo.Owner,
            Repo = b.Repo.Name,
            Number = b.Number,
            TargetBranch = b.Target,
            HeadSha = b.HeadSha.Value,
            TrySha = b.TrySha?.Value,
            State = b.State.ToString(),
            RequestedBy = b.RequestedBy,
            StartedAt = b.StartedAt.ToUnixTimeMilliseconds(),
            Reason = b.Reason,
        };

        public TryBuild ToBuild() => new(
            new RepoId(Owner, Repo), Number, TargetBranch, new CommitSha(HeadSha), TrySha is { } t ? new CommitSha(t) : null,
            Enum.Parse<TryState>(State), RequestedBy, Time(StartedAt), Reason);
    }

    private static async Task<long> InsertPullRequestAsync(DbConnection connection, DbTransaction tx, PullRequest pr, CancellationToken ct) =>
        await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            INSERT INTO pull_request (owner, repo, number, target_branch, commit_hash, state, merge_attempt, priority,
                requested_at, timestamp, queued_at, requested_by, title, author, reason, merged_sha, landed_sha, held, version)
            VALUES (@Owner, @Repo, @Number, @TargetBranch, @CommitHash, @State, @MergeAttempt, @Priority,
                @RequestedAt, @Timestamp, @QueuedAt, @RequestedBy, @Title, @Author, @Reason, @MergedSha, @LandedSha, @Held, 1)
            RETURNING id
            """, PullRequestRow.From(pr), tx, cancellationToken: ct));

    private static async Task UpdatePullRequestAsync(DbConnection connection, DbTransaction tx, PullRequest pr, CancellationToken ct)
    {
        // owner, repo and number identify the PR and never change; everything else may.
        var affected = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE pull_request SET target_branch = @TargetBranch, commit_hash = @CommitHash, state = @State,
                merge_attempt = @MergeAttempt, priority = @Priority, requested_at = @RequestedAt, timestamp = @Timestamp,
                queued_at = @QueuedAt, requested_by = @RequestedBy, title = @Title, author = @Author, reason = @Reason,
                merged_sha = @MergedSha, landed_sha = @LandedSha, held = @Held, version = version + 1
            WHERE id = @Id AND version = @Version
            """, PullRequestRow.From(pr), tx, cancellationToken: ct));
        // Throwing is enough to undo the whole unit of work: disposing the uncommitted transaction rolls it back.
        if (affected == 0)
        {
            throw new ConcurrencyConflictException(
                $"PR {pr.Repo}#{pr.Number} (row {pr.Id}) changed since it was read (version {pr.Version}) or no longer exists; reload and retry.");
        }
    }

    private static Task InsertAttemptAsync(DbConnection connection, DbTransaction tx, MergeAttempt attempt, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO merge_attempt (id, owner, repo, target_branch, state, base_sha, staging_sha, parent_id,
                ahead_id, flake_retries, required_checks, created_at, timestamp, reason, version)
            VALUES (@Id, @Owner, @Repo, @TargetBranch, @State, @BaseSha, @StagingSha, @ParentId,
                @AheadId, @FlakeRetries, @RequiredChecks, @CreatedAt, @Timestamp, @Reason, 1)
            """, AttemptRow.From(attempt), tx, cancellationToken: ct));

    private static async Task UpdateAttemptAsync(DbConnection connection, DbTransaction tx, MergeAttempt attempt, CancellationToken ct)
    {
        var affected = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE merge_attempt SET target_branch = @TargetBranch, state = @State, base_sha = @BaseSha,
                staging_sha = @StagingSha, parent_id = @ParentId, ahead_id = @AheadId, flake_retries = @FlakeRetries,
                required_checks = @RequiredChecks, created_at = @CreatedAt, timestamp = @Timestamp,
                reason = @Reason, version = version + 1
            WHERE id = @Id AND version = @Version
            """, AttemptRow.From(attempt), tx, cancellationToken: ct));
        // Throwing is enough to undo the whole unit of work: disposing the uncommitted transaction rolls it back.
        if (affected == 0)
        {
            throw new ConcurrencyConflictException(
                $"Attempt {attempt.Id} changed since it was read (version {attempt.Version}) or no longer exists; reload and retry.");
        }
    }

    private static Task InsertEventAsync(DbConnection connection, DbTransaction tx, EventRow row, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO event_log (at, owner, repo, pr_number, attempt_id, kind, entity, from_state, to_state, trigger,
                reason, cause_kind, cause_id, actor)
            VALUES (@At, @Owner, @Repo, @PrNumber, @AttemptId, @Kind, @Entity, @FromState, @ToState, @Trigger,
                @Reason, @CauseKind, @CauseId, @Actor)
            """, row, tx, cancellationToken: ct));

    private sealed record EventRow(
        long At, string Owner, string Repo, int? PrNumber, long? AttemptId, string Kind, string? Entity,
        string? FromState, string? ToState, string? Trigger, string? Reason, string CauseKind, string? CauseId, string? Actor);

    /// <summary>A pull_request row as Dapper reads and writes it: primitives only, no global type handlers.</summary>
    private sealed class PullRequestRow
    {
        public long Id { get; set; }
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public int Number { get; set; }
        public string TargetBranch { get; set; } = "";
        public string CommitHash { get; set; } = "";
        public string State { get; set; } = "";
        public long? MergeAttempt { get; set; }
        public int Priority { get; set; }
        public long RequestedAt { get; set; }
        public long Timestamp { get; set; }
        public long? QueuedAt { get; set; }
        public string? RequestedBy { get; set; }
        public string? Title { get; set; }
        public string? Author { get; set; }
        public string? Reason { get; set; }
        public string? MergedSha { get; set; }
        public string? LandedSha { get; set; }
        public long Held { get; set; }
        public int Version { get; set; }

        public static PullRequestRow From(PullRequest pr) => new()
        {
            Id = pr.Id,
            Owner = pr.Repo.Owner,
            Repo = pr.Repo.Name,
            Number = pr.Number,
            TargetBranch = pr.Target,
            CommitHash = pr.HeadSha.Value,
            State = pr.State.ToString(),
            MergeAttempt = pr.AttemptId?.Value,
            Priority = pr.Priority,
            RequestedAt = pr.RequestedAt.ToUnixTimeMilliseconds(),
            Timestamp = pr.StateChangedAt.ToUnixTimeMilliseconds(),
            QueuedAt = pr.QueuedAt?.ToUnixTimeMilliseconds(),
            RequestedBy = pr.RequestedBy,
            Title = pr.Title,
            Author = pr.Author,
            Reason = pr.Reason,
            MergedSha = pr.MergedSha?.Value,
            LandedSha = pr.LandedSha?.Value,
            Held = pr.Held ? 1 : 0,
            Version = pr.Version,
        };

        public PullRequest ToEntity()
        {
            var pr = PullRequest.Restore(
                Id, new RepoId(Owner, Repo), Number, TargetBranch, new CommitSha(CommitHash), Enum.Parse<PullRequestState>(State),
                MergeAttempt is { } a ? new AttemptId(a) : null, Priority, Time(RequestedAt), Time(Timestamp),
                QueuedAt is { } q ? Time(q) : null, RequestedBy, Title, Author, Reason,
                MergedSha is { } m ? new CommitSha(m) : null, Version);
            pr.LandedSha = LandedSha is { } l ? new CommitSha(l) : null;
            pr.Held = Held != 0;
            return pr;
        }
    }

    /// <summary>A merge_attempt row as Dapper reads and writes it.</summary>
    private sealed class AttemptRow
    {
        public long Id { get; set; }
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public string TargetBranch { get; set; } = "";
        public string State { get; set; } = "";
        public string? BaseSha { get; set; }
        public string? StagingSha { get; set; }
        public long? ParentId { get; set; }
        public long? AheadId { get; set; }
        public int FlakeRetries { get; set; }
        public string? RequiredChecks { get; set; }
        public long CreatedAt { get; set; }
        public long Timestamp { get; set; }
        public string? Reason { get; set; }
        public int Version { get; set; }

        public static AttemptRow From(MergeAttempt attempt) => new()
        {
            Id = attempt.Id.Value,
            Owner = attempt.Repo.Owner,
            Repo = attempt.Repo.Name,
            TargetBranch = attempt.Target,
            State = attempt.State.ToString(),
            BaseSha = attempt.BaseSha?.Value,
            StagingSha = attempt.StagingSha?.Value,
            ParentId = attempt.ParentId?.Value,
            AheadId = attempt.AheadId?.Value,
            FlakeRetries = attempt.FlakeRetries,
            RequiredChecks = attempt.RequiredChecks is { } required ? string.Join('\n', required) : null,
            CreatedAt = attempt.CreatedAt.ToUnixTimeMilliseconds(),
            Timestamp = attempt.StateChangedAt.ToUnixTimeMilliseconds(),
            Reason = attempt.Reason,
            Version = attempt.Version,
        };

        public MergeAttempt ToEntity() =>
            new(new AttemptId(Id), new QueueId(new RepoId(Owner, Repo), TargetBranch), Enum.Parse<MergeAttemptState>(State), Time(CreatedAt))
            {
                BaseSha = BaseSha is { } b ? new CommitSha(b) : null,
                StagingSha = StagingSha is { } s ? new CommitSha(s) : null,
                ParentId = ParentId is { } p ? new AttemptId(p) : null,
                AheadId = AheadId is { } ahead ? new AttemptId(ahead) : null,
                FlakeRetries = FlakeRetries,
                RequiredChecks = RequiredChecks is null ? null : RequiredChecks.Split('\n', StringSplitOptions.RemoveEmptyEntries),
                StateChangedAt = Time(Timestamp),
                Reason = Reason,
                Version = Version,
            };
    }

    private static DateTimeOffset Time(long unixMs) => DateTimeOffset.FromUnixTimeMilliseconds(unixMs);
}
