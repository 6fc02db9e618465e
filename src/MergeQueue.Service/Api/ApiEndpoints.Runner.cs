using System.Text.RegularExpressions;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.Service.Runner;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Api;

/// <summary>A job as an external runner gets it: what to run, its lease (sent back on every call) and how often to send heartbeats.</summary>
public sealed record ClaimedJob(
    long Id, string Repo, string Sha, string Job, string Trigger, string? Branch, int Try, JobSpec Spec, string Lease, double HeartbeatSeconds, string Url);

public sealed record RunnerClaimBody(string? Runner, int? Wait);

public sealed record RunnerTryBody(int? Try);

public sealed record RunnerFinishBody(string? State, string? Description, int? ExitCode);

/// <summary>
/// <c>/api/v1/runner</c>: external runner processes (docs/runner.md, "External runners") claim jobs, fetch
/// the commit through the service (they hold no GitHub credentials), stream logs, send heartbeats and
/// report verdicts. Only keys of the <c>runner</c> role may call it, and a runner key may call nothing
/// else. Every call about a job carries the claim's lease (<c>MergeQueue-Lease</c> header): when the job
/// was cancelled or queued again (its heartbeat stopped), the answer is 409 and the runner kills it.
/// </summary>
public static partial class ApiEndpoints
{
    public const string LeaseHeader = "MergeQueue-Lease";
    private const int MaxLogChunkBytes = 1024 * 1024;

    private static void MapRunnerEndpoints(IEndpointRouteBuilder app)
    {
        var runner = app.MapGroup(ApiSetup.Prefix + "/runner")
            .AddEndpointFilter(AuthenticateAsync)
            .AddEndpointFilter(RequireRunnerKey)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .WithTags("runner");
        runner.MapPost("/claim", ClaimJobAsync).WithName("ClaimRunnerJob").Accepts<RunnerClaimBody>("application/json")
            .Produces<ClaimedJob>().Produces(StatusCodes.Status204NoContent).ProducesProblem(409).ProducesProblem(422);
        runner.MapGet("/jobs/{id:long}/tarball", JobTarballAsync).WithName("GetRunnerJobTarball").ProducesProblem(404).ProducesProblem(409).ProducesProblem(502);
        runner.MapPost("/jobs/{id:long}/log", AppendJobLogAsync).WithName("AppendRunnerJobLog").Accepts<string>("text/plain")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409).ProducesProblem(413).ProducesProblem(422);
        runner.MapPost("/jobs/{id:long}/heartbeat", JobHeartbeatAsync).WithName("RunnerJobHeartbeat")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409);
        runner.MapPost("/jobs/{id:long}/tries", StartJobTryAsync).WithName("StartRunnerJobTry").Accepts<RunnerTryBody>("application/json")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        runner.MapPost("/jobs/{id:long}/finish", FinishJobAsync).WithName("FinishRunnerJob").Accepts<RunnerFinishBody>("application/json")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409).ProducesProblem(422);
        runner.MapPost("/jobs/{id:long}/release", ReleaseJobAsync).WithName("ReleaseRunnerJob")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409);
    }

    private static async ValueTask<object?> RequireRunnerKey(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        Caller(context.HttpContext).Role == ApiRoles.Runner
            ? await next(context)
            : Forbidden(Caller(context.HttpContext), "the runner API needs a key of the runner role");

    /// <summary>
    /// The oldest queued job, or 204 when none comes within <c>wait</c> seconds (at most 30: a long poll, so an
    /// idle runner hears of a new job at once). The runner's name (<c>runner</c>) shows on logs and pages.
    /// </summary>
    private static async Task<IResult> ClaimJobAsync(HttpContext http, JobHost host, JobScheduler scheduler, RunnerSignal signal,
        IOptions<ServiceOptions> options, ILogger<JobHost> logger, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<RunnerClaimBody>(http.Request, ct);
        if (error is not null) return error;
        if (body?.Runner is not { } name || !RunnerName().IsMatch(name))
            return Invalid("runner (the runner's name) is required: 1 to 64 letters, digits, '.', '_' or '-'.");
        if (body.Wait is < 0 or > 30) return Invalid("wait must be between 0 and 30 seconds.");
        if (!scheduler.Enabled)
            return Problem(StatusCodes.Status409Conflict, "Runner off", "The built-in runner is not enabled on this service (MergeQueue:Runner:Enabled): no job is ever queued.");

        var started = TimeProvider.System.GetTimestamp();
        var wait = TimeSpan.FromSeconds(body.Wait ?? 0);
        var poll = options.Value.Runner.PollInterval;
        while (true)
        {
            var (claimer, lease) = JobHost.NewExternalClaim(name);
            if (await host.ClaimAsync(claimer, ct) is { } job)
            {
                logger.LogInformation("Runner job {Job} handed to external runner {Runner} (key {Key})", job.Id, name, Caller(http).Name);
                var heartbeat = JobHost.HeartbeatIntervalFor(options.Value.Runner.HeartbeatTimeout);
                return Results.Ok(new ClaimedJob(job.Id, job.Repo.ToString(), job.Sha.Value, job.Context, JobTriggers.Name(job.Trigger), job.Branch,
                    job.Tries, job.Spec, lease, heartbeat.TotalSeconds, scheduler.PageUrl(job.Id)));
            }
            var left = wait - TimeProvider.System.GetElapsedTime(started);
            if (left <= TimeSpan.Zero) return Results.NoContent();
            await signal.WaitAsync(left < poll ? left : poll, ct);
        }
    }

    /// <summary>The job as claimed by the caller's lease, or the answer refusing the call (404 unknown, 409 no longer the caller's).</summary>
    private static async Task<(RunnerJob? Job, IResult? Refusal)> LeasedJobAsync(long id, HttpContext http, RunnerJobStore store, CancellationToken ct)
    {
        var job = await store.GetAsync(id, ct);
        if (job is null) return (null, NotFound($"There is no runner job {id}."));
        var lease = http.Request.Headers[LeaseHeader].ToString();
        if (lease.Length == 0) return (null, Invalid($"The {LeaseHeader} header (the lease the claim answered) is required."));
        if (job.State != JobState.Running || !JobHost.HoldsLease(job.ClaimedBy, lease))
            return (null, Problem(StatusCodes.Status409Conflict, "Not your job",
                job.State switch
                {
                    JobState.Running or JobState.Queued => $"Job {id} is no longer held by this lease: it was queued again (no heartbeat in time) and belongs to another claim. Stop running it.",
                    _ => $"Job {id} is {job.State.ToString().ToLowerInvariant()}: {job.Description}. Stop running it.",
                }));
        return (job, null);
    }

    private static async Task<IResult> JobTarballAsync(long id, HttpContext http, RunnerJobStore store, JobHost host, CancellationToken ct)
    {
        var (job, refusal) = await LeasedJobAsync(id, http, store, ct);
        if (refusal is not null) return refusal;
        try
        {
            return Results.File(await host.TarballAsync(job!, ct), "application/gzip", $"{job!.Repo.Name}-{job.Sha.Short}.tar.gz");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Problem(StatusCodes.Status502BadGateway, "Tarball unavailable", $"GitHub did not serve {job!.Repo}@{job.Sha}: {e.Message}");
        }
    }

    /// <summary>A piece of the log (<c>text/plain</c>, at most 1 MiB a call) of try <c>try</c>.</summary>
    private static async Task<IResult> AppendJobLogAsync(long id, int? @try, HttpContext http, RunnerJobStore store, JobHost host, CancellationToken ct)
    {
        if (http.Request.ContentLength > MaxLogChunkBytes)
            return Problem(StatusCodes.Status413PayloadTooLarge, "Too large", $"Send the log in pieces of at most {MaxLogChunkBytes} bytes.");
        var (job, refusal) = await LeasedJobAsync(id, http, store, ct);
        if (refusal is not null) return refusal;
        if (@try is not { } tryNumber || tryNumber < 1 || tryNumber > job!.Tries + job.Spec.FlakyRetries)
            return Invalid("try (the query parameter: which try printed this) must be one of the job's tries.");
        // Sized to the body when its length is known (a UTF-8 body has no more characters than bytes): a log post
        // comes every fraction of a second per running job.
        var buffer = new char[(int)Math.Min(http.Request.ContentLength ?? MaxLogChunkBytes, MaxLogChunkBytes) + 1];
        using var reader = new StreamReader(http.Request.Body, System.Text.Encoding.UTF8);
        var read = await reader.ReadBlockAsync(buffer, ct);
        if (read > MaxLogChunkBytes)
            return Problem(StatusCodes.Status413PayloadTooLarge, "Too large", $"Send the log in pieces of at most {MaxLogChunkBytes} bytes.");
        await host.AppendLogAsync(job, tryNumber, new string(buffer, 0, read), ct);
        return Results.NoContent();
    }

    private static async Task<IResult> JobHeartbeatAsync(long id, HttpContext http, RunnerJobStore store, JobHost host, CancellationToken ct)
    {
        var (job, refusal) = await LeasedJobAsync(id, http, store, ct);
        if (refusal is not null) return refusal;
        return await host.StillRunningAsync(job!, renewHeartbeat: true, ct) ? Results.NoContent() : NoLongerYours(id);
    }

    /// <summary>A flaky retry begins: try <c>try</c> (one more than the job has had).</summary>
    private static async Task<IResult> StartJobTryAsync(long id, HttpContext http, RunnerJobStore store, JobHost host, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<RunnerTryBody>(http.Request, ct);
        if (error is not null) return error;
        var (job, refusal) = await LeasedJobAsync(id, http, store, ct);
        if (refusal is not null) return refusal;
        if (body?.Try != job!.Tries + 1) return Invalid($"try must be {job.Tries + 1}: the job has had {job.Tries}.");
        return await host.StartTryAsync(job, job.Tries + 1, ct) ? Results.NoContent() : NoLongerYours(id);
    }

    /// <summary>The verdict: <c>success</c>, <c>failure</c> or <c>error</c>, the status description (at most 140 characters) and the exit code.</summary>
    private static async Task<IResult> FinishJobAsync(long id, HttpContext http, RunnerJobStore store, JobHost host, CancellationToken ct)
    {
        var (body, error) = await ReadBodyAsync<RunnerFinishBody>(http.Request, ct);
        if (error is not null) return error;
        JobState? state = body?.State switch
        {
            "success" => JobState.Success,
            "failure" => JobState.Failure,
            "error" => JobState.Error,
            _ => null,
        };
        if (state is null) return Invalid("state must be success, failure or error.");
        if (body!.Description is not { Length: > 0 and <= 140 } description) return Invalid("description is required, at most 140 characters (it becomes the commit status's).");
        var (job, refusal) = await LeasedJobAsync(id, http, store, ct);
        if (refusal is not null) return refusal;
        return await host.FinishAsync(job!, state.Value, description, body.ExitCode, ct) ? Results.NoContent() : NoLongerYours(id);
    }

    /// <summary>The runner is stopping: the job goes back in the queue for another runner.</summary>
    private static async Task<IResult> ReleaseJobAsync(long id, HttpContext http, RunnerJobStore store, JobHost host, CancellationToken ct)
    {
        var (job, refusal) = await LeasedJobAsync(id, http, store, ct);
        if (refusal is not null) return refusal;
        await host.ReleaseAsync(job!, ct);
        return Results.NoContent();
    }

    private static IResult NoLongerYours(long id) =>
        Problem(StatusCodes.Status409Conflict, "Not your job", $"Job {id} was cancelled or queued again meanwhile. Stop running it.");

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex RunnerName();
}
