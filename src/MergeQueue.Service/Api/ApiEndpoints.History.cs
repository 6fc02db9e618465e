using System.Text.RegularExpressions;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.Service.Dashboard;
using MergeQueue.Service.Repositories;

namespace MergeQueue.Service.Api;

// The built-in runner's history (issue 16 item 6, seed 002; docs/runner.md, "History and trends"): the commits it
// tested, their jobs, one job and its log, and the runner-aware trigger. Reads need any role, as every read does.

/// <summary><c>POST /api/v1/trigger/{owner}/{repo}</c>'s optional body: the runner's jobs on a branch head or a commit.</summary>
public sealed record TriggerBody(string? Branch, string? Sha);

public sealed record JobCountsInfo(int Total, int Queued, int Running, int Success, int Failure, int Error, int Cancelled)
{
    public static JobCountsInfo From(JobCounts c) => new(c.Total, c.Queued, c.Running, c.Success, c.Failure, c.Error, c.Cancelled);
}

/// <summary>A commit the runner tested. <c>cursor</c> is what <c>?before=</c> takes to list the commits after this one.</summary>
public sealed record TestedCommitInfo(string Sha, string? Branch, string Trigger, string Result, DateTimeOffset FirstQueuedAt, DateTimeOffset? LastFinishedAt,
    JobCountsInfo Jobs, long Cursor, string Url, string ResultsUrl);

/// <summary>One runner job: what it ran on, how it ended, its page and log.</summary>
public sealed record RunInfo(long Id, string Repo, string Sha, string Job, string Trigger, string? Branch, long? Attempt, string State, string? Description,
    int? ExitCode, int Tries, DateTimeOffset QueuedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, double? DurationSeconds, string Url, string LogUrl);

/// <summary>What a runner-aware trigger queued; <c>alreadyActive</c> names the jobs left alone because one is queued or running on the commit.</summary>
public sealed record TriggeredJobs(string Sha, string? Branch, IReadOnlyList<RunInfo> Queued, IReadOnlyList<string> AlreadyActive);

public static partial class ApiEndpoints
{
    private const int MaxJobFilterLength = 100;

    /// <summary>Maps the history endpoints on the authenticated <c>/api/v1</c> group.</summary>
    private static void MapHistoryEndpoints(RouteGroupBuilder api)
    {
        api.MapGet("/repos/{owner}/{repo}/commits", ListTestedCommitsAsync).WithName("ListTestedCommits")
            .Produces<IReadOnlyList<TestedCommitInfo>>().ProducesProblem(404).ProducesProblem(422);
        api.MapGet("/repos/{owner}/{repo}/commits/{sha}", GetTestedCommitAsync).WithName("GetTestedCommit")
            .Produces<TestedCommitInfo>().ProducesProblem(404);
        api.MapGet("/repos/{owner}/{repo}/commits/{sha}/results", ListCommitResultsAsync).WithName("ListCommitResults")
            .Produces<IReadOnlyList<RunInfo>>().ProducesProblem(404);
        api.MapGet("/runs/{id:long}", GetRunAsync).WithName("GetRun").Produces<RunInfo>().ProducesProblem(404);
        api.MapGet("/runs/{id:long}/log", GetRunLogAsync).WithName("GetRunLog").Produces<string>(contentType: "text/plain").ProducesProblem(404);
    }

    /// <summary>
    /// <c>?branch=&amp;job=&amp;result=&amp;limit=&amp;before=</c>, newest first. A full page carries a <c>Link: &lt;…&gt;; rel="next"</c>
    /// header to the older commits.
    /// </summary>
    private static async Task<IResult> ListTestedCommitsAsync(string owner, string repo, string? branch, string? job, string? result, string? limit, string? before,
        HttpContext http, DashboardReader reader, RunnerJobStore store, Runner.JobScheduler runner, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } id) return UnknownRepo(owner, repo);
        // pull/N (a PR head's jobs) passes as a branch name too.
        if (branch is not null && !ValidBranch(branch)) return Invalid($"'{branch}' is not a branch name.");
        if (job is not null && (job.Trim().Length == 0 || job.Length > MaxJobFilterLength)) return Invalid($"job must be a job name of 1 to {MaxJobFilterLength} characters.");
        CommitResult? wanted = null;
        if (result is not null)
        {
            if (!CommitResults.TryParse(result, out var parsed)) return Invalid($"Unknown result '{result}': use {string.Join(", ", CommitResults.Names)}.");
            wanted = parsed;
        }
        if (Limit(limit, 50) is not { } max) return Invalid("limit must be a number between 1 and 1000.");
        long? cursor = null;
        if (before is not null)
        {
            if (!long.TryParse(before, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var b) || b < 1)
                return Invalid("before must be a commit's cursor (a positive number) from an earlier page.");
            cursor = b;
        }
        var commits = await store.CommitsAsync(id, new CommitFilter(branch, job?.Trim(), wanted), max, cursor, ct);
        if (commits.Count == max)
        {
            var query = new[] { ("branch", branch), ("job", job), ("result", result), ("limit", limit) }
                .Where(q => q.Item2 is not null).Select(q => $"{q.Item1}={Uri.EscapeDataString(q.Item2!)}")
                .Append($"before={commits[^1].LatestJobId}");
            http.Response.Headers.Link = $"<{http.Request.PathBase}{http.Request.Path}?{string.Join("&", query)}>; rel=\"next\"";
        }
        return Results.Ok(commits.Select(c => TestedCommitInfo(c, runner)).ToList());
    }

    private static async Task<IResult> GetTestedCommitAsync(string owner, string repo, string sha, DashboardReader reader, RunnerJobStore store,
        Runner.JobScheduler runner, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } id) return UnknownRepo(owner, repo);
        if (await store.FindCommitAsync(id, sha, ct) is not { } found) return UntestedCommit(id, sha);
        var commit = (await store.CommitsAsync(id, new CommitFilter(Sha: found), 1, ct: ct)).Single();
        return Results.Ok(TestedCommitInfo(commit, runner));
    }

    private static async Task<IResult> ListCommitResultsAsync(string owner, string repo, string sha, DashboardReader reader, RunnerJobStore store,
        Runner.JobScheduler runner, CancellationToken ct)
    {
        if (await KnownRepoAsync(owner, repo, reader, ct) is not { } id) return UnknownRepo(owner, repo);
        if (await store.FindCommitAsync(id, sha, ct) is not { } found) return UntestedCommit(id, sha);
        return Results.Ok((await store.ForCommitAsync(id, found, ct)).Select(j => RunInfo(j, runner)).ToList());
    }

    private static async Task<IResult> GetRunAsync(long id, RunnerJobStore store, Runner.JobScheduler runner, CancellationToken ct) =>
        await store.GetAsync(id, ct) is { } job ? Results.Ok(RunInfo(job, runner)) : NotFound($"There is no runner job {id}.");

    /// <summary>The log so far, every try in order, as the dashboard's <c>/runs/{id}/log</c> serves it.</summary>
    private static async Task<IResult> GetRunLogAsync(long id, RunnerJobStore store, CancellationToken ct)
    {
        if (await store.GetAsync(id, ct) is null) return NotFound($"There is no runner job {id}.");
        return Results.Text(string.Concat((await store.LogAsync(id, ct)).Select(c => c.Text)), "text/plain; charset=utf-8");
    }

    private static IResult UntestedCommit(RepoId repo, string sha) =>
        NotFound($"The runner has not tested a commit {sha} in {repo} (give the full sha, or a prefix of at least 4 hex digits that only one tested commit has).");

    private static TestedCommitInfo TestedCommitInfo(TestedCommit c, Runner.JobScheduler runner) => new(
        c.Sha.Value, c.Branch, JobTriggers.Name(c.Trigger), CommitResults.Name(c.Result), c.FirstQueuedAt, c.LastFinishedAt, JobCountsInfo.From(c.Jobs), c.LatestJobId,
        runner.PublicLink($"{Links.RepoRuns(c.Repo)}?sha={c.Sha.Value}"),
        runner.PublicLink($"{ApiSetup.Prefix}/repos/{Uri.EscapeDataString(c.Repo.Owner)}/{Uri.EscapeDataString(c.Repo.Name)}/commits/{c.Sha.Value}/results"));

    private static RunInfo RunInfo(RunnerJob j, Runner.JobScheduler runner) => new(
        j.Id, j.Repo.ToString(), j.Sha.Value, j.Context, JobTriggers.Name(j.Trigger), j.Branch, j.Attempt?.Value, j.State.ToString().ToLowerInvariant(), j.Description,
        j.ExitCode, j.Tries, j.CreatedAt, j.StartedAt, j.FinishedAt,
        j is { StartedAt: { } s, FinishedAt: { } f } ? Math.Round((f - s).TotalSeconds, 3) : null,
        runner.PageUrl(j.Id), runner.PublicLink(Links.RunLog(j.Id)));

    /// <summary>The runner's jobs on a branch head or a commit, for <see cref="TriggerAsync"/> given a body with either.</summary>
    private static async Task<IResult> TriggerJobsAsync(HttpContext http, string owner, string repo, TriggerBody body, IRepoConfigs configs,
        Runner.JobScheduler runner, IGitHub github, CancellationToken ct)
    {
        if (body.Branch is not null && body.Sha is not null) return Invalid("Give branch or sha, not both.");
        if (body.Branch is { } b && !ValidBranch(b)) return Invalid($"'{b}' is not a branch name.");
        if (body.Sha is { } s && !FullSha().IsMatch(s)) return Invalid($"'{s}' is not a full commit sha (40 hex digits).");
        return await ActAsync(http, owner, repo, async (id, _) =>
        {
            if (!runner.Enabled)
                return Problem(StatusCodes.Status409Conflict, "Runner off", "The built-in runner is not enabled on this instance (MergeQueue:Runner:Enabled).");
            if (await configs.GetAsync(id, ct) is not { } config) return Problem(StatusCodes.Status409Conflict, "Refused by the queue", Messages.RefusedNotManaged);
            if (config.Jobs.Count == 0) return Problem(StatusCodes.Status409Conflict, "No jobs", $"{id} has no jobs: add some under jobs: in .github/mergequeue.yml (docs/runner.md).");
            CommitSha sha;
            if (body.Branch is { } branch)
            {
                if (await github.GetBranchAsync(id, branch, ct) is not { } head) return NotFound($"{id} has no branch {branch}.");
                sha = head;
            }
            else
            {
                sha = new CommitSha(body.Sha!.ToLowerInvariant());
                try
                {
                    await github.GetCommitAsync(id, sha, ct);
                }
                catch (Octokit.NotFoundException)
                {
                    return NotFound($"{id} has no commit {sha.Value}.");
                }
            }
            var (queued, active) = await runner.TriggerAsync(id, config, sha, body.Branch, ct);
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("MergeQueue.Api")
                .LogInformation("Runner jobs of {Repo} triggered on {Sha} ({Branch}) by API key {Actor}: {Queued} queued, {Active} already queued or running",
                    id, sha.Short, body.Branch ?? "no branch", Caller(http).Name, queued.Count, active.Count);
            return Results.Accepted(value: new TriggeredJobs(sha.Value, body.Branch, queued.Select(j => RunInfo(j, runner)).ToList(), active));
        });
    }

    [GeneratedRegex("^[0-9a-fA-F]{40}$")]
    private static partial Regex FullSha();
}
