using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator.Engine;

/// <summary>
/// GitHub's App manifest flow: the browser posts a manifest to /settings/apps/new, the user confirms
/// (the simulator confirms at once), GitHub redirects to the manifest's <c>redirect_url</c> with a
/// one-time <c>code</c>, and <c>POST /app-manifests/{code}/conversions</c> creates the App and answers
/// its key, webhook secret and OAuth client, once.
/// </summary>
public sealed partial class GitHubEngine
{
    /// <summary>GitHub's manifest codes expire after an hour.</summary>
    public static readonly TimeSpan ManifestCodeLifetime = TimeSpan.FromHours(1);

    private readonly Dictionary<string, (JsonObject Manifest, SimUser Owner, DateTimeOffset Expires)> manifestCodes = new(StringComparer.Ordinal);

    /// <summary>Validates a posted manifest and answers where the browser goes next (its redirect_url with the code and state).</summary>
    public string ConfirmManifest(string? manifestJson, string? state, string? organization)
    {
        JsonObject manifest;
        try
        {
            manifest = JsonNode.Parse(manifestJson ?? "") as JsonObject ?? throw SimulatorError.Validation("manifest must be a JSON object", "Integration", "manifest");
        }
        catch (System.Text.Json.JsonException)
        {
            throw SimulatorError.Validation("manifest is not valid JSON", "Integration", "manifest");
        }
        if (manifest["url"]?.GetValue<string>() is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out _))
            throw SimulatorError.Validation("url is required and must be an absolute URL", "Integration", "url");
        if (manifest["redirect_url"]?.GetValue<string>() is not { } redirect || !Uri.TryCreate(redirect, UriKind.Absolute, out _))
            throw SimulatorError.Validation("redirect_url is required for the manifest flow", "Integration", "redirect_url");
        var owner = organization is null ? (BrowserLogin is { } login ? GetUser(login) : GitHubUser) : FindUser(organization) ?? throw SimulatorError.NotFound();
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        lock (Sync) manifestCodes[code] = (manifest, owner, Now + ManifestCodeLifetime);
        var next = redirect + (redirect.Contains('?') ? "&" : "?") + "code=" + code;
        return state is { Length: > 0 } ? next + "&state=" + Uri.EscapeDataString(state) : next;
    }

    /// <summary>What a conversion hands out, once: the App and its secrets.</summary>
    public sealed record ManifestConversion(SimApp App, string Name, string Pem, string WebhookSecret, SimOAuthApp OAuth, JsonObject Manifest);

    /// <summary>Creates the App of a confirmed manifest (404 for an unknown, used or expired code, as GitHub).</summary>
    public ManifestConversion ConvertManifest(string code)
    {
        (JsonObject Manifest, SimUser Owner, DateTimeOffset Expires) grant;
        lock (Sync)
        {
            if (!manifestCodes.Remove(code, out grant) || grant.Expires < Now) throw SimulatorError.NotFound();
        }
        var manifest = grant.Manifest;
        var name = manifest["name"]?.GetValue<string>() is { Length: > 0 } n ? n : "app-" + code[..6];
        var slug = Slug(name);
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        var hook = manifest["hook_attributes"] is JsonObject h && h["active"]?.GetValue<bool>() != false ? h["url"]?.GetValue<string>() : null;
        var (app, pem) = RegisterApp(new AppRequest(slug, Owner: grant.Owner.Login));
        if (hook is not null)
        {
            // The App's webhook hears the events it subscribed to, and installation events always.
            var events = (manifest["default_events"] as JsonArray ?? []).Select(e => e!.GetValue<string>()).Concat(["installation", "installation_repositories"]).ToList();
            SetAppHook(app.Id, new HookRequest(hook, secret, events));
        }
        var callback = (manifest["callback_urls"] as JsonArray)?.FirstOrDefault()?.GetValue<string>() ?? manifest["url"]!.GetValue<string>();
        var oauth = RegisterOAuthApp(new SimOAuthApp("Iv1." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20)), callback));
        return new ManifestConversion(app, name, pem!, secret, oauth, manifest);
    }

    /// <summary>GitHub's slug of an App name: lower case, runs of other characters as one dash.</summary>
    public static string Slug(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        var slug = string.Join('-', new string(chars).Split('-', StringSplitOptions.RemoveEmptyEntries));
        return slug.Length == 0 ? "app" : slug;
    }
}
