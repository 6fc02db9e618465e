using MergeQueue.Data;
using MergeQueue.Service.SignIn;
using MergeQueue.Service.Webhooks;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>Dead deliveries (every handling try failed), newest first, each with its error; admins replay them.</summary>
public sealed class DeliveriesModel(WebhookInbox inbox, DeliveryProcessor processor, DashboardActions actions, DashboardAccess access, ILogger<DeliveriesModel> logger) : PageModel
{
    public const int Shown = 100;

    public IReadOnlyList<WebhookDelivery> Dead { get; private set; } = [];

    public bool IsAdmin { get; private set; }

    /// <summary>What the last replay did, or why it was refused (shown once).</summary>
    [TempData]
    public string? Notice { get; set; }

    public async Task OnGetAsync(CancellationToken ct)
    {
        IsAdmin = (await actions.WhoAsync(User, ct))?.Role == ApiRoles.Admin;
        var dead = await inbox.GetDeadAsync(Shown, ct);
        // Not public: only the deliveries of repositories this person may read (admins: all).
        var shown = new List<WebhookDelivery>();
        foreach (var d in dead)
            if (access.Public || IsAdmin || (d.Repo is { } repo && await access.MayReadAsync(User, repo, ct))) shown.Add(d);
        Dead = shown;
    }

    public async Task<IActionResult> OnPostReplayAsync(string id, CancellationToken ct)
    {
        var who = await actions.WhoAsync(User, ct);
        if (who is null) return await DashboardActions.NotSignedInAsync(HttpContext);
        if (who.Role != ApiRoles.Admin)
            Notice = $"Refused: {who.Login} has the {who.Role} role; replaying a delivery needs admin.";
        else if (await inbox.ReplayAsync(id, ct))
        {
            logger.LogInformation("Delivery {DeliveryId} replayed by {Actor} from the dashboard", id, who.Login);
            processor.Signal();
            Notice = $"Done: delivery {id} is queued again.";
        }
        else
            Notice = $"Refused: delivery {id} is unknown or did not fail.";
        return RedirectToPage();
    }
}
