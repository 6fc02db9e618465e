using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>One webhook delivery: how handling ended, everything it caused, and for admins its raw payload.</summary>
public sealed class DeliveryModelPage(DashboardReader reader, DashboardAccess access) : PageModel
{
    public DeliveryModel Delivery { get; private set; } = null!;

    /// <summary>The payload, indented; null for anyone but an admin (payloads hold whatever GitHub sent, private text included).</summary>
    public string? Payload { get; private set; }

    public async Task<IActionResult> OnGetAsync(string id, CancellationToken ct)
    {
        var model = await reader.DeliveryAsync(id, ct);
        if (model is null) return NotFound();
        var admin = await access.IsAdminAsync(User, ct);
        // Not public: the delivery's repository decides; one without a repository (ping) is for admins.
        if (!access.Public && !admin && (model.Delivery.Repo is not { } repo || !await access.MayReadAsync(User, repo, ct)))
            return DashboardAccess.Refused(User, $"delivery {id}");
        Delivery = model;
        if (!admin) return Page();
        try
        {
            using var doc = JsonDocument.Parse(model.Delivery.Payload);
            Payload = JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true });
        }
        catch (JsonException)
        {
            Payload = model.Delivery.Payload;
        }
        return Page();
    }
}
