using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Runner;

/// <summary>
/// Queues the built-in runner's jobs for the commits GitHub tells us about (push deliveries): a staging
/// or try branch moving to a commit, a target branch moving, a PR head changing. Each new job gets its
/// <c>pending</c> "queued" status at once, linked to its page. A staging or try branch that moves on or
/// is deleted (its attempt ended) cancels the jobs still queued or running for what it held.
/// </summary>
public sealed class JobScheduler(
    RunnerJobStore store,
    IGitHub github,
    FlowOptions flow,
    IOptions<ServiceOptions> options,
    RunnerSignal signal,
    ILogger<JobScheduler> logger)
{
    public bool Enabled => options.Value.Runner.Enabled;

    public string PageUrl(long id) => PublicLink(Dashboard.Links.Run(id));

    /// <summary>A path of this service as an absolute URL under <c>MergeQueue:PublicUrl</c>.</summary>
    public string PublicLink(string path) => $"{flow.PublicUrl.TrimEnd('/')}{path}";

    /// <summary>A branch of the repository moved to <paramref name="after"/> (all zeros: it was deleted).</summary>
    public async Task<string?> BranchPushedAsync(RepoId repo, RepoConfig config, string branch, CommitSha after, CancellationToken ct)
    {
        if (!Enabled) return null;
        var deleted = after.Value.Trim('0').Length == 0;
        var (trigger, attempt) = Classify(config, branch);
        if (trigger is null) return null;
        if (trigger is JobTrigger.Staging or JobTrigger.Try)
            await CancelAsync(repo, branch, deleted ? null : after, deleted ? "its branch was deleted (attempt ended)" : "its branch moved to another commit", ct);
        if (deleted) return null;
        var queued = await EnqueueAsync(repo, config, trigger.Value, after, branch, attempt, ct);
        return queued == 0 ? null : $"{queued} runner job(s) queued";
    }

    /// <summary>A PR's head is new (opened, pushed to, reopened): its <c>pull_request</c> jobs run on it.</summary>
    public async Task PullRequestHeadAsync(RepoId repo, RepoConfig config, int number, CommitSha head, CancellationToken ct)
    {
        if (!Enabled || !config.JobsOn(JobTrigger.PullRequest).Any()) return;
        var branch = $"pull/{number}";
        await CancelAsync(repo, branch, head, "the pull request has a new head", ct);
        await EnqueueAsync(repo, config, JobTrigger.PullRequest, head, branch, null, ct);
    }

    /// <summary>Which jobs a branch's commits get, and the attempt a staging branch belongs to.</summary>
    public static (JobTrigger? Trigger, AttemptId? Attempt) Classify(RepoConfig config, string branch)
    {
        var staging = $"{config.BranchPrefix}/staging/";
        if (branch.StartsWith(staging, StringComparison.Ordinal))
            return (JobTrigger.Staging, long.TryParse(branch[(branch.LastIndexOf('/') + 1)..], out var id) ? new AttemptId(id) : null);
        if (branch.StartsWith($"{config.BranchPrefix}/try/", StringComparison.Ordinal)) return (JobTrigger.Try, null);
        if (config.IsTarget(branch)) return (JobTrigger.Push, null);
        return (null, null);
    }

    private async Task<int> EnqueueAsync(RepoId repo, RepoConfig config, JobTrigger trigger, CommitSha sha, string branch, AttemptId? attempt, CancellationToken ct)
    {
        var queued = 0;
        foreach (var job in config.JobsOn(trigger))
            if (await QueueAsync(repo, config, job, trigger, sha, branch, attempt, again: false, ct)) queued++;
        return queued;
    }

    /// <summary>
    /// Queues one job on one commit and posts its "queued" status; false when the store already had it
    /// (with <paramref name="again"/>, the reconciler's: only when it is queued or running).
    /// </summary>
    public async Task<bool> QueueAsync(RepoId repo, RepoConfig config, JobConfig job, JobTrigger trigger, CommitSha sha, string branch, AttemptId? attempt, bool again, CancellationToken ct) =>
        await QueueRowAsync(repo, config, job, trigger, sha, branch, attempt, again, ct) is not null;

    /// <summary><see cref="QueueAsync"/>, answering the new job (null when the store already had it).</summary>
    private async Task<RunnerJob?> QueueRowAsync(RepoId repo, RepoConfig config, JobConfig job, JobTrigger trigger, CommitSha sha, string? branch, AttemptId? attempt, bool again, CancellationToken ct)
    {
        var row = await store.EnqueueAsync(new NewJob(repo, sha, job.Name, trigger, branch, attempt, JobSpec.From(job, config)), ct, again);
        if (row is null) return null;
        logger.LogInformation("Runner job {Job} ({Context}) queued for {Repo}@{Sha} ({Trigger} on {Branch})", row.Id, row.Context, repo, sha.Short, trigger, branch);
        await github.SetStatusAsync(repo, sha, job.Name, StatusState.Pending, Messages.JobQueued, PageUrl(row.Id), ct);
        signal.Wake();
        return row;
    }

    /// <summary>
    /// A manual trigger (<c>POST /api/v1/trigger/{owner}/{repo}</c> with a branch or sha; docs/runner.md, "History and
    /// trends"): every job of the config runs on the commit, whatever its <c>on</c>, except one already queued or running
    /// there. A job run on a branch counts as that branch's trigger (a target branch: <c>push</c>); on a bare sha, as <c>push</c>.
    /// Returns the jobs queued and the names of those left alone.
    /// </summary>
    public async Task<(IReadOnlyList<RunnerJob> Queued, IReadOnlyList<string> AlreadyActive)> TriggerAsync(
        RepoId repo, RepoConfig config, CommitSha sha, string? branch, CancellationToken ct)
    {
        var (trigger, attempt) = branch is null ? (null, null) : Classify(config, branch);
        var queued = new List<RunnerJob>();
        var active = new List<string>();
        foreach (var job in config.Jobs)
        {
            if (await QueueRowAsync(repo, config, job, trigger ?? JobTrigger.Push, sha, branch, attempt, again: true, ct) is { } row) queued.Add(row);
            else active.Add(job.Name);
        }
        return (queued, active);
    }

    private async Task CancelAsync(RepoId repo, string branch, CommitSha? keep, string why, CancellationToken ct)
    {
        foreach (var job in await store.CancelBranchAsync(repo, branch, keep, Messages.JobCancelled(why), ct))
        {
            logger.LogInformation("Runner job {Job} ({Context}) on {Repo}@{Sha} cancelled: {Why}", job.Id, job.Context, repo, job.Sha.Short, why);
            // A running job's worker sees the state and kills its process group; the status says why it ended.
            await github.SetStatusAsync(repo, job.Sha, job.Context, StatusState.Error, Messages.JobCancelled(why), PageUrl(job.Id), ct);
        }
    }
}

/// <summary>Wakes idle runner slots when this instance queued a job (others find it by polling).</summary>
public sealed class RunnerSignal
{
    private readonly SemaphoreSlim wake = new(0);

    public void Wake() => wake.Release();

    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        await wake.WaitAsync(timeout, ct);
    }
}
