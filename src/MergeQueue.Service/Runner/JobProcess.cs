using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace MergeQueue.Service.Runner;

/// <summary>How one run of a job's command ended.</summary>
public sealed record ProcessResult(int ExitCode, bool TimedOut, bool Cancelled, TimeSpan Took);

/// <summary>
/// Runs a job's command as <c>setsid sh -c</c>: in a process group of its own, so a timeout or a
/// cancel kills everything it started (<c>kill -KILL -pgid</c>), and every run ends by killing the
/// group so no background child outlives its job. The environment is built from nothing: the service's
/// variables (its token, webhook secret, connection string) never reach the job.
/// </summary>
public static class JobProcess
{
    /// <summary>
    /// Variables every job gets besides its own: enough to find programs (the service's PATH, which is no
    /// secret, so the tools installed for it are found), nothing else of the service's.
    /// </summary>
    public static Dictionary<string, string> BaseEnvironment(string home) => new(StringComparer.Ordinal)
    {
        ["PATH"] = Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["HOME"] = home,
        ["TMPDIR"] = Path.Combine(home, "tmp"),
        ["LANG"] = "C.UTF-8",
        ["CI"] = "true",
    };

    /// <summary>
    /// The shell text that starts the watchdog, applies the limits, then runs the job's command (its <c>$1</c>).
    /// The watchdog (detached twice, so the job's <c>wait</c> never waits for it; in the job's process group)
    /// kills the whole group once <paramref name="runnerPid"/> is gone: a runner or service killed outright
    /// leaves no job running behind it. A job that ends normally takes the watchdog with its group.
    /// </summary>
    public static string Wrapper(int memoryLimitMb, int cpuLimitSeconds, int runnerPid)
    {
        var script = new StringBuilder().Append(CultureInfo.InvariantCulture,
            $"( (while kill -0 {runnerPid} 2>/dev/null; do sleep 1; done; kill -KILL 0) </dev/null >/dev/null 2>&1 & ); ");
        if (memoryLimitMb > 0) script.Append(CultureInfo.InvariantCulture, $"ulimit -v {memoryLimitMb * 1024L} || exit 125; ");
        if (cpuLimitSeconds > 0) script.Append(CultureInfo.InvariantCulture, $"ulimit -t {cpuLimitSeconds} || exit 125; ");
        return script + "exec sh -c \"$1\"";
    }

    /// <summary>
    /// Runs <paramref name="command"/> in <paramref name="directory"/> with exactly <paramref name="environment"/>;
    /// each line of stdout and stderr goes to <paramref name="output"/> as it comes. Ends at exit, at
    /// <paramref name="timeout"/>, or when <paramref name="cancel"/> fires (the group is killed then).
    /// </summary>
    public static async Task<ProcessResult> RunAsync(
        string command, string directory, IReadOnlyDictionary<string, string> environment, string wrapper,
        TimeSpan timeout, Action<string> output, CancellationToken cancel)
    {
        var psi = new ProcessStartInfo("setsid")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "sh", "-c", wrapper, "mergequeue-job", command }) psi.ArgumentList.Add(a);
        psi.Environment.Clear();
        foreach (var (k, v) in environment) psi.Environment[k] = v;

        var started = Stopwatch.StartNew();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output(e.Data + "\n"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output(e.Data + "\n"); };
        process.Start();
        // The service's child is not a group leader, so setsid makes the shell one without forking: its pid is the group's id.
        var group = process.Id;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var deadline = new CancellationTokenSource(timeout);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancel);
        bool timedOut = false, cancelled = false;
        try
        {
            await process.WaitForExitAsync(either.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = deadline.IsCancellationRequested && !cancel.IsCancellationRequested;
            cancelled = !timedOut;
        }
        // Always: whatever the command left running in the background goes with it.
        await KillGroupAsync(group);
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        // WaitForExit without a timeout also waits for the redirected streams to reach their end.
        process.WaitForExit();
        return new ProcessResult(timedOut || cancelled ? 137 : process.ExitCode, timedOut, cancelled, started.Elapsed);
    }

    /// <summary><c>kill -KILL -pgid</c>: every process of the group; a group already gone is fine.</summary>
    public static async Task KillGroupAsync(int group)
    {
        var psi = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-KILL", "--", "-" + group.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        using var kill = Process.Start(psi)!;
        await kill.WaitForExitAsync();
    }
}
