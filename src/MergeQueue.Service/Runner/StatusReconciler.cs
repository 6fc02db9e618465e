using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Runner;
using MergeQueue.Data;

namespace MergeQueue.Service.Runner;

/// <summary>What one reconciliation did: jobs queued again for a stale <c>pending</c>, removed jobs' statuses set to success, jobs created for commits that had none.</summary>
public sealed record ReconcileReport(int Queued, int Removed, int Created)
{
    public static readonly ReconcileReport None = new(0, 0, 0);

    public ReconcileReport Add(ReconcileReport other) => new(Queued + other.Queued, Removed + other.Removed, Created + other.Created);
}

/// <summary>
/// Keeps the runner's statuses true when a delivery was missed (seed 001's "command to clean commit
/// statuses", docs/runner.md "Keeping statuses true"). On the commits the runner cares about (open PR
/// heads, the heads of the staging and try branches, target heads), per the config's <c>on</c>:
/// a <c>pending</c> job status with no queued or running job gets the job queued again; a <c>pending</c>
/// status of a job the config no longer has becomes <c>success</c> "job removed"; a PR, staging or try
/// head with no status of a job it should run gets the job. GitHub is read boundedly: the open PRs and
/// the branches once per repository, the statuses of each candidate commit once.
/// </summary>
public sealed class StatusReconciler(
    JobScheduler scheduler,
    RunnerJobStore store,
    IGitHub github,
    IRepoConfigs configs,
    Dashboard.DashboardReader repositories,
    ILogger<StatusReconciler> logger)
{
    /// <summary>A job that ended this recently may not have posted its final status yet: its <c>pending</c> is left for the next round.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromMinutes(1);

    private sealed record Candidate(CommitSha Sha, JobTrigger Trigger, string Branch, AttemptId? Attempt);

    /// <summary>Every repository the service knows, from its tables or a loaded config (the poller's step); one repository's trouble does not stop the others.</summary>
    public async Task<ReconcileReport> ReconcileAllAsync(CancellationToken ct)
    {
        var total = ReconcileReport.None;
        if (!scheduler.Enabled) return total;
        foreach (var repo in await repositories.RepositoriesAsync(ct))
        {
            try
            {
                total = total.Add(await ReconcileAsync(repo, ct));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Reconciling the runner's statuses of {Repo} failed", repo);
            }
        }
        return total;
    }

    /// <summary>One repository; nothing when the runner is off here or the repository has no config.</summary>
    public async Task<ReconcileReport> ReconcileAsync(RepoId repo, CancellationToken ct)
    {
        if (!scheduler.Enabled || await configs.GetAsync(repo, ct) is not { } config) return ReconcileReport.None;
        var jobs = config.Jobs.ToDictionary(j => j.Name, StringComparer.Ordinal);
        var past = await store.ContextsAsync(repo, ct);
        var removed = past.Where(p => !jobs.ContainsKey(p.Context)).ToList();
        if (jobs.Count == 0 && removed.Count == 0) return ReconcileReport.None;

        bool Wanted(JobTrigger trigger) => config.JobsOn(trigger).Any() || removed.Any(r => r.Trigger == trigger);
        var candidates = new List<Candidate>();
        if (Wanted(JobTrigger.PullRequest))
            candidates.AddRange((await github.GetOpenPullRequestsAsync(repo, ct)).Select(pr => new Candidate(pr.HeadSha, JobTrigger.PullRequest, $"pull/{pr.Number}", null)));
        foreach (var (branch, sha) in await github.GetBranchesAsync(repo, ct))
        {
            var (trigger, attempt) = JobScheduler.Classify(config, branch);
            if (trigger is { } t && Wanted(t)) candidates.Add(new Candidate(sha, t, branch, attempt));
        }

        var removedContexts = removed.Select(r => r.Context).ToHashSet(StringComparer.Ordinal);
        var report = ReconcileReport.None;
        // A commit can be several candidates at once (the target fast-forwarded to a staging commit): its statuses are read once.
        foreach (var commit in candidates.GroupBy(c => c.Sha))
            report = report.Add(await ReconcileCommitAsync(repo, config, commit.Key, commit.ToList(), removedContexts, ct));
        if (report != ReconcileReport.None)
            logger.LogInformation("Runner statuses of {Repo} reconciled: {Queued} job(s) queued again, {Removed} removed job status(es) set to success, {Created} job(s) created",
                repo, report.Queued, report.Removed, report.Created);
        return report;
    }

    private async Task<ReconcileReport> ReconcileCommitAsync(RepoId repo, RepoConfig config, CommitSha sha, List<Candidate> candidates, HashSet<string> removed, CancellationToken ct)
    {
        // The store before GitHub: a job queued meanwhile is then either seen here or refuses the second enqueue.
        var rows = await store.ForCommitAsync(repo, sha, ct);
        var checks = (await github.GetChecksAsync(repo, sha, ct)).ToDictionary(c => c.Context, StringComparer.Ordinal);
        int queued = 0, dropped = 0, created = 0;

        foreach (var job in config.Jobs)
        {
            if (candidates.FirstOrDefault(c => job.On.Contains(c.Trigger)) is not { } where) continue;
            var mine = rows.Where(r => r.Context == job.Name).ToList();
            if (mine.Any(r => !r.IsFinal)) continue;
            if (mine.Any(r => r.FinishedAt is { } f && TimeProvider.System.GetUtcNow() - f < Grace)) continue;
            if (checks.TryGetValue(job.Name, out var check))
            {
                if (check.State != CheckState.Pending) continue;
                if (await scheduler.QueueAsync(repo, config, job, where.Trigger, sha, where.Branch, where.Attempt, again: true, ct)) queued++;
            }
            // A target head gets no job for lacking a status: it may predate the runner.
            else if (where.Trigger != JobTrigger.Push
                && await scheduler.QueueAsync(repo, config, job, where.Trigger, sha, where.Branch, where.Attempt, again: true, ct))
            {
                created++;
            }
        }

        foreach (var context in removed)
        {
            if (!checks.TryGetValue(context, out var check) || check.State != CheckState.Pending) continue;
            foreach (var row in rows.Where(r => r.Context == context && !r.IsFinal))
                await store.CancelAsync(row.Id, Messages.JobRemoved, ct); // its worker kills the process
            logger.LogInformation("Runner job {Context} is no longer in the config of {Repo}: its pending status on {Sha} set to success", context, repo, sha.Short);
            await github.SetStatusAsync(repo, sha, context, StatusState.Success, Messages.JobRemoved, check.TargetUrl, ct);
            dropped++;
        }
        return new ReconcileReport(queued, dropped, created);
    }
}
