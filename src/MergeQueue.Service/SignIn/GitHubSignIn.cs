using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.SignIn;

/// <summary>
/// Dashboard sign-in with GitHub's OAuth web flow, by hand (plain HttpClient, cookie auth):
/// <c>/signin</c> sends the browser to GitHub's authorize page with a random <c>state</c> kept in a
/// protected cookie; <c>/signin/callback</c> checks the state, exchanges the code (with the client
/// secret) for a token, reads <c>GET /user</c> and signs the login in. The token is used once and
/// forgotten: the session holds only the login. Codes, tokens and the secret are never logged.
/// </summary>
public static class GitHubSignIn
{
    public const string Scheme = CookieAuthenticationDefaults.AuthenticationScheme;
    public const string SessionCookie = "mq_session";
    public const string StateCookie = "mq_signin";
    public const string HttpClientName = "github-oauth";
    private const string StatePurpose = "MergeQueue.SignIn.State";

    /// <summary>Sign-in exists when the OAuth app's client id and secret are both set.</summary>
    public static bool IsConfigured(ServiceOptions options) =>
        !string.IsNullOrWhiteSpace(options.GitHub.OAuthClientId) && !string.IsNullOrWhiteSpace(options.GitHub.OAuthClientSecret);

    /// <summary>Whether sign-in is configured by the settings in force now (a challenge can lead somewhere).</summary>
    public static bool CanSignIn(HttpContext http) =>
        IsConfigured(http.RequestServices.GetRequiredService<IOptionsMonitor<ServiceOptions>>().CurrentValue);

    /// <summary>
    /// GitHub's web root (where /login/oauth/ lives): <c>MergeQueue:GitHub:WebUrl</c> when set;
    /// https://github.com/ for api.github.com; otherwise the API URL's host root (GitHub Enterprise
    /// serves its API under /api/v3/ on the web host; the simulator serves both at its root).
    /// </summary>
    public static Uri WebRoot(ServiceOptions.GitHubOptions github)
    {
        if (!string.IsNullOrWhiteSpace(github.WebUrl)) return new Uri(github.WebUrl.TrimEnd('/') + "/");
        var api = new Uri(github.ApiUrl);
        if (api.Host.Equals("api.github.com", StringComparison.OrdinalIgnoreCase)) return new Uri("https://github.com/");
        return new Uri(api.GetLeftPart(UriPartial.Authority) + "/");
    }

    public static IServiceCollection AddGitHubSignIn(this IServiceCollection services, ServiceOptions options)
    {
        services.AddHttpClient(HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30));
        // The REST API registers the store too; whichever comes first is the one.
        services.TryAddSingleton(sp => new MergeQueue.Data.ApiKeyStore(sp.GetRequiredService<MergeQueue.Data.Database>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IDashboardRoles, ApiUserRoles>();
        if (string.IsNullOrWhiteSpace(options.GitHub.OAuthClientId) != string.IsNullOrWhiteSpace(options.GitHub.OAuthClientSecret))
            throw new InvalidOperationException("MergeQueue:GitHub:OAuthClientId and OAuthClientSecret go together: set both for dashboard sign-in, or neither.");
        // Registered even when sign-in is not configured yet: /setup can configure it without a restart.
        services.AddAuthentication(Scheme).AddCookie(Scheme, o =>
        {
            o.Cookie.Name = SessionCookie;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.LoginPath = "/signin";
            o.LogoutPath = "/signout";
            o.ReturnUrlParameter = "returnUrl";
            o.ExpireTimeSpan = TimeSpan.FromHours(12);
            o.SlidingExpiration = true;
        });
        services.AddAuthorization();
        return services;
    }

    /// <summary>Sign-in answers by the settings in force now: <c>/setup</c> may have just configured its OAuth client.</summary>
    public static WebApplication UseGitHubSignIn(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/signin", SignInAsync).ExcludeFromDescription();
        app.MapGet("/signin/callback", CallbackAsync).ExcludeFromDescription();
        app.MapPost("/signout", SignOutAsync).ExcludeFromDescription();
        return app;
    }

    private static string CallbackUrl(HttpContext http, ServiceOptions options)
    {
        // PublicUrl when the operator set one (behind a proxy); otherwise where the browser reached us.
        var root = string.IsNullOrWhiteSpace(options.PublicUrl) ? $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}" : options.PublicUrl;
        return root.TrimEnd('/') + "/signin/callback";
    }

    /// <summary>
    /// A path on this site, or "/". Control characters are refused outright: browsers drop tabs and
    /// line breaks from URLs, so <c>/\t/evil.example</c> would become <c>//evil.example</c>, another site.
    /// </summary>
    private static string LocalOnly(string? returnUrl) =>
        returnUrl is { Length: > 0 } && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal) && !returnUrl.StartsWith("/\\", StringComparison.Ordinal)
            && !returnUrl.Any(char.IsControl)
            ? returnUrl : "/";

    private static IResult NotConfigured() => Results.Text(
        "Sign-in is not configured: set MergeQueue:GitHub:OAuthClientId and MergeQueue:GitHub:OAuthClientSecret (docs/operations.md).\n",
        "text/plain", statusCode: StatusCodes.Status404NotFound);

    private static IResult SignInAsync(HttpContext http, IOptionsMonitor<ServiceOptions> settings, IDataProtectionProvider protection, string? returnUrl)
    {
        var options = settings.CurrentValue;
        if (!IsConfigured(options)) return NotConfigured();
        var state = Base64Url(RandomNumberGenerator.GetBytes(32));
        var protector = protection.CreateProtector(StatePurpose);
        http.Response.Cookies.Append(StateCookie, protector.Protect(state + "\n" + LocalOnly(returnUrl)), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = http.Request.IsHttps,
            MaxAge = TimeSpan.FromMinutes(10),
            Path = "/signin",
        });
        var authorize = new Uri(WebRoot(options.GitHub), "login/oauth/authorize").ToString();
        var url = Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(authorize, new Dictionary<string, string?>
        {
            ["client_id"] = options.GitHub.OAuthClientId,
            ["redirect_uri"] = CallbackUrl(http, options),
            ["state"] = state,
            ["allow_signup"] = "false",
        });
        return Results.Redirect(url);
    }

    private static IResult Refused(string message, int status = StatusCodes.Status400BadRequest) =>
        Results.Text($"Sign-in refused: {message}\nStart again at /signin.\n", "text/plain; charset=utf-8", statusCode: status);

    private static async Task<IResult> CallbackAsync(HttpContext http, IOptionsMonitor<ServiceOptions> settings, IDataProtectionProvider protection,
        IHttpClientFactory clients, IDashboardRoles roles, ILoggerFactory loggers, CancellationToken ct)
    {
        var options = settings.CurrentValue;
        if (!IsConfigured(options)) return NotConfigured();
        var log = loggers.CreateLogger("MergeQueue.SignIn");
        var query = http.Request.Query;
        var cookie = http.Request.Cookies[StateCookie];
        http.Response.Cookies.Delete(StateCookie, new CookieOptions { Path = "/signin" });

        string? expected = null, returnUrl = "/";
        if (cookie is not null)
        {
            try
            {
                var parts = protection.CreateProtector(StatePurpose).Unprotect(cookie).Split('\n', 2);
                (expected, returnUrl) = (parts[0], parts.Length > 1 ? parts[1] : "/");
            }
            catch (CryptographicException)
            {
                expected = null;
            }
        }
        var state = query["state"].ToString();
        if (expected is null || state.Length == 0
            || !CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(expected), System.Text.Encoding.UTF8.GetBytes(state)))
        {
            log.LogWarning("Sign-in refused: state missing or not the one this browser was given");
            return Refused("the state parameter does not match the one this browser was sent to GitHub with (a forged, replayed or expired sign-in).");
        }
        if (query["error"].ToString() is { Length: > 0 } error)
            return Refused($"GitHub answered {error}: {query["error_description"]}");
        var code = query["code"].ToString();
        if (code.Length == 0) return Refused("GitHub sent no code.");

        var http1 = clients.CreateClient(HttpClientName);
        string? token;
        using (var exchange = new HttpRequestMessage(HttpMethod.Post, new Uri(WebRoot(options.GitHub), "login/oauth/access_token"))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["client_id"] = options.GitHub.OAuthClientId!,
                ["client_secret"] = options.GitHub.OAuthClientSecret!,
                ["code"] = code,
                ["redirect_uri"] = CallbackUrl(http, options),
            }),
        })
        {
            exchange.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await http1.SendAsync(exchange, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            var answer = TryParse(body);
            if (answer is null || !response.IsSuccessStatusCode)
            {
                log.LogWarning("Sign-in failed: GitHub's token endpoint answered {Status}", (int)response.StatusCode);
                return Refused($"GitHub's token endpoint answered {(int)response.StatusCode}.", StatusCodes.Status502BadGateway);
            }
            if (answer.Value.TryGetProperty("error", out var refusal))
            {
                var description = answer.Value.TryGetProperty("error_description", out var d) ? d.GetString() : null;
                log.LogWarning("Sign-in refused by GitHub: {Error}", refusal.GetString());
                return Refused($"GitHub refused the code exchange: {refusal.GetString()}{(description is null ? "" : ": " + description)}", StatusCodes.Status401Unauthorized);
            }
            token = answer.Value.TryGetProperty("access_token", out var t) ? t.GetString() : null;
            if (string.IsNullOrEmpty(token)) return Refused("GitHub's answer held no access token.", StatusCodes.Status502BadGateway);
        }

        string? login;
        using (var user = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(options.GitHub.ApiUrl.TrimEnd('/') + "/"), "user")))
        {
            user.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            user.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
            user.Headers.UserAgent.ParseAdd("MergeQueue");
            using var response = await http1.SendAsync(user, ct);
            var answer = TryParse(await response.Content.ReadAsStringAsync(ct));
            login = response.IsSuccessStatusCode && answer is { } a && a.TryGetProperty("login", out var l) ? l.GetString() : null;
            if (login is null)
            {
                log.LogWarning("Sign-in failed: GET /user answered {Status}", (int)response.StatusCode);
                return Refused($"GitHub did not say who you are (GET /user answered {(int)response.StatusCode}).", StatusCodes.Status502BadGateway);
            }
        }

        var role = await roles.FindAsync(login, ct);
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, login), new Claim(ClaimTypes.Role, role.Role)], Scheme);
        await http.SignInAsync(Scheme, new ClaimsPrincipal(identity));
        log.LogInformation("{Login} signed in to the dashboard as {Role}", login, role.Role);
        return Results.Redirect(LocalOnly(returnUrl));
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, Microsoft.AspNetCore.Antiforgery.IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
            return Results.Text("Sign-out refused: the form's antiforgery token is missing or wrong.\n", "text/plain", statusCode: StatusCodes.Status400BadRequest);
        await http.SignOutAsync(Scheme);
        return Results.Redirect("/");
    }

    private static JsonElement? TryParse(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.ValueKind == JsonValueKind.Object ? doc.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
