using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Api;

/// <summary>
/// Everything every REST call goes through, in GitHub's order: injected faults, authentication,
/// rate-limit headers, GitHub-shaped errors and the call log. Control API calls (/_sim/) only get
/// the error mapping: faults and the log are about the REST API.
/// </summary>
public sealed class ApiMiddleware(RequestDelegate next, GitHubEngine engine, ApiFaultInjector faults, ApiCallLog log)
{
    public const string UserKey = "sim.user";
    /// <summary>The App a request's JWT speaks for (only on the endpoints that take one).</summary>
    public const string AppKey = "sim.app";
    /// <summary>The installation and token of a request made with an installation token.</summary>
    public const string InstallationKey = "sim.installation";

    public async Task InvokeAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "/";
        // The OAuth and App manifest web flows are GitHub's web site, not its API: no token, no rate limit, no API log.
        // A manifest conversion is an API call, but one GitHub takes without authentication (the code is the credential).
        // Codeload (tarball downloads) is another host at GitHub, authorized by the token in its URL.
        if (path.StartsWith("/_sim", StringComparison.Ordinal) || path.StartsWith("/login/oauth/", StringComparison.Ordinal) || IsManifestFlow(path)
            || path.StartsWith(RepoEndpoints.CodeloadPath, StringComparison.Ordinal))
        {
            await GuardAsync(ctx, () => next(ctx));
            return;
        }

        var started = engine.Now;
        var sw = Stopwatch.StartNew();
        SimUser? user = null;
        string? faultKind = null;
        try
        {
            var fault = faults.Next(ctx.Request.Method, path);
            faultKind = fault?.Kind;
            if (fault is { Kind: "latency" }) await Task.Delay(fault.LatencyMs, ctx.RequestAborted);
            else if (fault is not null)
            {
                await WriteFaultAsync(ctx, fault);
                return;
            }

            await GuardAsync(ctx, async () =>
            {
                user = Authenticate(ctx, path);
                var (limit, remaining, reset, used) = log.Count(user.Login);
                var h = ctx.Response.Headers;
                h["x-ratelimit-limit"] = limit.ToString(CultureInfo.InvariantCulture);
                h["x-ratelimit-remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
                h["x-ratelimit-reset"] = reset.ToString(CultureInfo.InvariantCulture);
                h["x-ratelimit-used"] = used.ToString(CultureInfo.InvariantCulture);
                h["x-ratelimit-resource"] = "core";
                h["x-github-api-version-selected"] = "2022-11-28";
                h["x-github-request-id"] = Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
                ctx.Items[UserKey] = user;
                await next(ctx);
            });
        }
        finally
        {
            log.Record(ctx.Request.Method, path, ctx.Request.QueryString.HasValue ? ctx.Request.QueryString.Value : null,
                ctx.Response.StatusCode, user?.Login, started, sw.Elapsed.TotalMilliseconds, faultKind);
        }
    }

    private SimUser Authenticate(HttpContext ctx, string path)
    {
        var token = Token(ctx) ?? throw new SimulatorError(401, "Bad credentials");
        if (GitHubEngine.LooksLikeJwt(token))
        {
            // A JWT reaches only the App's own endpoints; everything else takes an installation token.
            var app = engine.AuthenticateAppJwt(token);
            if (!TakesJwt(path)) throw SimulatorError.Forbidden();
            ctx.Items[AppKey] = app;
            return app.Bot;
        }
        if (engine.InstallationOfToken(token) is { } installation)
        {
            if (TakesJwt(path)) throw new SimulatorError(401, GitHubEngine.JwtUndecodable);
            // An installation token sees its installation's repositories only; others do not exist for it.
            if (RepoOf(path) is { } repo && !installation.Repositories.Contains(repo)) throw SimulatorError.NotFound();
            if (path is "/user") throw SimulatorError.Forbidden();
            ctx.Items[InstallationKey] = (installation, token);
            return installation.App.Bot;
        }
        return engine.UserByToken(token) ?? throw new SimulatorError(401, "Bad credentials");
    }

    private static bool IsManifestFlow(string path) =>
        path.StartsWith("/app-manifests/", StringComparison.Ordinal) || path == "/settings/apps/new"
        || (path.StartsWith("/organizations/", StringComparison.Ordinal) && path.EndsWith("/settings/apps/new", StringComparison.Ordinal));

    /// <summary><c>/app/...</c> and <c>/repos/{o}/{r}/installation</c>: GitHub wants the App's JWT there.</summary>
    internal static bool TakesJwt(string path) =>
        path == "/app" || path.StartsWith("/app/", StringComparison.Ordinal)
        || (RepoOf(path) is not null && path.Split('/') is { Length: 5 } s && s[4] == "installation");

    /// <summary>owner/name of a /repos/{owner}/{repo}/... path.</summary>
    private static string? RepoOf(string path)
    {
        var s = path.Split('/');
        return s.Length >= 4 && s[1] == "repos" && s[2].Length > 0 && s[3].Length > 0
            ? $"{Uri.UnescapeDataString(s[2])}/{Uri.UnescapeDataString(s[3])}"
            : null;
    }

    private static string? Token(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(header)) throw new SimulatorError(401, "Requires authentication");
        string? token = null;
        var space = header.IndexOf(' ');
        var scheme = space < 0 ? header : header[..space];
        var value = space < 0 ? "" : header[(space + 1)..].Trim();
        if (scheme.Equals("token", StringComparison.OrdinalIgnoreCase) || scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)) token = value;
        else if (scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            // Octokit sends "Basic login:token" when credentials are a login and a token.
            try
            {
                var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value));
                token = decoded[(decoded.IndexOf(':') + 1)..];
            }
            catch (FormatException)
            {
            }
        }
        return token;
    }

    /// <summary>Turns refusals into GitHub's error bodies; anything unforeseen into a 500 that the log remembers.</summary>
    private async Task GuardAsync(HttpContext ctx, Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (SimulatorError e)
        {
            await WriteErrorAsync(ctx, e.Status, e.ToJson());
        }
        catch (BadHttpRequestException e)
        {
            await WriteErrorAsync(ctx, 400, new SimulatorError(400, "Problems parsing JSON: " + e.Message).ToJson());
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            log.RecordUnexpected($"{ctx.Request.Method} {ctx.Request.Path}: {e}");
            await WriteErrorAsync(ctx, 500, new SimulatorError(500, "Server Error").ToJson());
        }
    }

    private static async Task WriteErrorAsync(HttpContext ctx, int status, JsonObject body)
    {
        if (ctx.Response.HasStarted) return;
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        await ctx.Response.WriteAsync(body.ToJsonString());
    }

    private static async Task WriteFaultAsync(HttpContext ctx, ApiFault fault)
    {
        var retryAfter = fault.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        const string secondary = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.";
        const string secondaryDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
        switch (fault.Kind)
        {
            case "secondary_rate_limit":
                ctx.Response.Headers["retry-after"] = retryAfter;
                await WriteErrorAsync(ctx, 403, new SimulatorError(403, secondary, documentationUrl: secondaryDocs).ToJson());
                break;
            case "rate_limit":
                ctx.Response.Headers["retry-after"] = retryAfter;
                await WriteErrorAsync(ctx, 429, new SimulatorError(429, secondary, documentationUrl: secondaryDocs).ToJson());
                break;
            case "bad_gateway":
                await WriteErrorAsync(ctx, 502, new SimulatorError(502, "Server Error").ToJson());
                break;
            case "unavailable":
                await WriteErrorAsync(ctx, 503, new SimulatorError(503, "Service Unavailable").ToJson());
                break;
            default:
                await WriteErrorAsync(ctx, 500, new SimulatorError(500, "Server Error").ToJson());
                break;
        }
    }
}
