using System.Security.Cryptography;

namespace MergeQueue.Simulator.Engine;

/// <summary>A registered OAuth app: what GitHub knows of a "Sign in with GitHub" client.</summary>
public sealed record SimOAuthApp(string ClientId, string ClientSecret, string CallbackUrl);

/// <summary>Why an OAuth code exchange was refused, in GitHub's words (error, error_description).</summary>
public sealed class OAuthRefusal(string error, string description) : Exception(description)
{
    public string Error { get; } = error;
    public string Description { get; } = description;
}

public sealed partial class GitHubEngine
{
    private readonly Dictionary<string, SimOAuthApp> oauthApps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (SimOAuthApp App, SimUser User, string? RedirectUri, DateTimeOffset Expires)> oauthCodes = new(StringComparer.Ordinal);
    private string? browserLogin;

    /// <summary>GitHub's codes expire after ten minutes.</summary>
    public static readonly TimeSpan OAuthCodeLifetime = TimeSpan.FromMinutes(10);

    public SimOAuthApp RegisterOAuthApp(SimOAuthApp app)
    {
        if (string.IsNullOrWhiteSpace(app.ClientId) || string.IsNullOrWhiteSpace(app.ClientSecret) || !Uri.TryCreate(app.CallbackUrl, UriKind.Absolute, out _))
            throw SimulatorError.Validation("client id, client secret and an absolute callback URL are required", "OAuthApp", "client_id");
        lock (Sync) oauthApps[app.ClientId] = app;
        return app;
    }

    public SimOAuthApp? FindOAuthApp(string? clientId)
    {
        if (clientId is null) return null;
        lock (Sync) return oauthApps.GetValueOrDefault(clientId);
    }

    /// <summary>
    /// The user "signed in at GitHub" in the browser; they approve every authorization request
    /// (null: nobody is signed in and authorize refuses).
    /// </summary>
    public string? BrowserLogin
    {
        get { lock (Sync) return browserLogin; }
        set
        {
            if (value is not null) GetUser(value);
            lock (Sync) browserLogin = value;
        }
    }

    /// <summary>The user approved the app: a one-time code to exchange for a token.</summary>
    public string IssueOAuthCode(SimOAuthApp app, SimUser user, string? redirectUri)
    {
        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));
        lock (Sync) oauthCodes[code] = (app, user, redirectUri, Now + OAuthCodeLifetime);
        return code;
    }

    /// <summary>Exchanges a code for a new token acting as the user who approved; a code works once.</summary>
    public (SimUser User, string Token) ExchangeOAuthCode(string? clientId, string? clientSecret, string? code, string? redirectUri)
    {
        lock (Sync)
        {
            var app = FindOAuthApp(clientId);
            if (app is null || !CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(app.ClientSecret), System.Text.Encoding.UTF8.GetBytes(clientSecret ?? "")))
                throw new OAuthRefusal("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.");
            if (code is null || !oauthCodes.TryGetValue(code, out var grant) || grant.App.ClientId != app.ClientId || grant.Expires < Now)
                throw new OAuthRefusal("bad_verification_code", "The code passed is incorrect or expired.");
            if (redirectUri is not null && !RedirectAllowed(app, redirectUri))
                throw new OAuthRefusal("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.");
            oauthCodes.Remove(code);
            var token = "gho_" + Guid.NewGuid().ToString("N");
            tokens[token] = grant.User;
            return (grant.User, token);
        }
    }

    /// <summary>GitHub accepts the callback URL or a path below it on the same host and port.</summary>
    public static bool RedirectAllowed(SimOAuthApp app, string redirectUri)
    {
        if (!Uri.TryCreate(redirectUri, UriKind.Absolute, out var redirect)) return false;
        var callback = new Uri(app.CallbackUrl);
        return Uri.Compare(redirect, callback, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
            && redirect.AbsolutePath.StartsWith(callback.AbsolutePath, StringComparison.Ordinal);
    }
}
