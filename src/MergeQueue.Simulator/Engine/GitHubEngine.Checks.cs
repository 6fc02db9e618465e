namespace MergeQueue.Simulator.Engine;

public sealed partial class GitHubEngine
{
    private static readonly string[] StatusStates = ["error", "failure", "pending", "success"];
    private static readonly string[] CheckStatuses = ["queued", "in_progress", "completed"];
    private static readonly string[] CheckConclusions = ["action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"];

    /// <summary>POST /statuses/{sha}: validates as GitHub does and emits a status event.</summary>
    public async Task<SimStatus> CreateStatusAsync(RepoHandle repo, string sha, string? state, string? context, string? description, string? targetUrl, SimUser creator, CancellationToken ct = default)
    {
        if (state is null || !StatusStates.Contains(state))
            throw SimulatorError.Validation("Validation Failed", "Status", "state", "custom");
        if (description is { Length: > 140 })
            throw SimulatorError.Validation("description is too long (maximum is 140 characters)", "Status", "description", "custom");
        var commit = await repo.Git.ReadCommitAsync(sha, ct);
        if (commit is null || sha.Length < 7 || !commit.Sha.StartsWith(sha.ToLowerInvariant(), StringComparison.Ordinal))
            throw SimulatorError.Validation($"No commit found for SHA: {sha}", "Status", "sha", "custom");
        var branches = (await BranchesAsync(repo, ct)).Where(b => b.Sha == commit.Sha).Select(b => b.Name).ToList();
        lock (Sync)
        {
            var now = Now;
            var status = new SimStatus
            {
                Id = NextId(),
                Sha = commit.Sha,
                State = state,
                Context = string.IsNullOrEmpty(context) ? "default" : context,
                Description = description,
                TargetUrl = targetUrl,
                Creator = creator,
                CreatedAt = now,
            };
            repo.Model.Statuses.Add(status);
            Emit(repo, "status", Json.StatusEvent(repo.Model, status, commit, branches, creator));
            return status;
        }
    }

    /// <summary>All statuses of a commit, newest first (GitHub's order).</summary>
    public IReadOnlyList<SimStatus> StatusesOf(RepoHandle repo, string sha)
    {
        lock (Sync) return repo.Model.Statuses.Where(s => s.Sha == sha).OrderByDescending(s => s.Id).ToList();
    }

    public IReadOnlyList<SimStatus> LatestStatusesOf(RepoHandle repo, string sha)
    {
        lock (Sync) return LatestStatuses(repo, sha);
    }

    /// <summary>Fields of a check run create or update; null members are left unchanged.</summary>
    public sealed record CheckRunFields(string? Name, string? Status, string? Conclusion, string? DetailsUrl, string? ExternalId, string? OutputTitle, string? OutputSummary, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt);

    public async Task<SimCheckRun> CreateCheckRunAsync(RepoHandle repo, string headSha, string? headBranch, CheckRunFields fields, SimUser app, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(fields.Name)) throw SimulatorError.Validation("Invalid request.\n\n\"name\" wasn't supplied.", "CheckRun", "name", "missing_field");
        ValidateCheckFields(fields);
        var commit = await repo.Git.ReadCommitAsync(headSha, ct);
        if (commit is null || commit.Sha != headSha) throw SimulatorError.Validation("No commit found for SHA: " + headSha, "CheckRun", "head_sha", "invalid");
        lock (Sync)
        {
            var now = Now;
            var suite = repo.Model.CheckSuites.FirstOrDefault(s => s.HeadSha == headSha && s.App?.Id == app.Id);
            if (suite is null)
            {
                suite = new SimCheckSuite { Id = NextId(), HeadSha = headSha, HeadBranch = headBranch, App = app, CreatedAt = now, UpdatedAt = now, HeadCommit = commit };
                repo.Model.CheckSuites.Add(suite);
            }
            var run = new SimCheckRun { Id = NextId(), CheckSuiteId = suite.Id, HeadSha = headSha, Name = fields.Name, StartedAt = fields.StartedAt ?? now };
            Apply(run, fields, now);
            repo.Model.CheckRuns.Add(run);
            Emit(repo, "check_run", Json.CheckRunEvent("created", repo.Model, run, suite, app));
            AfterCheckRunChanged(repo, run, suite, app, now, wasCompleted: false);
            return run;
        }
    }

    public SimCheckRun UpdateCheckRun(RepoHandle repo, long id, CheckRunFields fields, SimUser app)
    {
        ValidateCheckFields(fields);
        lock (Sync)
        {
            var run = repo.Model.CheckRuns.FirstOrDefault(r => r.Id == id) ?? throw SimulatorError.NotFound();
            var suite = repo.Model.CheckSuites.First(s => s.Id == run.CheckSuiteId);
            var wasCompleted = run.Status == "completed";
            var now = Now;
            Apply(run, fields, now);
            AfterCheckRunChanged(repo, run, suite, app, now, wasCompleted);
            return run;
        }
    }

    public SimCheckRun GetCheckRun(RepoHandle repo, long id)
    {
        lock (Sync) return repo.Model.CheckRuns.FirstOrDefault(r => r.Id == id) ?? throw SimulatorError.NotFound();
    }

    public SimCheckSuite SuiteOf(RepoHandle repo, SimCheckRun run)
    {
        lock (Sync) return repo.Model.CheckSuites.First(s => s.Id == run.CheckSuiteId);
    }

    public IReadOnlyList<SimCheckRun> CheckRunsOf(RepoHandle repo, string sha)
    {
        lock (Sync) return repo.Model.CheckRuns.Where(r => r.HeadSha == sha).OrderByDescending(r => r.Id).ToList();
    }

    public IReadOnlyList<SimCheckSuite> CheckSuitesOf(RepoHandle repo, string sha)
    {
        lock (Sync) return repo.Model.CheckSuites.Where(s => s.HeadSha == sha).OrderBy(s => s.Id).ToList();
    }

    private static void ValidateCheckFields(CheckRunFields fields)
    {
        if (fields.Status is not null && !CheckStatuses.Contains(fields.Status))
            throw SimulatorError.Validation("Invalid request.\n\nstatus is not included in the list", "CheckRun", "status", "invalid");
        if (fields.Conclusion is not null && !CheckConclusions.Contains(fields.Conclusion))
            throw SimulatorError.Validation("Invalid request.\n\nconclusion is not included in the list", "CheckRun", "conclusion", "invalid");
        if (fields.Status == "completed" && fields.Conclusion is null)
            throw SimulatorError.Validation("Invalid request.\n\n\"conclusion\" wasn't supplied.", "CheckRun", "conclusion", "missing_field");
    }

    private static void Apply(SimCheckRun run, CheckRunFields f, DateTimeOffset now)
    {
        if (f.Name is not null) run.Name = f.Name;
        if (f.Status is not null) run.Status = f.Status;
        if (f.DetailsUrl is not null) run.DetailsUrl = f.DetailsUrl;
        if (f.ExternalId is not null) run.ExternalId = f.ExternalId;
        if (f.OutputTitle is not null) run.OutputTitle = f.OutputTitle;
        if (f.OutputSummary is not null) run.OutputSummary = f.OutputSummary;
        if (f.StartedAt is not null) run.StartedAt = f.StartedAt;
        // Providing a conclusion completes the run (GitHub's rule).
        if (f.Conclusion is not null)
        {
            run.Conclusion = f.Conclusion;
            run.Status = "completed";
            run.CompletedAt = f.CompletedAt ?? now;
        }
    }

    /// <summary>Emits check_run completed and, when the whole suite is done, check_suite completed. Call under <see cref="Sync"/>.</summary>
    private void AfterCheckRunChanged(RepoHandle repo, SimCheckRun run, SimCheckSuite suite, SimUser app, DateTimeOffset now, bool wasCompleted)
    {
        suite.UpdatedAt = now;
        var runs = repo.Model.CheckRuns.Where(r => r.CheckSuiteId == suite.Id).GroupBy(r => r.Name).Select(g => g.MaxBy(r => r.Id)!).ToList();
        if (run.Status == "completed" && !wasCompleted)
        {
            Emit(repo, "check_run", Json.CheckRunEvent("completed", repo.Model, run, suite, app));
        }
        if (runs.All(r => r.Status == "completed"))
        {
            if (suite.Status == "completed" && wasCompleted) return;
            suite.Status = "completed";
            suite.Conclusion = SuiteConclusion(runs.Select(r => r.Conclusion));
            Emit(repo, "check_suite", Json.CheckSuiteEvent("completed", repo.Model, suite, app, headCommit: suite.HeadCommit));
        }
        else
        {
            suite.Status = runs.Any(r => r.Status == "in_progress") ? "in_progress" : "queued";
            suite.Conclusion = null;
        }
    }

    private static string SuiteConclusion(IEnumerable<string?> conclusions)
    {
        var list = conclusions.ToList();
        foreach (var c in new[] { "action_required", "cancelled", "timed_out", "failure", "stale" })
            if (list.Contains(c)) return c;
        return list.All(c => c is "neutral" or "skipped") && list.Count > 0 ? "neutral" : "success";
    }
}
