using System.Security.Cryptography;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Runner;

/// <summary>
/// What a running job reports to and asks of the service: the service itself for its own slots
/// (<see cref="JobHost"/>), or the service's runner API over HTTP for an external runner process
/// (<see cref="RemoteJobHost"/>). Every call names the job as claimed (its <see cref="RunnerJob.ClaimedBy"/>):
/// once the job is not that claimer's any more (cancelled, or queued again after a lost heartbeat) the
/// calls that change it are refused.
/// </summary>
public interface IJobHost
{
    /// <summary>How often a running job is checked on (a cancel ends it within this).</summary>
    TimeSpan WatchInterval { get; }

    /// <summary>How often the check also renews the job's heartbeat.</summary>
    TimeSpan HeartbeatInterval { get; }

    Task<byte[]> TarballAsync(RunnerJob job, CancellationToken ct);

    Task AppendLogAsync(RunnerJob job, int tryNumber, string text, CancellationToken ct);

    /// <summary>False when the job is no longer this claimer's running job: its process is to be killed.</summary>
    Task<bool> StillRunningAsync(RunnerJob job, bool renewHeartbeat, CancellationToken ct);

    /// <summary>Another try (a flaky retry) begins; false when the job is no longer this claimer's.</summary>
    Task<bool> StartTryAsync(RunnerJob job, int tryNumber, CancellationToken ct);

    /// <summary>The verdict: stored and posted as the commit's status; false when the job is no longer this claimer's (nothing changes).</summary>
    Task<bool> FinishAsync(RunnerJob job, JobState state, string description, int? exitCode, CancellationToken ct);

    /// <summary>The runner is stopping: the job goes back in the queue.</summary>
    Task ReleaseAsync(RunnerJob job, CancellationToken ct);
}

/// <summary>
/// The service's side of running jobs, for its own slots and for external runners (the runner API):
/// claims (after queueing again the jobs whose heartbeat stopped), keeps the store and the commit
/// statuses in step with what the runners report, and fetches tarballs with the service's credentials.
/// </summary>
public sealed class JobHost(
    RunnerJobStore store,
    IGitHub github,
    JobScheduler scheduler,
    RunnerSignal signal,
    IOptions<ServiceOptions> options,
    ILogger<JobHost> logger) : IJobHost
{
    private ServiceOptions.RunnerOptions Settings => options.Value.Runner;

    public TimeSpan WatchInterval => TimeSpan.FromMilliseconds(500);

    public TimeSpan HeartbeatInterval => HeartbeatIntervalFor(Settings.HeartbeatTimeout);

    /// <summary>A quarter of the timeout: three heartbeats may be lost before a job is taken away.</summary>
    public static TimeSpan HeartbeatIntervalFor(TimeSpan timeout) => timeout / 4;

    /// <summary>Claims the oldest queued job for <paramref name="claimer"/> and posts it running; null when none waits.</summary>
    public async Task<RunnerJob?> ClaimAsync(string claimer, CancellationToken ct)
    {
        var job = await store.ClaimAsync(claimer, ct);
        if (job is null) return null;
        logger.LogInformation("Runner job {Job} ({Context}) on {Repo}@{Sha} claimed by {Runner}, try {Try}", job.Id, job.Context, job.Repo, job.Sha.Short, RunnerName(claimer), job.Tries);
        await github.SetStatusAsync(job.Repo, job.Sha, job.Context, StatusState.Pending, Messages.JobRunning(job.Tries), scheduler.PageUrl(job.Id), ct);
        return job;
    }

    /// <summary>Queues again the running jobs whose claimer stopped renewing its heartbeat (<c>MergeQueue:Runner:HeartbeatTimeout</c>).</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var stale = await store.RequeueStaleAsync(Settings.HeartbeatTimeout, ct);
        foreach (var job in stale)
        {
            logger.LogWarning("Runner job {Job} ({Context}) on {Repo}@{Sha}: {Runner} sent no heartbeat for {Timeout}; queued again",
                job.Id, job.Context, job.Repo, job.Sha.Short, RunnerName(job.ClaimedBy), Settings.HeartbeatTimeout);
            await store.AppendLogAsync(job.Id, job.Tries,
                $"mergequeue: {RunnerName(job.ClaimedBy)} stopped answering (no heartbeat for {Settings.HeartbeatTimeout.TotalSeconds:0} s): the job is queued again\n", ct);
            await github.SetStatusAsync(job.Repo, job.Sha, job.Context, StatusState.Pending, Messages.JobQueued, scheduler.PageUrl(job.Id), ct);
        }
        if (stale.Count > 0) signal.Wake();
        return stale.Count;
    }

    public Task<byte[]> TarballAsync(RunnerJob job, CancellationToken ct) => github.GetTarballAsync(job.Repo, job.Sha, ct);

    public Task AppendLogAsync(RunnerJob job, int tryNumber, string text, CancellationToken ct) => store.AppendLogAsync(job.Id, tryNumber, text, ct);

    public async Task<bool> StillRunningAsync(RunnerJob job, bool renewHeartbeat, CancellationToken ct) =>
        renewHeartbeat
            ? await store.HeartbeatAsync(job.Id, job.ClaimedBy!, ct)
            : await store.GetAsync(job.Id, ct) is { State: JobState.Running } now && now.ClaimedBy == job.ClaimedBy;

    public async Task<bool> StartTryAsync(RunnerJob job, int tryNumber, CancellationToken ct)
    {
        if (!await store.StartTryAsync(job.Id, job.ClaimedBy!, Messages.JobRunning(tryNumber), ct)) return false;
        await github.SetStatusAsync(job.Repo, job.Sha, job.Context, StatusState.Pending, Messages.JobRunning(tryNumber), scheduler.PageUrl(job.Id), ct);
        return true;
    }

    public async Task<bool> FinishAsync(RunnerJob job, JobState state, string description, int? exitCode, CancellationToken ct)
    {
        if (!await store.FinishAsync(job.Id, job.ClaimedBy!, state, description, exitCode, ct)) return false; // cancelled meanwhile: its status is posted
        logger.LogInformation("Runner job {Job} ({Context}) on {Repo}@{Sha}: {State}, {Description} ({Runner})",
            job.Id, job.Context, job.Repo, job.Sha.Short, state, description, RunnerName(job.ClaimedBy));
        var status = state switch
        {
            JobState.Success => StatusState.Success,
            JobState.Failure => StatusState.Failure,
            _ => StatusState.Error,
        };
        await github.SetStatusAsync(job.Repo, job.Sha, job.Context, status, description, scheduler.PageUrl(job.Id), ct);
        return true;
    }

    public async Task ReleaseAsync(RunnerJob job, CancellationToken ct)
    {
        if (!await store.ReleaseAsync(job.Id, job.ClaimedBy!, ct)) return;
        await github.SetStatusAsync(job.Repo, job.Sha, job.Context, StatusState.Pending, Messages.JobQueued, scheduler.PageUrl(job.Id), ct);
        signal.Wake();
    }

    // ---- external runners' claims ----

    /// <summary>
    /// A claim for an external runner: <c>claimed_by</c> is <c>runner:{name}#{hash}</c> and the runner gets
    /// the token whose hash it is (its lease on the job, fresh for each claim; only its hash is stored).
    /// </summary>
    public static (string Claimer, string Lease) NewExternalClaim(string runnerName)
    {
        var lease = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        return ($"{RunnerJobStore.ExternalPrefix}{runnerName}#{ApiKeyStore.Hash(lease)[..32]}", lease);
    }

    /// <summary>Whether <paramref name="lease"/> is the lease of the claim <paramref name="claimedBy"/> (compared in constant time).</summary>
    public static bool HoldsLease(string? claimedBy, string? lease)
    {
        if (claimedBy is null || lease is null || !claimedBy.StartsWith(RunnerJobStore.ExternalPrefix, StringComparison.Ordinal)) return false;
        var hash = claimedBy.IndexOf('#', StringComparison.Ordinal) is var i and >= 0 ? claimedBy[(i + 1)..] : "";
        var expected = ApiKeyStore.Hash(lease)[..32];
        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(hash), System.Text.Encoding.ASCII.GetBytes(expected));
    }

    /// <summary>Who runs a job, for logs and pages: the instance id, or the external runner's name (never its lease).</summary>
    public static string RunnerName(string? claimedBy) => claimedBy switch
    {
        null => "nobody",
        var c when c.StartsWith(RunnerJobStore.ExternalPrefix, StringComparison.Ordinal) =>
            "runner " + c[RunnerJobStore.ExternalPrefix.Length..].Split('#')[0],
        var c => "instance " + c,
    };
}
