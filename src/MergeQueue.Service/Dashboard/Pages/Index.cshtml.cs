using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>Overview <c>/</c>: every repository, its queues, running attempts, the last 24 hours, service health.</summary>
public sealed class IndexModel(DashboardReader reader) : PageModel
{
    public OverviewModel Overview { get; private set; } = null!;

    public async Task OnGetAsync(CancellationToken ct) => Overview = await reader.OverviewAsync(ct);
}
