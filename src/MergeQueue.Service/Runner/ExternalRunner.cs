using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.Service.Api;

namespace MergeQueue.Service.Runner;

/// <summary>
/// <c>runner --server URL --key KEY</c>: a runner process for another machine (docs/runner.md, "External
/// runners"). It holds no database connection and no GitHub credentials: it claims jobs from the service's
/// runner API with a key of the <c>runner</c> role, gets each commit's tarball through the service, runs
/// jobs exactly as the service's own slots do (<see cref="JobExecutor"/>), streams their logs back and
/// sends heartbeats. Stopped (SIGTERM, Ctrl+C), it kills its jobs and hands them back to the queue.
/// </summary>
public static partial class ExternalRunner
{
    public const string Name = "runner";
    public const string KeyVariable = "MERGEQUEUE_RUNNER_KEY";

    private const string Usage =
        """
        usage: runner --server URL [--key KEY | --key-file FILE] [--name NAME] [--slots N] [--work-dir DIR]
                      [--memory-limit-mb N] [--cpu-limit-seconds N]
          --server             the MergeQueue service's URL (its MergeQueue:PublicUrl)
          --key, --key-file    an API key of the runner role (or the MERGEQUEUE_RUNNER_KEY variable; prefer
                               the file or the variable: a command line is visible to every user of the machine)
          --name               this runner's name on job pages and logs (default: the host name)
          --slots              jobs run at once (default 1)
          --work-dir           where each job gets its fresh directory (default: the temporary directory)
          --memory-limit-mb, --cpu-limit-seconds   ulimit -v / ulimit -t for each job (default: none)
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter error)
    {
        var (options, problem) = Parse(args, Environment.GetEnvironmentVariable(KeyVariable));
        if (problem is not null)
        {
            await error.WriteLineAsync($"runner: {problem}\n{Usage}");
            return 2;
        }
        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        }));
        var logger = logs.CreateLogger("MergeQueue.Runner");
        using var http = new HttpClient { BaseAddress = new Uri(options!.Server.TrimEnd('/') + "/api/v1/runner/"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Key);
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("mergequeue-runner", "1"));
        logger.LogInformation("Runner {Name}: {Slots} slot(s), taking jobs from {Server}", options.Name, options.Settings.Slots, options.Server);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, options.Settings.Slots).Select(slot => SlotAsync(http, options, logger, slot, stop.Token)));
        }
        catch (RunnerRefusedException e)
        {
            logger.LogError("Runner {Name}: the service refused this runner: {Why}", options.Name, e.Message);
            return 2;
        }
        logger.LogInformation("Runner {Name} stopped", options.Name);
        return 0;
    }

    private static async Task SlotAsync(HttpClient http, RunnerCommandOptions options, ILogger logger, int slot, CancellationToken stop)
    {
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            ClaimedJob? claimed;
            try
            {
                claimed = await ClaimAsync(http, options.Name, stop);
                failures = 0;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or RemoteJobHost.ServiceException or TaskCanceledException)
            {
                // The service is down or restarting: wait a little longer each time (at most 30 s) and ask again.
                var delay = TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(failures++, 5)));
                logger.LogWarning("Runner slot {Slot}: could not reach the service ({Error}); trying again in {Delay} s", slot, e.Message, delay.TotalSeconds);
                await DelayAsync(delay, stop);
                continue;
            }
            if (claimed is null) continue;

            var host = new RemoteJobHost(http, claimed, logger);
            var job = host.Job;
            logger.LogInformation("Runner slot {Slot}: job {Job} ({Context}) on {Repo}@{Sha}, try {Try}", slot, job.Id, job.Context, job.Repo, job.Sha.Short, job.Tries);
            try
            {
                await new JobExecutor(host, options.Settings, logger).RunAsync(job, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                logger.LogInformation("Runner slot {Slot}: stopping; job {Job} handed back to the queue", slot, job.Id);
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Runner slot {Slot}: job {Job} failed in the runner", slot, job.Id);
                try
                {
                    await host.FinishAsync(job, JobState.Error, Messages.JobError(e.Message), null, stop);
                }
                catch (Exception report) when (report is not OperationCanceledException)
                {
                    // The service will queue it again once its heartbeat is missed.
                    logger.LogWarning("Runner slot {Slot}: could not report job {Job}'s error: {Error}", slot, job.Id, report.Message);
                }
            }
        }
    }

    /// <summary>A long poll: the next job, or null when none came within 20 seconds.</summary>
    private static async Task<ClaimedJob?> ClaimAsync(HttpClient http, string name, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync("claim", new RunnerClaimBody(name, 20), RemoteJobHost.Json, ct);
        if (response.StatusCode == HttpStatusCode.NoContent) return null;
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity)
            throw new RunnerRefusedException(await RemoteJobHost.DetailAsync(response, ct));
        if (!response.IsSuccessStatusCode) throw new RemoteJobHost.ServiceException(await RemoteJobHost.DetailAsync(response, ct));
        return await response.Content.ReadFromJsonAsync<ClaimedJob>(RemoteJobHost.Json, ct);
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The command's settings: where the service is, the key, and the job limits (the same settings an instance's slots use).</summary>
    public sealed record RunnerCommandOptions(string Server, string Key, string Name, ServiceOptions.RunnerOptions Settings);

    public static (RunnerCommandOptions? Options, string? Problem) Parse(string[] args, string? keyFromEnvironment)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] known = ["--server", "--key", "--key-file", "--name", "--slots", "--work-dir", "--memory-limit-mb", "--cpu-limit-seconds"];
        for (var i = 0; i < args.Length; i++)
        {
            var (flag, value) = args[i].Split('=', 2) is [var f, var v] ? (f, v) : (args[i], i + 1 < args.Length ? args[++i] : null);
            if (!known.Contains(flag)) return (null, $"unknown option '{flag}'");
            if (value is null) return (null, $"{flag} needs a value");
            values[flag] = value;
        }
        if (!values.TryGetValue("--server", out var server) || !Uri.TryCreate(server, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            return (null, "--server must be the service's http(s) URL");
        string? key;
        if (values.TryGetValue("--key-file", out var keyFile))
        {
            try
            {
                key = File.ReadAllText(keyFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return (null, $"cannot read --key-file {keyFile}: {e.Message}");
            }
        }
        else key = values.GetValueOrDefault("--key") ?? keyFromEnvironment;
        if (string.IsNullOrWhiteSpace(key)) return (null, $"a key of the runner role is needed: --key, --key-file or {KeyVariable}");
        var name = values.GetValueOrDefault("--name") ?? HostName();
        if (!NamePattern().IsMatch(name)) return (null, "--name must be 1 to 64 letters, digits, '.', '_' or '-'");
        var settings = new ServiceOptions.RunnerOptions { Enabled = true, WorkDirectory = values.GetValueOrDefault("--work-dir") };
        foreach (var (flag, set) in new (string, Action<int>)[]
                 {
                     ("--slots", n => settings.Slots = n),
                     ("--memory-limit-mb", n => settings.MemoryLimitMb = n),
                     ("--cpu-limit-seconds", n => settings.CpuLimitSeconds = n),
                 })
        {
            if (!values.TryGetValue(flag, out var text)) continue;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < (flag == "--slots" ? 1 : 0) || n > 1_000_000)
                return (null, $"{flag} must be a whole number{(flag == "--slots" ? " of at least 1" : "")}");
            set(n);
        }
        return (new RunnerCommandOptions(server, key.Trim(), name, settings), null);
    }

    /// <summary>The host name made a runner name (letters, digits, '.', '_', '-').</summary>
    private static string HostName()
    {
        var name = Regex.Replace(Environment.MachineName, "[^A-Za-z0-9._-]", "-");
        return name.Length is > 0 and <= 64 ? name : "runner";
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();

    /// <summary>The service said no to this runner (wrong key or role, runner off): retrying will not help.</summary>
    private sealed class RunnerRefusedException(string message) : Exception(message);
}

/// <summary>
/// A job's host seen from an external runner: the service's runner API over HTTP, with the claim's lease
/// on every call. Network errors and 5xx answers are retried a few times; 409 means the job is not this
/// runner's any more.
/// </summary>
public sealed class RemoteJobHost(HttpClient http, ClaimedJob claimed, ILogger logger) : IJobHost
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The claimed job; its <see cref="RunnerJob.ClaimedBy"/> is the lease.</summary>
    public RunnerJob Job { get; } = new(
        claimed.Id, RepoId.Parse(claimed.Repo), new CommitSha(claimed.Sha), claimed.Job, JobTriggers.Parse(claimed.Trigger), claimed.Branch, null, claimed.Spec, JobState.Running, null, claimed.Try, null, claimed.Lease,
        DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null);

    public TimeSpan WatchInterval => HeartbeatInterval;

    public TimeSpan HeartbeatInterval => TimeSpan.FromSeconds(Math.Max(0.2, claimed.HeartbeatSeconds));

    public async Task<byte[]> TarballAsync(RunnerJob job, CancellationToken ct)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, $"jobs/{job.Id}/tarball"), ct);
        await EnsureAsync(response, ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    public async Task AppendLogAsync(RunnerJob job, int tryNumber, string text, CancellationToken ct)
    {
        if (text.Length == 0) return;
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"jobs/{job.Id}/log?try={tryNumber}")
        {
            Content = new StringContent(text, Encoding.UTF8, "text/plain"),
        }, ct);
        // Not ours any more: the watch sees it at its next heartbeat and kills the job; the text has nowhere to go.
        if (response.StatusCode == HttpStatusCode.Conflict) return;
        await EnsureAsync(response, ct);
    }

    public async Task<bool> StillRunningAsync(RunnerJob job, bool renewHeartbeat, CancellationToken ct)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"jobs/{job.Id}/heartbeat"), ct);
        if (response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound) return false;
        await EnsureAsync(response, ct);
        return true;
    }

    public async Task<bool> StartTryAsync(RunnerJob job, int tryNumber, CancellationToken ct)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"jobs/{job.Id}/tries") { Content = JsonContent.Create(new RunnerTryBody(tryNumber), options: Json) }, ct);
        if (response.StatusCode == HttpStatusCode.Conflict) return false;
        await EnsureAsync(response, ct);
        return true;
    }

    public async Task<bool> FinishAsync(RunnerJob job, JobState state, string description, int? exitCode, CancellationToken ct)
    {
        var body = new RunnerFinishBody(state.ToString().ToLowerInvariant(), description, exitCode);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"jobs/{job.Id}/finish") { Content = JsonContent.Create(body, options: Json) }, ct);
        if (response.StatusCode == HttpStatusCode.Conflict)
        {
            logger.LogInformation("Job {Job}: the service no longer counts this run's verdict: {Why}", job.Id, await DetailAsync(response, ct));
            return false;
        }
        await EnsureAsync(response, ct);
        return true;
    }

    public async Task ReleaseAsync(RunnerJob job, CancellationToken ct)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, $"jobs/{job.Id}/release"), ct);
        if (response.StatusCode != HttpStatusCode.Conflict) await EnsureAsync(response, ct);
    }

    /// <summary>Sends with the lease; a network error or a 5xx is tried again (1, 2, 4 s) before it counts.</summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> request, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var message = request();
            message.Headers.Add(ApiEndpoints.LeaseHeader, claimed.Lease);
            try
            {
                var response = await http.SendAsync(message, ct);
                if ((int)response.StatusCode < 500 || attempt >= 3) return response;
                response.Dispose();
            }
            catch (HttpRequestException) when (attempt < 3)
            {
            }
            await Task.Delay(TimeSpan.FromSeconds(1 << attempt), ct);
        }
    }

    private static async Task EnsureAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode) throw new ServiceException($"{(int)response.StatusCode}: {await DetailAsync(response, ct)}");
    }

    /// <summary>The problem's detail (or the body) of a refusal.</summary>
    public static async Task<string> DetailAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.TryGetProperty("detail", out var detail)) return detail.GetString() ?? text;
        }
        catch (JsonException)
        {
        }
        return text.Length > 0 ? text : response.StatusCode.ToString();
    }

    /// <summary>The service answered with an error.</summary>
    public sealed class ServiceException(string message) : Exception(message);
}
