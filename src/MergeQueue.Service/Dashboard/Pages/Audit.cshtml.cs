using MergeQueue.Core;
using MergeQueue.Data;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>
/// Audit log <c>/audit</c>: event log rows filtered by repository, PR, type, actor, cause and time,
/// each linked to its cause; the latest deliveries, each linked to everything it caused.
/// </summary>
public sealed class AuditModel(DashboardQueries queries, DashboardReader reader, DashboardAccess access) : PageModel
{
    [BindProperty(SupportsGet = true)] public string? Repo { get; set; }
    [BindProperty(SupportsGet = true)] public int? Pr { get; set; }
    /// <summary>"transition", "github", or a state a transition went to ("transition:Merged").</summary>
    [BindProperty(SupportsGet = true)] public string? Type { get; set; }
    [BindProperty(SupportsGet = true)] public string? Actor { get; set; }
    [BindProperty(SupportsGet = true)] public string? CauseKind { get; set; }
    [BindProperty(SupportsGet = true)] public string? CauseId { get; set; }
    [BindProperty(SupportsGet = true)] public string? From { get; set; }
    [BindProperty(SupportsGet = true)] public string? To { get; set; }
    [BindProperty(SupportsGet = true)] public long? Before { get; set; }

    public IReadOnlyList<EventLogRecord> Events { get; private set; } = [];
    public IReadOnlyList<WebhookDelivery> Deliveries { get; private set; } = [];
    public IReadOnlyList<RepoId> Repositories { get; private set; } = [];
    public string? Error { get; private set; }
    public const int PageSize = 200;

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        if (!DashboardReader.TryParseTime(From, out var from, out var bad) || !DashboardReader.TryParseTime(To, out var to, out bad))
            return BadRequest(bad);
        Repositories = await access.ReadableAsync(User, await reader.RepositoriesAsync(ct), ct);
        RepoId? repo = null;
        if (!string.IsNullOrWhiteSpace(Repo))
        {
            try { repo = RepoId.Parse(Repo.Trim()); }
            catch (FormatException e) { Error = e.Message; }
        }
        var (kind, toState) = Type switch
        {
            null or "" => ((string?)null, (string?)null),
            var t when t.StartsWith("transition:", StringComparison.Ordinal) => ("transition", t["transition:".Length..]),
            var t => (t, null),
        };
        var filter = new AuditFilter
        {
            Repo = repo,
            PullRequest = Pr,
            Kind = kind,
            ToState = toState,
            Actor = string.IsNullOrWhiteSpace(Actor) ? null : Actor.Trim(),
            CauseKind = string.IsNullOrWhiteSpace(CauseKind) ? null : CauseKind,
            CauseId = string.IsNullOrWhiteSpace(CauseId) ? null : CauseId,
            From = from,
            To = to,
            Before = Before,
            Limit = PageSize,
        };
        Events = await queries.SearchEventsAsync(filter, ct);
        Deliveries = await queries.RecentDeliveriesAsync(repo, 30, ct);
        return Page();
    }

    /// <summary>The same filter on the next (older) page.</summary>
    public string OlderLink(long before)
    {
        var query = Request.Query.Where(q => q.Key != "before").Select(q => $"{q.Key}={Uri.EscapeDataString(q.Value.ToString())}").Append($"before={before}");
        return "/audit?" + string.Join("&", query);
    }
}
