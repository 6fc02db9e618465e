using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using MergeQueue.Service.Api;
using MergeQueue.Service.Dashboard;
using MergeQueue.Service.SignIn;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Setup;

/// <summary>
/// One-click setup (docs/github-app.md): <c>GET /setup</c> posts an App manifest to GitHub's
/// <c>/settings/apps/new</c>; GitHub creates the App and sends the browser back to
/// <c>/setup/callback?code=…</c>, where the code is converted (<c>POST /app-manifests/{code}/conversions</c>)
/// into the App's id, key, webhook secret and OAuth client, stored by <see cref="SetupSettings"/>; the
/// settings are reloaded and the GitHub adapter rebuilt, so the service runs as the App at once.
/// Open to anyone while the service has no GitHub credentials, to admins afterwards.
/// </summary>
public static class SetupEndpoints
{
    public const string HttpClientName = "github-setup";
    private const string StateCookie = "mq_setup_state";
    private const string StatePurpose = "MergeQueue.Setup.State";

    /// <summary>What the queue needs of a repository (docs/github-app.md, "Create the App").</summary>
    public static readonly IReadOnlyDictionary<string, string> Permissions = new Dictionary<string, string>
    {
        ["contents"] = "write",
        ["pull_requests"] = "write",
        ["issues"] = "write",
        ["statuses"] = "write",
        ["checks"] = "write",
        ["metadata"] = "read",
    };

    public static readonly IReadOnlyList<string> Events = ["push", "pull_request", "pull_request_review", "issue_comment", "status", "check_run", "check_suite"];

    private static readonly string[] SetupModePaths = ["/setup", "/healthz", "/metrics"];

    /// <summary>In setup mode everything but /setup, /healthz and /metrics answers 503 with where to go.</summary>
    public static WebApplication UseSetupMode(this WebApplication app)
    {
        app.Use(async (http, next) =>
        {
            var path = http.Request.Path.Value ?? "/";
            if (SetupModePaths.Any(p => path == p || path.StartsWith(p + "/", StringComparison.Ordinal))
                || http.RequestServices.GetRequiredService<GitHubConnection>().IsConfigured)
            {
                await next(http);
                return;
            }
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            http.Response.ContentType = "text/plain; charset=utf-8";
            await http.Response.WriteAsync("MergeQueue is not set up yet: no GitHub credentials are configured. Open /setup to create its GitHub App.\n", http.RequestAborted);
        });
        return app;
    }

    public static WebApplication MapSetup(this WebApplication app)
    {
        app.MapGet("/setup", StartAsync).ExcludeFromDescription();
        app.MapGet("/setup/callback", CallbackAsync).ExcludeFromDescription();
        return app;
    }

    public static IServiceCollection AddSetup(this IServiceCollection services)
    {
        // The conversion's URL holds the one-time code: the client's own request logging stays off.
        services.AddHttpClient(HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30)).RemoveAllLoggers();
        return services;
    }

    /// <summary>Open while nothing is configured; afterwards for a signed-in admin or an admin API key.</summary>
    private static async Task<bool> AllowedAsync(HttpContext http, GitHubConnection connection, CancellationToken ct)
    {
        if (!connection.IsConfigured) return true;
        var services = http.RequestServices;
        if (await services.GetRequiredService<DashboardAccess>().IsAdminAsync(http.User, ct)) return true;
        var caller = await services.GetRequiredService<ApiKeyAuthenticator>().AuthenticateAsync(http.Request, ct);
        return caller is { IsAdmin: true };
    }

    private static string PublicRoot(HttpContext http, ServiceOptions options) =>
        (string.IsNullOrWhiteSpace(options.PublicUrl) ? $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}" : options.PublicUrl).TrimEnd('/');

    /// <summary>The manifest GitHub creates the App from (GitHub's "Registering a GitHub App from a manifest").</summary>
    public static JsonObject Manifest(string publicRoot, string name) => new()
    {
        ["name"] = name,
        ["url"] = publicRoot + "/",
        ["description"] = "MergeQueue: a merge queue that keeps the target branch green.",
        ["hook_attributes"] = new JsonObject { ["url"] = publicRoot + "/webhooks/github", ["active"] = true },
        ["redirect_url"] = publicRoot + "/setup/callback",
        ["callback_urls"] = new JsonArray(publicRoot + "/signin/callback"),
        ["public"] = false,
        ["default_permissions"] = new JsonObject(Permissions.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
        ["default_events"] = new JsonArray(Events.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()),
    };

    private static IResult Page(string title, string body, int status = StatusCodes.Status200OK) => Results.Content(
        $"<!doctype html><html><head><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(title)}</title></head><body><h1>{WebUtility.HtmlEncode(title)}</h1>{body}</body></html>",
        "text/html; charset=utf-8", statusCode: status);

    private static IResult Refused(string message, int status = StatusCodes.Status400BadRequest) =>
        Page("Setup refused", $"<p>{WebUtility.HtmlEncode(message)}</p><p><a href=\"/setup\">Start again</a></p>", status);

    private static async Task<IResult> StartAsync(HttpContext http, GitHubConnection connection, IOptionsMonitor<ServiceOptions> settings,
        IDataProtectionProvider protection, string? name, string? org, CancellationToken ct)
    {
        if (!await AllowedAsync(http, connection, ct))
            return Refused("the service is set up already: running setup again needs the admin role (sign in, or an admin API key).", StatusCodes.Status403Forbidden);
        var options = settings.CurrentValue;
        var state = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        http.Response.Cookies.Append(StateCookie, protection.CreateProtector(StatePurpose).Protect(state), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = http.Request.IsHttps,
            MaxAge = TimeSpan.FromHours(1),
            Path = "/setup",
        });
        var root = PublicRoot(http, options);
        var manifest = Manifest(root, string.IsNullOrWhiteSpace(name) ? "MergeQueue" : name.Trim()).ToJsonString();
        var target = string.IsNullOrWhiteSpace(org) ? "settings/apps/new" : $"organizations/{Uri.EscapeDataString(org.Trim())}/settings/apps/new";
        var action = new Uri(GitHubSignIn.WebRoot(options.GitHub), target) + "?state=" + state;
        var configured = connection.IsConfigured
            ? "<p><strong>This service is set up already</strong>: a new App replaces the one it uses now.</p>"
            : "";
        return Page("Set up MergeQueue", $"""
            {configured}
            <p>MergeQueue creates its own GitHub App: GitHub shows you the App (name, permissions, events) and creates it when you confirm.
            It then sends you back here, and the service stores the App's key and secrets and uses the App at once.</p>
            <p>Webhooks will go to <code>{WebUtility.HtmlEncode(root)}/webhooks/github</code>: GitHub must be able to reach that address
            (set <code>MergeQueue:PublicUrl</code> if not).</p>
            <form id="manifest" method="post" action="{WebUtility.HtmlEncode(action)}">
            <input type="hidden" name="manifest" value="{WebUtility.HtmlEncode(manifest)}">
            <button type="submit">Create the GitHub App{(string.IsNullOrWhiteSpace(org) ? "" : " for " + WebUtility.HtmlEncode(org))}</button>
            </form>
            <p>For an organization's App: <code>/setup?org=&lt;organization&gt;</code>; another name: <code>/setup?name=…</code>.</p>
            """);
    }

    private static async Task<IResult> CallbackAsync(HttpContext http, GitHubConnection connection, IOptionsMonitor<ServiceOptions> settings,
        IDataProtectionProvider protection, IHttpClientFactory clients, SetupSettings store, IConfiguration configuration, ILoggerFactory loggers, CancellationToken ct)
    {
        var log = loggers.CreateLogger("MergeQueue.Setup");
        var cookie = http.Request.Cookies[StateCookie];
        http.Response.Cookies.Delete(StateCookie, new CookieOptions { Path = "/setup" });
        string? expected = null;
        try
        {
            if (cookie is not null) expected = protection.CreateProtector(StatePurpose).Unprotect(cookie);
        }
        catch (CryptographicException)
        {
            expected = null;
        }
        var state = http.Request.Query["state"].ToString();
        if (expected is null || state.Length == 0
            || !CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(expected), System.Text.Encoding.UTF8.GetBytes(state)))
        {
            log.LogWarning("Setup callback refused: state missing or not the one this browser was given");
            return Refused("the state parameter does not match the one this browser was sent to GitHub with (a forged, replayed or expired setup).");
        }
        var code = http.Request.Query["code"].ToString();
        if (code.Length == 0) return Refused("GitHub sent no code.");

        var options = settings.CurrentValue;
        var conversion = new Uri(new Uri(options.GitHub.ApiUrl.TrimEnd('/') + "/"), $"app-manifests/{Uri.EscapeDataString(code)}/conversions");
        SetupSettings.CreatedApp created;
        using (var request = new HttpRequestMessage(HttpMethod.Post, conversion))
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("MergeQueue", "1.0"));
            request.Headers.Add("X-GitHub-Api-Version", "2022-11-28");
            using var response = await clients.CreateClient(HttpClientName).SendAsync(request, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                log.LogWarning("Setup failed: GitHub answered {Status} to the manifest conversion", (int)response.StatusCode);
                return Refused($"GitHub answered {(int)response.StatusCode} to the conversion of the code (codes work once and expire after an hour).", StatusCodes.Status502BadGateway);
            }
            try
            {
                var answer = JsonDocument.Parse(body).RootElement;
                string Text(string property) => answer.GetProperty(property).GetString() ?? throw new KeyNotFoundException(property);
                created = new SetupSettings.CreatedApp(answer.GetProperty("id").GetInt64(), Text("slug"), Text("html_url"), Text("pem"),
                    Text("webhook_secret"), Text("client_id"), Text("client_secret"));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                log.LogWarning("Setup failed: GitHub's conversion answer lacked a field ({Error})", e.Message);
                return Refused("GitHub's answer to the conversion was not a complete App.", StatusCodes.Status502BadGateway);
            }
        }

        var keyPath = store.Store(created);
        ((IConfigurationRoot)configuration).Reload();
        var github = connection.Reconnect();
        log.LogInformation("Setup: GitHub App {Slug} ({AppId}) created; settings written to {SettingsFile}, its key to {KeyFile}",
            created.Slug, created.Id, store.File, keyPath);
        string? login = null;
        try
        {
            login = github is null ? null : await github.GetOwnLoginAsync(ct);
            log.LogInformation("GitHub App authentication: acting as {Login}", login);
        }
        catch (Exception e) when (e is Octokit.ApiException or HttpRequestException or TaskCanceledException or InvalidOperationException)
        {
            log.LogWarning("GitHub did not answer who GitHub App {AppId} is ({Error})", created.Id, e.Message);
        }
        var install = created.HtmlUrl.TrimEnd('/') + "/installations/new";
        return Page("MergeQueue is set up", $"""
            <p>GitHub App <strong>{WebUtility.HtmlEncode(created.Slug)}</strong> (id {created.Id}) was created{(login is null ? "" : ", and the service acts as " + WebUtility.HtmlEncode(login))}.</p>
            <p>Its key is in <code>{WebUtility.HtmlEncode(keyPath)}</code> and its settings in <code>{WebUtility.HtmlEncode(store.File)}</code> (both readable by the service's user only).</p>
            <p>Next: <a href="{WebUtility.HtmlEncode(install)}">install the App</a> on the repositories to manage, and add <code>.github/mergequeue.yml</code> to each.
            Dashboard sign-in with GitHub uses the App's OAuth client after the next restart.</p>
            <p><a href="/">Dashboard</a></p>
            """);
    }
}
