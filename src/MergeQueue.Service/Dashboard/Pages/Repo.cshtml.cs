using MergeQueue.Core;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>Repository page: per target the queue in batching order, the running attempt and its checks, recent outcomes.</summary>
public sealed class RepoModelPage(DashboardReader reader) : PageModel
{
    public RepoModel Repo { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(string owner, string repo, CancellationToken ct)
    {
        var id = new RepoId(owner, repo);
        if (!(await reader.RepositoriesAsync(ct)).Contains(id)) return NotFound();
        Repo = await reader.RepositoryAsync(id, ct);
        return Page();
    }
}
