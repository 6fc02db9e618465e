using MergeQueue.Core.Runner;
using MergeQueue.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>
/// A built-in runner job (CONTRACT §2 <c>GET /runs/{id}</c>, the <c>target_url</c> of its status): what it
/// ran on, how it stands, and every try's log; <c>/runs/{id}/log</c> is the log so far as plain text.
/// Readable by whoever may read the job's repository.
/// </summary>
public sealed class RunModelPage(RunnerJobStore store, DashboardAccess access) : PageModel
{
    public RunnerJob Job { get; private set; } = null!;
    public IReadOnlyList<(int Try, string Text)> Tries { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(long id, string? part, CancellationToken ct)
    {
        if (part is not (null or "log")) return NotFound();
        var job = await store.GetAsync(id, ct);
        if (job is null) return NotFound();
        if (!await access.MayReadAsync(User, job.Repo, ct)) return DashboardAccess.Refused(User, $"run {id}");
        var log = await store.LogAsync(id, ct);
        if (part == "log")
            return Content(string.Concat(log.Select(c => c.Text)), "text/plain; charset=utf-8");
        Job = job;
        Tries = log.GroupBy(c => c.Try).OrderBy(g => g.Key).Select(g => (g.Key, string.Concat(g.Select(c => c.Text)))).ToList();
        return Page();
    }

    public string Duration => DashboardReader.JobDuration(Job);
}
