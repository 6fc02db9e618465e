using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using MergeQueue.Core;
using MergeQueue.Core.Runner;

namespace MergeQueue.Service.Runner;

/// <summary>
/// Runs one claimed job the same way wherever it runs (a slot of the service, or an external runner
/// process): fetches the commit's tarball into a fresh directory, runs the command there (<see cref="JobProcess"/>),
/// streams its output into the job's log, retries a flaky failure on the same commit, and reports the
/// verdict, all through its <see cref="IJobHost"/>.
/// </summary>
public sealed class JobExecutor(IJobHost host, ServiceOptions.RunnerOptions settings, ILogger logger)
{
    /// <summary>
    /// Runs a claimed job to its end: every try, the flaky retries, the verdict reported to the host. When
    /// <paramref name="stop"/> fires (the runner is stopping) the job goes back in the queue and this throws.
    /// </summary>
    public async Task RunAsync(RunnerJob job, CancellationToken stop)
    {
        byte[] tarball;
        try
        {
            tarball = await host.TarballAsync(job, stop);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            await host.AppendLogAsync(job, job.Tries, $"mergequeue: could not fetch {job.Repo}@{job.Sha}: {e.Message}\n", stop);
            await host.FinishAsync(job, JobState.Error, Messages.JobError("could not fetch the commit"), null, stop);
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
                    // The runner is stopping: the job runs again at the next start (or on another runner).
                    try
                    {
                        await host.ReleaseAsync(job, CancellationToken.None);
                    }
                    catch (Exception e)
                    {
                        // Its heartbeat stops with this runner: it is queued again after the heartbeat timeout.
                        logger.LogWarning("Runner job {Job}: could not hand it back to the queue: {Error}", job.Id, e.Message);
                    }
                    stop.ThrowIfCancellationRequested();
                }
                logger.LogInformation("Runner job {Job} cancelled (or taken away) while running; its process group was killed", job.Id);
                return;
            }
            switch (TryOutcome.Decide(job.Spec, run, result.ExitCode, result.TimedOut, result.Took, lines))
            {
                case TryOutcome.Retry retry:
                    await host.AppendLogAsync(job, tryNumber, $"mergequeue: the log matches flaky pattern '{retry.Pattern}': running it again (flaky retry {run} of {job.Spec.FlakyRetries})\n", stop);
                    if (!await host.StartTryAsync(job, tryNumber + 1, stop)) return;
                    continue;
                case TryOutcome.Final final:
                    if (result.TimedOut) await host.AppendLogAsync(job, tryNumber, $"mergequeue: {final.Description}: process group killed\n", stop);
                    await host.FinishAsync(job, final.State, final.Description, result.TimedOut ? null : result.ExitCode, stop);
                    return;
            }
        }
    }

    /// <summary>One try: a fresh directory from the tarball, the command in it, its output into the log.</summary>
    private async Task<(ProcessResult Result, IReadOnlyList<string> Lines)> RunTryAsync(RunnerJob job, int tryNumber, byte[] tarball, CancellationToken stop)
    {
        var root = Path.Combine(string.IsNullOrWhiteSpace(settings.WorkDirectory) ? Path.GetTempPath() : settings.WorkDirectory,
            $"mq-job-{job.Id}-{tryNumber}-{Guid.NewGuid():N}"[..40]);
        var home = Path.Combine(root, "home");
        var source = Path.Combine(root, "src");
        Directory.CreateDirectory(Path.Combine(home, "tmp"));
        Directory.CreateDirectory(source);
        var log = new LogPump(host, job, tryNumber, settings.MaxLogBytes);
        try
        {
            var checkout = await UnpackAsync(tarball, source, stop);
            var env = JobProcess.BaseEnvironment(home);
            foreach (var (k, v) in job.Spec.Env) env[k] = v;
            env["MERGEQUEUE_REPO"] = job.Repo.ToString();
            env["MERGEQUEUE_SHA"] = job.Sha.Value;
            env["MERGEQUEUE_JOB"] = job.Context;
            env["MERGEQUEUE_TRIGGER"] = JobTriggers.Name(job.Trigger);
            env["MERGEQUEUE_TRY"] = tryNumber.ToString(System.Globalization.CultureInfo.InvariantCulture);

            using var cancelled = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var watch = WatchAsync(job, cancelled);
            var pump = log.RunAsync(cancelled.Token);
            var result = await JobProcess.RunAsync(job.Spec.Run, checkout, env, JobProcess.Wrapper(settings.MemoryLimitMb, settings.CpuLimitSeconds, Environment.ProcessId),
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

    /// <summary>
    /// Asks the host while the job runs whether it is still this runner's, renewing the heartbeat every
    /// <see cref="IJobHost.HeartbeatInterval"/>: a cancel (from any instance), or the job queued again after a
    /// lost heartbeat, ends the try. A host that cannot be reached does not end it: the heartbeat timeout decides.
    /// </summary>
    private async Task WatchAsync(RunnerJob job, CancellationTokenSource cancel)
    {
        var renewed = TimeProvider.System.GetTimestamp();
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(host.WatchInterval, cancel.Token);
                var renew = TimeProvider.System.GetElapsedTime(renewed) >= host.HeartbeatInterval;
                if (!await host.StillRunningAsync(job, renew, cancel.Token))
                {
                    await cancel.CancelAsync();
                    return;
                }
                if (renew) renewed = TimeProvider.System.GetTimestamp();
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning("Runner job {Job}: could not reach the service to check on it: {Error}", job.Id, e.Message);
            }
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
    private sealed class LogPump(IJobHost host, RunnerJob job, int tryNumber, int maxBytes)
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
            await host.AppendLogAsync(job, tryNumber, text, ct);
        }
    }
}
