using System.Data.Common;
using System.Text.Json;
using Dapper;
using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Runner;

namespace MergeQueue.Data;

/// <summary>One piece of a job's log, as it was printed, and the try it belongs to.</summary>
public sealed record JobLogChunk(int Try, DateTimeOffset At, string Text);

/// <summary>
/// The built-in runner's jobs and logs (migrations 0011 and 0013 / PostgreSQL 0002 and 0004). Claiming is one
/// <c>UPDATE … WHERE state = 'queued' … RETURNING</c>: with several instances on one database a job
/// is claimed by exactly one. A running job is cancelled by its row: the worker running it reads the
/// state while it runs and kills the process. Whoever claimed a job (<c>claimed_by</c>: an instance id,
/// or <see cref="ExternalPrefix"/> and a token fresh for each claim of an external runner) renews its
/// heartbeat while it runs and is the only one whose reports count: once the job was queued again and
/// claimed by another, the first one's heartbeat, retries and verdict are refused.
/// </summary>
public sealed class RunnerJobStore(Database database, TimeProvider time)
{
    private const string Columns =
        """
        id AS Id, owner AS Owner, repo AS Repo, sha AS Sha, context AS Context, trigger AS Trigger, branch AS Branch,
        attempt_id AS AttemptId, spec AS Spec, state AS State, description AS Description, tries AS Tries, exit_code AS ExitCode,
        claimed_by AS ClaimedBy, created_at AS CreatedAt, started_at AS StartedAt, finished_at AS FinishedAt
        """;

    /// <summary>How the claims of external runner processes begin (an instance's claims are its instance id).</summary>
    public const string ExternalPrefix = "runner:";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static string Name(JobState state) => state.ToString().ToLowerInvariant();
    private static string Name(JobTrigger trigger) => trigger switch { JobTrigger.PullRequest => "pull_request", var t => t.ToString().ToLowerInvariant() };
    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Queues the job, once per commit: the same job already queued, running or done on this commit (a
    /// redelivered push, or the staging commit the target fast-forwarded to) is left as it is, whatever
    /// queued it. Returns the new job, or null when there was one. <paramref name="again"/> (the
    /// reconciler: the commit's status still says pending) lets only a queued or running one stand in the way.
    /// </summary>
    public async Task<RunnerJob?> EnqueueAsync(NewJob job, CancellationToken ct = default, bool again = false)
    {
        await using var connection = await database.OpenAsync(ct);
        await using var tx = database.BeginWrite(connection);
        var args = new
        {
            Owner = job.Repo.Owner,
            Repo = job.Repo.Name,
            Sha = job.Sha.Value,
            job.Context,
            Trigger = Name(job.Trigger),
            job.Branch,
            AttemptId = job.Attempt?.Value,
            Spec = JsonSerializer.Serialize(job.Spec, Json),
            State = Name(JobState.Queued),
            Description = Messages.JobQueued,
            Now,
        };
        var existing = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            $"SELECT id FROM runner_job WHERE owner = @Owner AND repo = @Repo AND sha = @Sha AND context = @Context AND {(again ? "state IN ('queued', 'running')" : "state <> 'cancelled'")} LIMIT 1",
            args, tx, cancellationToken: ct));
        if (existing is not null) return null;
        var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            INSERT INTO runner_job (owner, repo, sha, context, trigger, branch, attempt_id, spec, state, description, tries, created_at)
            VALUES (@Owner, @Repo, @Sha, @Context, @Trigger, @Branch, @AttemptId, @Spec, @State, @Description, 0, @Now)
            RETURNING id
            """, args, tx, cancellationToken: ct));
        var row = await GetAsync(connection, tx, id, ct);
        await tx.CommitAsync(ct);
        return row;
    }

    /// <summary>Takes the oldest queued job for <paramref name="claimer"/> (running, one more try, heartbeat now), or null when none waits.</summary>
    public async Task<RunnerJob?> ClaimAsync(string claimer, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        // Two instances may pick the same id; the state test in the UPDATE lets only one of them have it.
        for (var round = 0; round < 5; round++)
        {
            var next = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT id FROM runner_job WHERE state = 'queued' ORDER BY id LIMIT 1", cancellationToken: ct));
            if (next is null) return null;
            await using var tx = database.BeginWrite(connection);
            var claimed = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
                $"""
                UPDATE runner_job SET state = 'running', claimed_by = @Claimer, started_at = @Now, heartbeat_at = @Now, tries = tries + 1, description = @Description
                WHERE id = @Id AND state = 'queued'
                RETURNING {Columns}
                """, new { Id = next, Claimer = claimer, Now, Description = Messages.JobRunning(1) }, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
            if (claimed is not null) return claimed.ToJob();
        }
        return null;
    }

    /// <summary>The claimer still runs the job: its heartbeat is renewed. False when the job is not its own any more (cancelled, or queued again).</summary>
    public async Task<bool> HeartbeatAsync(long id, string claimer, CancellationToken ct = default) =>
        await ExecuteAsync("UPDATE runner_job SET heartbeat_at = @Now WHERE id = @Id AND state = 'running' AND claimed_by = @Claimer",
            new { Id = id, Claimer = claimer, Now }, ct) == 1;

    /// <summary>Starts another try of a running job (a flaky retry): false when it is no longer the claimer's (cancelled, queued again).</summary>
    public async Task<bool> StartTryAsync(long id, string claimer, string description, CancellationToken ct = default) =>
        await ExecuteAsync("UPDATE runner_job SET tries = tries + 1, description = @Description, heartbeat_at = @Now WHERE id = @Id AND state = 'running' AND claimed_by = @Claimer",
            new { Id = id, Claimer = claimer, Description = description, Now }, ct) == 1;

    /// <summary>Ends a running job; false when it was not the claimer's running job any more (cancelled meanwhile: that state stays).</summary>
    public async Task<bool> FinishAsync(long id, string claimer, JobState state, string description, int? exitCode, CancellationToken ct = default) =>
        await ExecuteAsync(
            "UPDATE runner_job SET state = @State, description = @Description, exit_code = @ExitCode, finished_at = @Now WHERE id = @Id AND state = 'running' AND claimed_by = @Claimer",
            new { Id = id, Claimer = claimer, State = Name(state), Description = description, ExitCode = exitCode, Now }, ct) == 1;

    /// <summary>
    /// Cancels the queued and running jobs of a branch (its attempt ended, or it moved on to another commit:
    /// <paramref name="keepSha"/> is spared). Returns the jobs cancelled, as they were.
    /// </summary>
    public async Task<IReadOnlyList<RunnerJob>> CancelBranchAsync(RepoId repo, string branch, CommitSha? keepSha, string description, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        await using var tx = database.BeginWrite(connection);
        var args = new { repo.Owner, Repo = repo.Name, Branch = branch, Keep = keepSha?.Value ?? "", Description = description, Now };
        var rows = (await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM runner_job WHERE owner = @Owner AND repo = @Repo AND branch = @Branch AND state IN ('queued', 'running') AND sha <> @Keep",
            args, tx, cancellationToken: ct))).Select(r => r.ToJob()).ToList();
        if (rows.Count > 0)
            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE runner_job SET state = 'cancelled', description = @Description, finished_at = @Now
                WHERE owner = @Owner AND repo = @Repo AND branch = @Branch AND state IN ('queued', 'running') AND sha <> @Keep
                """, args, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return rows;
    }

    /// <summary>Cancels one queued or running job; false when it had ended already.</summary>
    public async Task<bool> CancelAsync(long id, string description, CancellationToken ct = default) =>
        await ExecuteAsync("UPDATE runner_job SET state = 'cancelled', description = @Description, finished_at = @Now WHERE id = @Id AND state IN ('queued', 'running')",
            new { Id = id, Description = description, Now }, ct) == 1;

    /// <summary>Every context the runner ever queued a job for in the repository (the job names of its configs, past and present), with the triggers it ran on.</summary>
    public async Task<IReadOnlyList<(string Context, JobTrigger Trigger)>> ContextsAsync(RepoId repo, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<(string Context, string Trigger)>(new CommandDefinition(
            "SELECT DISTINCT context, trigger FROM runner_job WHERE owner = @Owner AND repo = @Repo",
            new { repo.Owner, Repo = repo.Name }, cancellationToken: ct))).Select(r => (r.Context, ParseTrigger(r.Trigger))).ToList();
    }

    public async Task AppendLogAsync(long id, int tryNumber, string text, CancellationToken ct = default)
    {
        if (text.Length == 0) return;
        await ExecuteAsync("INSERT INTO runner_log (job_id, try, at, text) VALUES (@Id, @Try, @Now, @Text)",
            // PostgreSQL refuses NUL in text; a job may print anything.
            new { Id = id, Try = tryNumber, Now, Text = text.Replace('\0', '\uFFFD') }, ct);
    }

    public async Task<RunnerJob?> GetAsync(long id, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return await GetAsync(connection, null, id, ct);
    }

    private static async Task<RunnerJob?> GetAsync(DbConnection connection, DbTransaction? tx, long id, CancellationToken ct) =>
        (await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM runner_job WHERE id = @Id", new { Id = id }, tx, cancellationToken: ct)))?.ToJob();

    /// <summary>The jobs on a commit, oldest first.</summary>
    public async Task<IReadOnlyList<RunnerJob>> ForCommitAsync(RepoId repo, CommitSha sha, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM runner_job WHERE owner = @Owner AND repo = @Repo AND sha = @Sha ORDER BY id",
            new { repo.Owner, Repo = repo.Name, Sha = sha.Value }, cancellationToken: ct))).Select(r => r.ToJob()).ToList();
    }

    /// <summary>The repository's latest jobs, newest first.</summary>
    public async Task<IReadOnlyList<RunnerJob>> RecentAsync(RepoId repo, int limit, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM runner_job WHERE owner = @Owner AND repo = @Repo ORDER BY id DESC LIMIT @Limit",
            new { repo.Owner, Repo = repo.Name, Limit = limit }, cancellationToken: ct))).Select(r => r.ToJob()).ToList();
    }

    /// <summary>Jobs queued or running, in any instance.</summary>
    public async Task<int> CountActiveAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return (int)await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM runner_job WHERE state IN ('queued', 'running')", cancellationToken: ct));
    }

    /// <summary>Puts the claimer's running job back in the queue (it is stopping): it runs again from the start.</summary>
    public async Task<bool> ReleaseAsync(long id, string claimer, CancellationToken ct = default) =>
        await ExecuteAsync("UPDATE runner_job SET state = 'queued', claimed_by = NULL, description = @Description WHERE id = @Id AND state = 'running' AND claimed_by = @Claimer",
            new { Id = id, Claimer = claimer, Description = Messages.JobQueued }, ct) == 1;

    /// <summary>
    /// Puts the running jobs of instances that are gone back in the queue (their process died with them);
    /// <paramref name="alive"/> are the instances still running theirs. External runners' jobs are left to
    /// <see cref="RequeueStaleAsync"/>: they live as long as their heartbeats.
    /// </summary>
    public async Task<int> RequeueOrphansAsync(IReadOnlyList<string> alive, CancellationToken ct = default) =>
        await ExecuteAsync(
            $"""
            UPDATE runner_job SET state = 'queued', claimed_by = NULL, description = @Description
            WHERE state = 'running' AND (claimed_by IS NULL OR {database.NotIn("claimed_by", "Alive")} AND claimed_by NOT LIKE '{ExternalPrefix}%')
            """,
            new { Alive = alive.ToArray(), Description = Messages.JobQueued }, ct);

    /// <summary>
    /// Puts back in the queue the running jobs whose claimer has not renewed its heartbeat for
    /// <paramref name="timeout"/> (a runner process that died, a machine that lost its network), and returns
    /// them as they were. Their claimer's later reports are refused (see the class).
    /// </summary>
    public async Task<IReadOnlyList<RunnerJob>> RequeueStaleAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var args = new { Before = Now - (long)timeout.TotalMilliseconds, Description = Messages.JobQueued };
        const string stale = "state = 'running' AND COALESCE(heartbeat_at, started_at, created_at) < @Before";
        // Most calls find nothing: a read first, so they take no write lock.
        if (await connection.ExecuteScalarAsync<long?>(new CommandDefinition($"SELECT id FROM runner_job WHERE {stale} LIMIT 1", args, cancellationToken: ct)) is null)
            return [];
        await using var tx = database.BeginWrite(connection);
        var rows = (await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM runner_job WHERE {stale}", args, tx, cancellationToken: ct))).Select(r => r.ToJob()).ToList();
        await connection.ExecuteAsync(new CommandDefinition(
            $"UPDATE runner_job SET state = 'queued', claimed_by = NULL, description = @Description WHERE {stale}", args, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return rows;
    }

    /// <summary>The log so far, every try, oldest first.</summary>
    public async Task<IReadOnlyList<JobLogChunk>> LogAsync(long id, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(long Try, long At, string Text)>(new CommandDefinition(
            "SELECT try, at, text FROM runner_log WHERE job_id = @Id ORDER BY id", new { Id = id }, cancellationToken: ct));
        return rows.Select(r => new JobLogChunk((int)r.Try, DateTimeOffset.FromUnixTimeMilliseconds(r.At), r.Text)).ToList();
    }

    private async Task<int> ExecuteAsync(string sql, object args, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        await using var tx = database.BeginWrite(connection);
        var n = await connection.ExecuteAsync(new CommandDefinition(sql, args, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return n;
    }

    private static JobTrigger ParseTrigger(string s) => s switch
    {
        "staging" => JobTrigger.Staging,
        "try" => JobTrigger.Try,
        "pull_request" => JobTrigger.PullRequest,
        _ => JobTrigger.Push,
    };

    /// <summary>A runner_job row (a class: Dapper fills properties whatever the provider's integer types).</summary>
    private sealed class Row
    {
        public long Id { get; set; }
        public string Owner { get; set; } = "";
        public string Repo { get; set; } = "";
        public string Sha { get; set; } = "";
        public string Context { get; set; } = "";
        public string Trigger { get; set; } = "";
        public string? Branch { get; set; }
        public long? AttemptId { get; set; }
        public string Spec { get; set; } = "";
        public string State { get; set; } = "";
        public string? Description { get; set; }
        public long Tries { get; set; }
        public long? ExitCode { get; set; }
        public string? ClaimedBy { get; set; }
        public long CreatedAt { get; set; }
        public long? StartedAt { get; set; }
        public long? FinishedAt { get; set; }

        public RunnerJob ToJob() => new(
            Id, new RepoId(Owner, Repo), new CommitSha(Sha), Context, ParseTrigger(Trigger), Branch,
            AttemptId is { } a ? new AttemptId(a) : null,
            JsonSerializer.Deserialize<JobSpec>(Spec, Json)!,
            Enum.Parse<JobState>(State, ignoreCase: true), Description, (int)Tries, ExitCode is { } e ? (int)e : null, ClaimedBy,
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt),
            StartedAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null,
            FinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null);
    }
}
