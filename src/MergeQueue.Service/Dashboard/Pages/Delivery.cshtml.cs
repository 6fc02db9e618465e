using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>One webhook delivery: its payload, how handling ended, and everything it caused.</summary>
public sealed class DeliveryModelPage(DashboardReader reader) : PageModel
{
    public DeliveryModel Delivery { get; private set; } = null!;
    public string Payload { get; private set; } = "";

    public async Task<IActionResult> OnGetAsync(string id, CancellationToken ct)
    {
        var model = await reader.DeliveryAsync(id, ct);
        if (model is null) return NotFound();
        Delivery = model;
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
