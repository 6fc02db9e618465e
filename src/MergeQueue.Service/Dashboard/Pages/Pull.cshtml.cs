using MergeQueue.Core;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>Pull request page: timeline of state changes with causes and effects, its attempts, why it is not merging.</summary>
public sealed class PullModelPage(DashboardReader reader) : PageModel
{
    public PullModel Pull { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(string owner, string repo, int number, CancellationToken ct)
    {
        Pull = await reader.PullRequestAsync(new RepoId(owner, repo), number, ct);
        if (Pull.Requests.Count == 0 && Pull.Timeline.Count == 0) return NotFound();
        return Page();
    }
}
