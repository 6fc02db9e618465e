using System.Globalization;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>
/// The runner's history of a repository, <c>/repos/{owner}/{repo}/runs?branch=&amp;job=&amp;result=&amp;sha=&amp;limit=&amp;before=&amp;by=day|hour</c>
/// (issue 16 item 6, seed 002): every commit the built-in runner tested, newest first, with its jobs, and charts of
/// the pass rate and duration of its jobs over the last 14 days (48 hours by hour). Readable by whoever may read the repository.
/// </summary>
public sealed class RepoRunsModelPage(RunnerJobStore store, DashboardReader reader, DashboardAccess access) : PageModel
{
    public const int DefaultLimit = 25, MaxLimit = 200;

    [BindProperty(SupportsGet = true)] public string? Branch { get; set; }
    [BindProperty(SupportsGet = true)] public string? Job { get; set; }
    [BindProperty(SupportsGet = true)] public string? Result { get; set; }
    [BindProperty(SupportsGet = true)] public string? Sha { get; set; }
    [BindProperty(SupportsGet = true)] public string? Limit { get; set; }
    [BindProperty(SupportsGet = true)] public string? Before { get; set; }
    [BindProperty(SupportsGet = true)] public string? By { get; set; }

    public RepoId Repo { get; private set; }
    public IReadOnlyList<(TestedCommit Commit, IReadOnlyList<RunnerJob> Jobs)> Commits { get; private set; } = [];
    public IReadOnlyList<string> Branches { get; private set; } = [];
    public IReadOnlyList<string> JobNames { get; private set; } = [];
    public List<string> Errors { get; } = [];
    public string? OlderLink { get; private set; }
    public TrendReport Trend { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(string owner, string repo, CancellationToken ct)
    {
        var id = (await reader.RepositoriesAsync(ct)).FirstOrDefault(r => r == new RepoId(owner, repo));
        if (id == default) return NotFound();
        if (!await access.MayReadAsync(User, id, ct)) return DashboardAccess.Refused(User, $"the runs of {id}");
        Repo = id;
        (Branches, JobNames) = await store.FilterValuesAsync(id, ct);

        var filter = new CommitFilter(Blank(Branch), Blank(Job));
        if (Blank(Result) is { } r)
        {
            if (CommitResults.TryParse(r, out var result)) filter = filter with { Result = result };
            else Errors.Add($"result={r} is not one of {string.Join(", ", CommitResults.Names)}; showing every result.");
        }
        if (Blank(Sha) is { } sha)
        {
            if (await store.FindCommitAsync(id, sha, ct) is { } found) filter = filter with { Sha = found };
            else Errors.Add($"No tested commit is {sha} (a full sha, or a prefix of at least 4 hex digits only one tested commit has).");
        }
        var limit = DefaultLimit;
        if (Blank(Limit) is { } l && !(int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is >= 1 and <= MaxLimit))
        {
            Errors.Add($"limit={l} is not a number from 1 to {MaxLimit}; showing {DefaultLimit}.");
            limit = DefaultLimit;
        }
        long? before = null;
        if (Blank(Before) is { } b)
        {
            if (long.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out var cursor)) before = cursor;
            else Errors.Add($"before={b} is not a cursor from an \"older\" link; showing the newest.");
        }

        // A sha asked for but not found lists nothing rather than everything.
        var commits = Blank(Sha) is not null && filter.Sha is null ? [] : await store.CommitsAsync(id, filter, limit, before, ct);
        var jobs = (await store.ForCommitsAsync(id, commits.Select(c => c.Sha).ToList(), ct))
            .Where(j => filter.Job is null || j.Context == filter.Job).ToLookup(j => j.Sha);
        Commits = commits.Select(c => (c, (IReadOnlyList<RunnerJob>)jobs[c.Sha].OrderByDescending(j => j.Id).ToList())).ToList();
        if (commits.Count == limit) OlderLink = Query(("before", commits[^1].LatestJobId.ToString(CultureInfo.InvariantCulture)));

        var hourly = string.Equals(By, "hour", StringComparison.OrdinalIgnoreCase);
        var to = TimeBuckets.Floor(reader.Now, hourly).Add(hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1));
        var from = to - (hourly ? TimeSpan.FromHours(48) : TimeSpan.FromDays(14));
        var buckets = TimeBuckets.Cover(from, to, hourly, Trends.MaxBuckets);
        var trend = RunnerTrend.Compute(await store.SamplesAsync(id, from, to, filter, ct), buckets);
        Trend = new TrendReport(from, to, hourly, buckets.Starts,
        [
            new("runner-pass-rate", "Pass rate", "%", "jobs that passed out of those that passed, failed or erred in the bucket (cancelled ones excluded)", trend.PassRate),
            new("runner-duration", "Job duration, median", "s", "from start to end, of the jobs that passed or failed in the bucket", trend.MedianSeconds),
            new("runner-jobs", "Jobs finished", "jobs", "jobs that passed, failed or erred in the bucket", trend.Runs.Select(n => (double?)n).ToList()),
        ]);
        return Page();
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    /// <summary>This page with the current filters and <paramref name="change"/> set (an empty value drops the parameter).</summary>
    public string Query(params (string Key, string? Value)[] change)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["branch"] = Branch,
            ["job"] = Job,
            ["result"] = Result,
            ["sha"] = Sha,
            ["limit"] = Limit,
            ["by"] = By,
        };
        foreach (var (key, value) in change) values[key] = value;
        var query = string.Join("&", values.Where(v => !string.IsNullOrWhiteSpace(v.Value)).Select(v => $"{v.Key}={Uri.EscapeDataString(v.Value!.Trim())}"));
        return Links.RepoRuns(Repo) + (query.Length == 0 ? "" : "?" + query);
    }
}
