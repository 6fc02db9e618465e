using MergeQueue.Core;
using MergeQueue.Core.Flows;
using MergeQueue.Service.SignIn;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>Pull request page: timeline of state changes with causes and effects, its attempts, why it is not merging; cancel, retry and priority for those allowed.</summary>
public sealed class PullModelPage(DashboardReader reader, DashboardActions actions) : PageModel
{
    public PullModel Pull { get; private set; } = null!;

    /// <summary>The signed-in person, or null.</summary>
    public DashboardRole? Who { get; private set; }

    public bool MayAct => Who?.MayActOn(Pull.Repo) == true;

    /// <summary>What the last action did, or why it was refused (shown once).</summary>
    [TempData]
    public string? Notice { get; set; }

    public async Task<IActionResult> OnGetAsync(string owner, string repo, int number, CancellationToken ct)
    {
        Pull = await reader.PullRequestAsync(new RepoId(owner, repo), number, ct);
        if (Pull.Requests.Count == 0 && Pull.Timeline.Count == 0) return NotFound();
        Who = await actions.WhoAsync(User, ct);
        return Page();
    }

    public Task<IActionResult> OnPostCancelAsync(string owner, string repo, int number, CancellationToken ct) =>
        ActAsync(who => actions.CancelAsync(who, new RepoId(owner, repo), number, ct), ct);

    public Task<IActionResult> OnPostRetryAsync(string owner, string repo, int number, CancellationToken ct) =>
        ActAsync(who => actions.RetryAsync(who, new RepoId(owner, repo), number, ct), ct);

    public Task<IActionResult> OnPostPriorityAsync(string owner, string repo, int number, int? priority, CancellationToken ct) =>
        ActAsync(who => priority is { } p
            ? actions.PriorityAsync(who, new RepoId(owner, repo), number, p, ct)
            : Task.FromResult(FlowResult.Refused("the priority must be a whole number")), ct);

    private async Task<IActionResult> ActAsync(Func<DashboardRole, Task<FlowResult>> action, CancellationToken ct)
    {
        var who = await actions.WhoAsync(User, ct);
        if (who is null) return await DashboardActions.NotSignedInAsync(HttpContext);
        Notice = DashboardActions.Notice(await action(who));
        return RedirectToPage();
    }
}
