using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Octokit;
using Octokit.Internal;

namespace MergeQueue.GitHub;

/// <summary>
/// GitHub App authentication. Every repository call (<c>/repos/{owner}/{repo}/...</c>) is sent with
/// the installation token of the installation that holds the repository: the installation is looked up
/// once (<c>GET /repos/{o}/{r}/installation</c>), its token minted
/// (<c>POST /app/installations/{id}/access_tokens</c>) and renewed before it expires; a 401 renews it
/// once and sends the call again. Anything else, and the App's own calls, carry the App's JWT (RS256,
/// <c>iat</c> 60 s in the past, <c>exp</c> 9 minutes ahead, <c>iss</c> the App id).
/// Tokens and JWTs are never logged.
/// </summary>
public sealed class GitHubApp : IHttpClient, ICredentialStore
{
    /// <summary>A token is renewed once a quarter of its life is left, and at the latest 5 minutes before it expires.</summary>
    private static readonly TimeSpan MaxRenewalMargin = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan JwtReuse = TimeSpan.FromMinutes(5);

    private readonly RSA _key;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IHttpClient _inner = new HttpClientAdapter(HttpMessageHandlerFactory.CreateDefault);
    private readonly GitHubClient _asApp;
    private readonly ConcurrentDictionary<string, long> _installations = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<long, (string Token, DateTimeOffset RenewAt)> _tokens = new();
    private readonly SemaphoreSlim _renewing = new(1, 1);
    private (string Jwt, DateTimeOffset MintedAt)? _jwt;
    private string? _botLogin;

    /// <summary>Reads the App's private key (PEM, PKCS#1 as GitHub hands it out, or PKCS#8).</summary>
    /// <exception cref="InvalidOperationException">The key file is missing or holds no RSA private key.</exception>
    public GitHubApp(Uri apiUrl, string appId, string privateKeyPath, TimeProvider time, ILogger logger)
    {
        AppId = appId;
        PrivateKeyPath = privateKeyPath;
        _time = time;
        _logger = logger;
        _key = RSA.Create();
        try
        {
            _key.ImportFromPem(File.ReadAllText(privateKeyPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or CryptographicException)
        {
            throw new InvalidOperationException(
                $"MergeQueue:GitHub:PrivateKeyPath: the private key of GitHub App {appId} could not be read from {privateKeyPath}: {e.Message} (expected the PEM file downloaded from the App's settings).", e);
        }
        _asApp = new GitHubClient(new ProductHeaderValue("MergeQueue"), this, apiUrl);
    }

    public string AppId { get; }
    public string PrivateKeyPath { get; }

    /// <summary>A client whose calls are authenticated by this App (installation tokens per repository).</summary>
    public GitHubClient CreateClient(TimeSpan requestTimeout)
    {
        var client = new GitHubClient(new Connection(new ProductHeaderValue("MergeQueue"), _asApp.Connection.BaseAddress,
            new InMemoryCredentialStore(Credentials.Anonymous), this, new SimpleJsonSerializer()));
        client.SetRequestTimeout(requestTimeout);
        return client;
    }

    /// <summary>The account the App acts as: <c>&lt;slug&gt;[bot]</c> (GET /app). Also proves the key belongs to the App.</summary>
    public async Task<string> GetBotLoginAsync(CancellationToken ct)
    {
        if (_botLogin is not null) return _botLogin;
        var app = await AsAppAsync(c => c.GitHubApps.GetCurrent(), ct).ConfigureAwait(false);
        return _botLogin = app.Slug + "[bot]";
    }

    // The App's own calls: a JWT, freshly signed every few minutes.
    Task<Credentials> ICredentialStore.GetCredentials() => Task.FromResult(new Credentials(Jwt(), AuthenticationType.Bearer));

    private string Jwt()
    {
        var now = _time.GetUtcNow();
        if (_jwt is { } cached && now - cached.MintedAt < JwtReuse) return cached.Jwt;
        var jwt = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = AppId,
            // 60 s in the past against clock drift, as GitHub recommends; exp within GitHub's 10 minutes.
            IssuedAt = now.UtcDateTime.AddSeconds(-60),
            NotBefore = now.UtcDateTime.AddSeconds(-60),
            Expires = now.UtcDateTime.AddMinutes(9),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(_key), SecurityAlgorithms.RsaSha256),
        });
        _jwt = (jwt, now);
        return jwt;
    }

    /// <summary>A call as the App; GitHub refusing the JWT means the key is not this App's: say so, naming both.</summary>
    private async Task<T> AsAppAsync<T>(Func<GitHubClient, Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call(_asApp).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (AuthorizationException e)
        {
            var message = $"MergeQueue:GitHub:PrivateKeyPath: GitHub refused the JWT of GitHub App {AppId} signed with the key in {PrivateKeyPath} "
                + $"(\"{e.Message}\"). Check that the file is a private key of App {AppId} (the App's settings, \"Private keys\"), "
                + "that MergeQueue:GitHub:AppId is that App's id, and that this machine's clock is right.";
            _logger.LogError("{Message}", message);
            throw new InvalidOperationException(message, e);
        }
    }

    public async Task<IResponse> Send(IRequest request, CancellationToken cancellationToken, Func<object, object>? preprocessResponseBody = null)
    {
        if (RepositoryOf(request) is not { } repo)
        {
            request.Headers["Authorization"] = "Bearer " + Jwt();
            return await _inner.Send(request, cancellationToken, preprocessResponseBody).ConfigureAwait(false);
        }
        var token = await TokenForAsync(repo, rejected: null, cancellationToken).ConfigureAwait(false);
        request.Headers["Authorization"] = "Bearer " + token;
        var response = await _inner.Send(request, cancellationToken, preprocessResponseBody).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized) return response;

        // Expired or revoked early, or the repository moved to another installation: renew once, send again.
        _logger.LogInformation("GitHub App {AppId}: the installation token for {Repo} was refused; renewing it once", AppId, repo);
        token = await TokenForAsync(repo, rejected: token, cancellationToken).ConfigureAwait(false);
        request.Headers["Authorization"] = "Bearer " + token;
        return await _inner.Send(request, cancellationToken, preprocessResponseBody).ConfigureAwait(false);
    }

    /// <summary>owner/name of a repository call, whether Octokit sends a relative endpoint or follows an absolute next-page link.</summary>
    private string? RepositoryOf(IRequest request)
    {
        var path = new Uri(request.BaseAddress ?? _asApp.Connection.BaseAddress, request.Endpoint).AbsolutePath;
        var basePath = _asApp.Connection.BaseAddress.AbsolutePath;
        if (path.StartsWith(basePath, StringComparison.Ordinal)) path = path[basePath.Length..];
        var s = path.TrimStart('/').Split('/');
        if (s.Length < 3 || s[0] != "repos" || s[1].Length == 0 || s[2].Length == 0) return null;
        // The installation lookup itself is the App's call.
        if (s.Length == 4 && s[3] == "installation") return null;
        return $"{Uri.UnescapeDataString(s[1])}/{Uri.UnescapeDataString(s[2])}";
    }

    /// <summary>The installation token for the repository; with <paramref name="rejected"/>, one that is not that one.</summary>
    private async Task<string> TokenForAsync(string repo, string? rejected, CancellationToken ct)
    {
        if (rejected is null && Cached(repo) is { } fresh) return fresh;
        await _renewing.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (rejected is not null && _installations.TryRemove(repo, out var old)
                && _tokens.TryGetValue(old, out var entry) && entry.Token == rejected)
                _tokens.TryRemove(old, out _);
            if (Cached(repo) is { } renewedMeanwhile) return renewedMeanwhile;

            if (!_installations.TryGetValue(repo, out var installation))
            {
                var parts = repo.Split('/');
                try
                {
                    installation = (await AsAppAsync(c => c.GitHubApps.GetRepositoryInstallationForCurrent(parts[0], parts[1]), ct).ConfigureAwait(false)).Id;
                }
                catch (NotFoundException)
                {
                    throw new NotFoundException($"GitHub App {AppId} is not installed on {repo}", HttpStatusCode.NotFound);
                }
                _installations[repo] = installation;
            }
            if (_tokens.TryGetValue(installation, out var current) && _time.GetUtcNow() < current.RenewAt) return current.Token;

            var created = await AsAppAsync(c => c.GitHubApps.CreateInstallationToken(installation), ct).ConfigureAwait(false);
            var now = _time.GetUtcNow();
            var life = created.ExpiresAt - now;
            var margin = life / 4 < MaxRenewalMargin ? life / 4 : MaxRenewalMargin;
            _tokens[installation] = (created.Token, created.ExpiresAt - margin);
            _logger.LogInformation("GitHub App {AppId}: new token for installation {Installation}, valid until {ExpiresAt:O}", AppId, installation, created.ExpiresAt);
            return created.Token;
        }
        finally
        {
            _renewing.Release();
        }
    }

    private string? Cached(string repo) =>
        _installations.TryGetValue(repo, out var installation) && _tokens.TryGetValue(installation, out var entry) && _time.GetUtcNow() < entry.RenewAt
            ? entry.Token
            : null;

    public void SetRequestTimeout(TimeSpan timeout) => _inner.SetRequestTimeout(timeout);

    public void Dispose()
    {
        _inner.Dispose();
        _renewing.Dispose();
        _key.Dispose();
    }
}
