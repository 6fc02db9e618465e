using MergeQueue.Core;
using MergeQueue.Core.Flows;
using MergeQueue.Service.SignIn;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>Repository page: per target the queue in batching order, the running attempt and its checks, recent outcomes; freeze and unfreeze for those allowed.</summary>
public sealed class RepoModelPage(DashboardReader reader, DashboardActions actions) : PageModel
{
    public RepoModel Repo { get; private set; } = null!;

    /// <summary>The signed-in person, or null.</summary>
    public DashboardRole? Who { get; private set; }

    public bool MayAct => Who?.MayActOn(Repo.Repo) == true;

    /// <summary>What the last action did, or why it was refused (shown once).</summary>
    [TempData]
    public string? Notice { get; set; }

    public async Task<IActionResult> OnGetAsync(string owner, string repo, CancellationToken ct)
    {
        var id = new RepoId(owner, repo);
        if (!(await reader.RepositoriesAsync(ct)).Contains(id)) return NotFound();
        Repo = await reader.RepositoryAsync(id, ct);
        Who = await actions.WhoAsync(User, ct);
        return Page();
    }

    public Task<IActionResult> OnPostFreezeAsync(string owner, string repo, string target, string? reason, CancellationToken ct) =>
        ActAsync(who => actions.FreezeAsync(who, new RepoId(owner, repo), target, reason, ct), ct);

    public Task<IActionResult> OnPostUnfreezeAsync(string owner, string repo, string target, CancellationToken ct) =>
        ActAsync(who => actions.UnfreezeAsync(who, new RepoId(owner, repo), target, ct), ct);

    private async Task<IActionResult> ActAsync(Func<DashboardRole, Task<FlowResult>> action, CancellationToken ct)
    {
        var who = await actions.WhoAsync(User, ct);
        if (who is null) return await DashboardActions.NotSignedInAsync(HttpContext);
        Notice = DashboardActions.Notice(await action(who));
        return RedirectToPage();
    }
}
