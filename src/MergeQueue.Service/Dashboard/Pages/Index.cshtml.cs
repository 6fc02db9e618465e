using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>Overview <c>/</c>: every repository (the readable ones when not public), its queues, running attempts, the last 24 hours, service health.</summary>
public sealed class IndexModel(DashboardReader reader, DashboardAccess access) : PageModel
{
    public OverviewModel Overview { get; private set; } = null!;

    public async Task OnGetAsync(CancellationToken ct)
    {
        var overview = await reader.OverviewAsync(ct);
        if (!access.Public)
        {
            var readable = await access.ReadableAsync(User, overview.Repositories.Select(r => r.Repo), ct);
            overview = overview with { Repositories = overview.Repositories.Where(r => readable.Contains(r.Repo)).ToList() };
        }
        Overview = overview;
    }
}
