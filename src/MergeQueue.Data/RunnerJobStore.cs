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
    private static string Name(JobTrigger trigger) => JobTriggers.Name(trigger);
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

    private static JobTrigger ParseTrigger(string s) => JobTriggers.Parse(s);

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

    #region History and trends (issue 16 item 6; docs/runner.md, "History and trends")

    /// <summary>
    /// The commits the runner tested, newest activity first (the commit whose latest job is newest leads),
    /// at most <paramref name="limit"/>, before the cursor <paramref name="beforeJobId"/> (the
    /// <see cref="TestedCommit.LatestJobId"/> of the last commit of the previous page). Each commit is summed
    /// up from the latest job of each job name; with a job filter, from that job alone; with a branch filter,
    /// from the jobs run for that branch (a commit run again elsewhere still shows how it went there). The existing
    /// <c>(owner, repo, sha)</c> index serves the grouping.
    /// </summary>
    public async Task<IReadOnlyList<TestedCommit>> CommitsAsync(RepoId repo, CommitFilter filter, int limit, long? beforeJobId = null, CancellationToken ct = default)
    {
        var where = new List<string>();
        if (filter.Branch is not null) where.Add("j.branch = @Branch");
        if (filter.Job is not null) where.Add("j.context = @Job");
        if (filter.Sha is not null) where.Add("j.sha = @Sha");
        var having = new List<string>();
        if (filter.Result is { } result) having.Add(ResultCondition(result));
        if (beforeJobId is not null) having.Add("max(j.id) < @Before");
        var branch = filter.Branch is null ? "" : "AND k.branch = @Branch";
        var job = filter.Job is null ? "" : "AND k.context = @Job";
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<CommitRow>(new CommandDefinition(
            $"""
            SELECT g.sha AS Sha, f.branch AS Branch, f.trigger AS Trigger, f.created_at AS FirstQueuedAt, g.last_finished AS LastFinishedAt,
                   g.last_id AS LatestJobId, g.queued AS Queued, g.running AS Running, g.success AS Success, g.failure AS Failure,
                   g.error AS Error, g.cancelled AS Cancelled
            FROM (
                SELECT j.sha AS sha, max(j.id) AS last_id, max(j.finished_at) AS last_finished,
                       {Count("queued")} AS queued, {Count("running")} AS running, {Count("success")} AS success,
                       {Count("failure")} AS failure, {Count("error")} AS error, {Count("cancelled")} AS cancelled
                FROM runner_job j
                WHERE j.owner = @Owner AND j.repo = @Repo {string.Concat(where.Select(w => " AND " + w))}
                  AND j.id = (SELECT max(k.id) FROM runner_job k WHERE k.owner = j.owner AND k.repo = j.repo AND k.sha = j.sha AND k.context = j.context {branch})
                GROUP BY j.sha
                {(having.Count == 0 ? "" : "HAVING " + string.Join(" AND ", having))}
            ) g
            -- Where the commit came from: its first job (within the filters), superseded or not.
            JOIN runner_job f ON f.id = (SELECT min(k.id) FROM runner_job k WHERE k.owner = @Owner AND k.repo = @Repo AND k.sha = g.sha {branch} {job})
            ORDER BY g.last_id DESC
            LIMIT @Limit
            """,
            new { repo.Owner, Repo = repo.Name, filter.Branch, filter.Job, Sha = filter.Sha?.Value, Before = beforeJobId ?? 0, Limit = limit },
            cancellationToken: ct));
        return rows.Select(r => r.ToCommit(repo)).ToList();
    }

    private static string Count(string state) => $"sum(CASE WHEN j.state = '{state}' THEN 1 ELSE 0 END)";

    /// <summary><see cref="JobCounts.Result"/> as a condition on the group's counts, so the result filter pages in SQL.</summary>
    private static string ResultCondition(CommitResult result)
    {
        var active = $"{Count("queued")} + {Count("running")}";
        var failed = $"{Count("failure")} + {Count("error")}";
        return result switch
        {
            CommitResult.Pending => $"{active} > 0",
            CommitResult.Failure => $"{active} = 0 AND {failed} > 0",
            CommitResult.Success => $"{Count("success")} = count(*)",
            _ => $"{active} = 0 AND {failed} = 0 AND {Count("success")} < count(*)",
        };
    }

    /// <summary>The tested commit whose sha is <paramref name="shaOrPrefix"/> or starts with it (4 hex digits at least); null when none or several.</summary>
    public async Task<CommitSha?> FindCommitAsync(RepoId repo, string shaOrPrefix, CancellationToken ct = default)
    {
        var text = shaOrPrefix.Trim().ToLowerInvariant();
        if (text.Length is < 4 or > 40 || !text.All(char.IsAsciiHexDigit)) return null;
        await using var connection = await database.OpenAsync(ct);
        var found = (await connection.QueryAsync<string>(new CommandDefinition(
            text.Length == 40
                ? "SELECT DISTINCT sha FROM runner_job WHERE owner = @Owner AND repo = @Repo AND sha = @Sha LIMIT 2"
                : "SELECT DISTINCT sha FROM runner_job WHERE owner = @Owner AND repo = @Repo AND sha >= @Sha AND sha < @Next LIMIT 2",
            // A range, not LIKE: it uses the (owner, repo, sha) index on both providers.
            new { repo.Owner, Repo = repo.Name, Sha = text, Next = text + "g" }, cancellationToken: ct))).ToList();
        return found.Count == 1 ? new CommitSha(found[0]) : null;
    }

    /// <summary>The jobs on these commits, oldest first.</summary>
    public async Task<IReadOnlyList<RunnerJob>> ForCommitsAsync(RepoId repo, IReadOnlyCollection<CommitSha> shas, CancellationToken ct = default)
    {
        if (shas.Count == 0) return [];
        await using var connection = await database.OpenAsync(ct);
        return (await connection.QueryAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM runner_job WHERE owner = @Owner AND repo = @Repo AND {database.In("sha", "Shas")} ORDER BY id",
            new { repo.Owner, Repo = repo.Name, Shas = shas.Select(s => s.Value).Distinct().ToArray() }, cancellationToken: ct))).Select(r => r.ToJob()).ToList();
    }

    /// <summary>The repository's jobs that finished in [from, to), for the trend charts; branch and job filters as for <see cref="CommitsAsync"/>.</summary>
    public async Task<IReadOnlyList<JobSample>> SamplesAsync(RepoId repo, DateTimeOffset from, DateTimeOffset to, CommitFilter filter, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<(long FinishedAt, string State, long? StartedAt)>(new CommandDefinition(
            $"""
            SELECT finished_at, state, started_at FROM runner_job
            WHERE owner = @Owner AND repo = @Repo AND finished_at >= @From AND finished_at < @To
              {(filter.Branch is null ? "" : "AND branch = @Branch")} {(filter.Job is null ? "" : "AND context = @Job")}
            """,
            new { repo.Owner, Repo = repo.Name, From = from.ToUnixTimeMilliseconds(), To = to.ToUnixTimeMilliseconds(), filter.Branch, filter.Job },
            cancellationToken: ct));
        return rows.Select(r => new JobSample(DateTimeOffset.FromUnixTimeMilliseconds(r.FinishedAt), Enum.Parse<JobState>(r.State, ignoreCase: true),
            r.StartedAt is { } s ? TimeSpan.FromMilliseconds(r.FinishedAt - s) : null)).ToList();
    }

    /// <summary>The branches and job names the repository's jobs ran on and as, for the history's filters.</summary>
    public async Task<(IReadOnlyList<string> Branches, IReadOnlyList<string> Jobs)> FilterValuesAsync(RepoId repo, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var args = new { repo.Owner, Repo = repo.Name };
        var branches = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT branch FROM runner_job WHERE owner = @Owner AND repo = @Repo AND branch IS NOT NULL ORDER BY branch", args, cancellationToken: ct));
        var jobs = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT context FROM runner_job WHERE owner = @Owner AND repo = @Repo ORDER BY context", args, cancellationToken: ct));
        return (branches.ToList(), jobs.ToList());
    }

    /// <summary>A tested commit's row (a class: Dapper fills properties whatever the provider's integer types).</summary>
    private sealed class CommitRow
    {
        public string Sha { get; set; } = "";
        public string? Branch { get; set; }
        public string Trigger { get; set; } = "";
        public long FirstQueuedAt { get; set; }
        public long? LastFinishedAt { get; set; }
        public long LatestJobId { get; set; }
        public long Queued { get; set; }
        public long Running { get; set; }
        public long Success { get; set; }
        public long Failure { get; set; }
        public long Error { get; set; }
        public long Cancelled { get; set; }

        public TestedCommit ToCommit(RepoId repo) => new(repo, new CommitSha(Sha), Branch, ParseTrigger(Trigger),
            new JobCounts((int)Queued, (int)Running, (int)Success, (int)Failure, (int)Error, (int)Cancelled),
            DateTimeOffset.FromUnixTimeMilliseconds(FirstQueuedAt), LastFinishedAt is { } f ? DateTimeOffset.FromUnixTimeMilliseconds(f) : null, LatestJobId);
    }

    #endregion
}
