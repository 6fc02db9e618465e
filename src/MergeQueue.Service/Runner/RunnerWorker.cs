using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.Service.Cluster;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Runner;

/// <summary>
/// The built-in runner's slots (<c>MergeQueue:Runner:Slots</c>): each claims a queued job, reports it
/// running, fetches the commit's tarball into a fresh directory, runs the command there (<see cref="JobProcess"/>),
/// streams its output into the job's log, retries a flaky failure on the same commit, and reports the verdict.
/// </summary>
public sealed class RunnerWorker(
    RunnerJobStore store,
    IGitHub github,
    JobScheduler scheduler,
    RunnerSignal signal,
    ClusterMember cluster,
    IOptions<ServiceOptions> options,
    ILogger<RunnerWorker> logger) : BackgroundService
{
    private ServiceOptions.RunnerOptions Settings => options.Value.Runner;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Settings.Enabled) return;
        try
        {
            // Jobs left running by an instance that is gone (this one before a restart, or a dead peer) run again.
            var alive = (await cluster.LiveInstancesAsync(stoppingToken)).Select(i => i.Id).Append(cluster.InstanceId).Distinct().ToArray();
            var requeued = await store.RequeueOrphansAsync(alive, stoppingToken);
            if (requeued > 0) logger.LogWarning("Runner: {Count} job(s) of instances that are gone queued again", requeued);
            await Task.WhenAll(Enumerable.Range(0, Math.Max(1, Settings.Slots)).Select(slot => SlotAsync(slot, stoppingToken)));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SlotAsync(int slot, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            RunnerJob? job = null;
            try
            {
                job = await store.ClaimAsync(cluster.InstanceId, stop);
                if (job is null)
                {
                    await signal.WaitAsync(Settings.PollInterval, stop);
                    continue;
                }
                await RunAsync(job, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The runner itself failed (database, GitHub): the job ends in error, the slot goes on.
                logger.LogError(e, "Runner slot {Slot}: job {Job} failed in the runner", slot, job?.Id);
                if (job is not null) await EndAsync(job, JobState.Error, Messages.JobError(e.Message), null, CancellationToken.None);
                await Task.Delay(TimeSpan.FromSeconds(1), stop);
            }
        }
    }

    private async Task RunAsync(RunnerJob job, CancellationToken stop)
    {
        var url = scheduler.PageUrl(job.Id);
        await github.SetStatusAsync(job.Repo, job.Sha, job.Context, StatusState.Pending, Messages.JobRunning(job.Tries), url, stop);
        byte[] tarball;
        try
        {
            tarball = await github.GetTarballAsync(job.Repo, job.Sha, stop);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            await store.AppendLogAsync(job.Id, 1, $"mergequeue: could not fetch {job.Repo}@{job.Sha}: {e.Message}\n", stop);
            await EndAsync(job, JobState.Error, Messages.JobError("could not fetch the commit"), null, stop);
            return;
        }

        // Tries are numbered over the job's life (a run cut off by a stopping instance is one); the flaky
        // retries allowed count this run's tries only.
        for (var run = 1; ; run++)
        {
            var tryNumber = job.Tries + run - 1;
            var (result, lines) = await RunTryAsync(job, tryNumber, tarball, stop);
            if (result.Cancelled)
            {
                if (stop.IsCancellationRequested)
                {
                    // The service is stopping: the job runs again at the next start (or on another instance).
                    await store.ReleaseAsync(job.Id, CancellationToken.None);
                    stop.ThrowIfCancellationRequested();
                }
                logger.LogInformation("Runner job {Job} cancelled while running; its process group was killed", job.Id);
                return;
            }
            switch (TryOutcome.Decide(job.Spec, run, result.ExitCode, result.TimedOut, result.Took, lines))
            {
                case TryOutcome.Retry retry:
                    await store.AppendLogAsync(job.Id, tryNumber, $"mergequeue: the log matches flaky pattern '{retry.Pattern}': running it again (flaky retry {run} of {job.Spec.FlakyRetries})\n", stop);
                    if (!await store.StartTryAsync(job.Id, Messages.JobRunning(tryNumber + 1), stop)) return;
                    await github.SetStatusAsync(job.Repo, job.Sha, job.Context, StatusState.Pending, Messages.JobRunning(tryNumber + 1), url, stop);
                    continue;
                case TryOutcome.Final final:
                    if (result.TimedOut) await store.AppendLogAsync(job.Id, tryNumber, $"mergequeue: {final.Description}: process group killed\n", stop);
                    await EndAsync(job, final.State, final.Description, result.TimedOut ? null : result.ExitCode, stop);
                    return;
            }
        }
    }

    /// <summary>One try: a fresh directory from the tarball, the command in it, its output into the log.</summary>
    private async Task<(ProcessResult Result, IReadOnlyList<string> Lines)> RunTryAsync(RunnerJob job, int tryNumber, byte[] tarball, CancellationToken stop)
    {
        var root = Path.Combine(string.IsNullOrWhiteSpace(Settings.WorkDirectory) ? Path.GetTempPath() : Settings.WorkDirectory,
            $"mq-job-{job.Id}-{tryNumber}-{Guid.NewGuid():N}"[..40]);
        var home = Path.Combine(root, "home");
        var source = Path.Combine(root, "src");
        Directory.CreateDirectory(Path.Combine(home, "tmp"));
        Directory.CreateDirectory(source);
        var log = new LogPump(store, job.Id, tryNumber, Settings.MaxLogBytes);
        try
        {
            var checkout = await UnpackAsync(tarball, source, stop);
            var env = JobProcess.BaseEnvironment(home);
            foreach (var (k, v) in job.Spec.Env) env[k] = v;
            env["MERGEQUEUE_REPO"] = job.Repo.ToString();
            env["MERGEQUEUE_SHA"] = job.Sha.Value;
            env["MERGEQUEUE_JOB"] = job.Context;
            env["MERGEQUEUE_TRIGGER"] = job.Trigger.ToString().ToLowerInvariant();
            env["MERGEQUEUE_TRY"] = tryNumber.ToString(System.Globalization.CultureInfo.InvariantCulture);

            using var cancelled = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var watch = WatchCancelAsync(job.Id, cancelled, stop);
            var pump = log.RunAsync(cancelled.Token);
            var result = await JobProcess.RunAsync(job.Spec.Run, checkout, env, JobProcess.Wrapper(Settings.MemoryLimitMb, Settings.CpuLimitSeconds),
                job.Spec.Timeout, log.Write, cancelled.Token);
            await cancelled.CancelAsync();
            await Task.WhenAll(watch, pump);
            await log.FlushAsync(CancellationToken.None);
            return (result, log.Lines);
        }
        finally
        {
            TryDelete(root);
        }
    }

    /// <summary>Polls the job's row while it runs: a cancel (from any instance) ends the try.</summary>
    private async Task WatchCancelAsync(long id, CancellationTokenSource cancel, CancellationToken stop)
    {
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancel.Token);
                if ((await store.GetAsync(id, stop))?.State != JobState.Running) await cancel.CancelAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Unpacks GitHub's tarball (one top directory, <c>{owner}-{repo}-{sha7}/</c>) and returns that directory.</summary>
    private static async Task<string> UnpackAsync(byte[] tarball, string into, CancellationToken ct)
    {
        await using (var gzip = new GZipStream(new MemoryStream(tarball), CompressionMode.Decompress))
            await TarFile.ExtractToDirectoryAsync(gzip, into, overwriteFiles: false, ct);
        var top = Directory.GetDirectories(into);
        return top.Length == 1 && Directory.GetFiles(into).Length == 0 ? top[0] : into;
    }

    private async Task EndAsync(RunnerJob job, JobState state, string description, int? exitCode, CancellationToken ct)
    {
        if (!await store.FinishAsync(job.Id, state, description, exitCode, ct)) return; // cancelled meanwhile: its status is posted
        logger.LogInformation("Runner job {Job} ({Context}) on {Repo}@{Sha}: {State}, {Description}", job.Id, job.Context, job.Repo, job.Sha.Short, state, description);
        var status = state switch
        {
            JobState.Success => StatusState.Success,
            JobState.Failure => StatusState.Failure,
            _ => StatusState.Error,
        };
        await github.SetStatusAsync(job.Repo, job.Sha, job.Context, status, description, scheduler.PageUrl(job.Id), ct);
    }

    private void TryDelete(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Runner: could not remove {Directory}: {Error}", root, e.Message);
        }
    }

    /// <summary>
    /// Collects a try's output and writes it to the job's log every half second (readable while it runs);
    /// keeps the lines for the flaky-pattern check, up to the log limit.
    /// </summary>
    private sealed class LogPump(RunnerJobStore store, long id, int tryNumber, int maxBytes)
    {
        private readonly object gate = new();
        private readonly StringBuilder pending = new();
        private readonly List<string> lines = [];
        private long written;
        private bool truncated;

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (gate) return lines.ToArray();
            }
        }

        public void Write(string line)
        {
            lock (gate)
            {
                if (written + line.Length > maxBytes)
                {
                    if (!truncated) pending.Append(System.Globalization.CultureInfo.InvariantCulture, $"mergequeue: the log passed {maxBytes} bytes; the rest of this try's output is dropped\n");
                    truncated = true;
                    return;
                }
                written += line.Length;
                pending.Append(line);
                lines.Add(line);
            }
        }

        public async Task RunAsync(CancellationToken ct)
        {
            try
            {
                while (true)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
                    // Never cut off mid-write: the text taken from the buffer must reach the log.
                    await FlushAsync(CancellationToken.None);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public async Task FlushAsync(CancellationToken ct)
        {
            string text;
            lock (gate)
            {
                text = pending.ToString();
                pending.Clear();
            }
            await store.AppendLogAsync(id, tryNumber, text, ct);
        }
    }
}
