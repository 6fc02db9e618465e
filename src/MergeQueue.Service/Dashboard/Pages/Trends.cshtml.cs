using MergeQueue.Core;
using MergeQueue.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>
/// Trends <c>/trends?from=&amp;to=&amp;by=day|hour&amp;repo=</c>: figures per bucket from stored history,
/// drawn as SVG on the server. Default span: the last 14 days (48 hours by hour), or from the first event if later.
/// </summary>
public sealed class TrendsModel(DashboardQueries queries, DashboardReader reader, DashboardAccess access) : PageModel
{
    [BindProperty(SupportsGet = true)] public string? From { get; set; }
    [BindProperty(SupportsGet = true)] public string? To { get; set; }
    [BindProperty(SupportsGet = true)] public string? By { get; set; }
    [BindProperty(SupportsGet = true)] public string? Repo { get; set; }

    public TrendReport Report { get; private set; } = null!;
    public IReadOnlyList<RepoId> Repositories { get; private set; } = [];
    public string? Error { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        var hourly = string.Equals(By, "hour", StringComparison.OrdinalIgnoreCase);
        if (By is not null && !hourly && !string.Equals(By, "day", StringComparison.OrdinalIgnoreCase))
            Error = $"by={By} is not day or hour; showing days.";
        if (!DashboardReader.TryParseTime(From, out var fromQuery, out var bad) || !DashboardReader.TryParseTime(To, out var toQuery, out bad))
            return BadRequest(bad);
        var now = reader.Now;
        var to = toQuery ?? Trends.Floor(now, hourly).Add(hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1));
        var first = await queries.FirstEventAsync(ct);
        var defaultFrom = to - (hourly ? TimeSpan.FromHours(48) : TimeSpan.FromDays(14));
        var from = fromQuery ?? (first is { } f && f > defaultFrom ? Trends.Floor(f, hourly) : defaultFrom);
        if (from >= to)
        {
            Error = "from must be before to.";
            (from, to) = (to, from);
        }
        var step = hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);
        if ((to - from).Ticks / step.Ticks > Trends.MaxBuckets)
        {
            Error = $"At most {Trends.MaxBuckets} {(hourly ? "hours" : "days")} at once; showing the last {Trends.MaxBuckets}.";
            from = to - step * Trends.MaxBuckets;
        }

        Repositories = await access.ReadableAsync(User, await reader.RepositoriesAsync(ct), ct);
        RepoId? repo = null;
        if (!string.IsNullOrWhiteSpace(Repo))
        {
            try { repo = RepoId.Parse(Repo.Trim()); }
            catch (FormatException e) { Error = e.Message; }
        }
        Report = Trends.Compute(await queries.TrendDataAsync(from, to, repo, ct), from, to, hourly);
        return Page();
    }
}
