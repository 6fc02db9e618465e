using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator.Engine;

/// <summary>
/// GitHub Apps as GitHub runs them: a JWT signed with the App's private key (RS256, <c>iss</c> the App
/// id, <c>exp</c> at most ten minutes ahead) reaches the <c>/app</c> endpoints; an installation on an
/// account exchanges it for <c>ghs_</c> tokens that act as <c>&lt;slug&gt;[bot]</c> on that
/// installation's repositories only, until they expire.
/// </summary>
public sealed partial class GitHubEngine
{
    // GitHub's own words for refused JWTs.
    public const string JwtUndecodable = "A JSON web token could not be decoded";
    public const string JwtExpired = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
    public const string JwtTooFarAhead = "'Expiration time' claim ('exp') is too far in the future";
    public const string JwtIssuedInFuture = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";

    private static readonly TimeSpan MaxJwtLifetime = TimeSpan.FromMinutes(10);

    private readonly Dictionary<long, SimApp> apps = [];
    private readonly Dictionary<long, SimInstallation> installations = [];
    private readonly Dictionary<string, (SimInstallation Installation, DateTimeOffset ExpiresAt)> installationTokens = new(StringComparer.Ordinal);

    /// <summary>Registers an App with the given public key, or a new key pair whose private half is returned (PKCS#1 PEM, as GitHub hands it out).</summary>
    public (SimApp App, string? PrivateKeyPem) RegisterApp(AppRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Slug) || request.Slug.Contains('/') || request.Slug.Contains('['))
            throw SimulatorError.Validation("Invalid slug", "Integration", "slug");
        var key = RSA.Create(2048);
        string? privateKey = null;
        if (request.PublicKeyPem is { } pem)
        {
            try
            {
                key.ImportFromPem(pem);
            }
            catch (ArgumentException)
            {
                throw SimulatorError.Validation("publicKeyPem is not a PEM RSA key", "Integration", "public_key");
            }
        }
        else privateKey = key.ExportRSAPrivateKeyPem();
        var owner = request.Owner is null ? GitHubUser : FindUser(request.Owner) ?? CreateUser(new CreateUserRequest(request.Owner));
        var id = request.Id ?? NextId();
        var hook = request.WebhookUrl is { } url
            ? new SimHook { Id = NextId(), Url = url, Secret = request.WebhookSecret, AppId = id, CreatedAt = Now }
            : null;
        if (hook is not null) ValidateHookUrl(hook.Url);
        lock (Sync)
        {
            var login = request.Slug + "[bot]";
            if (apps.ContainsKey(id) || users.ContainsKey(login)) throw SimulatorError.Validation("Name is already in use", "Integration", "name", "custom");
            // The bot has no token of its own: it acts only through installation tokens.
            var bot = new SimUser { Id = NextId(), Login = login, Type = "Bot", AppId = id };
            users[login] = bot;
            var app = new SimApp
            {
                Id = id,
                Slug = request.Slug,
                Owner = owner,
                Bot = bot,
                PublicKey = key,
                TokenLifetime = TimeSpan.FromSeconds(request.TokenLifetimeSeconds),
                Hook = hook,
                CreatedAt = Now,
            };
            apps[id] = app;
            if (hook is not null) globalHooks.Add(hook);
            return (app, privateKey);
        }
    }

    /// <summary>Points the App's webhook at a new URL (an App has one webhook).</summary>
    public SimHook SetAppHook(long appId, HookRequest request)
    {
        var app = GetApp(appId);
        ValidateHookUrl(request.Url);
        var hook = new SimHook { Id = NextId(), Url = request.Url, Secret = request.Secret, Events = request.Events?.ToList() ?? ["*"], AppId = appId, CreatedAt = Now };
        lock (Sync)
        {
            if (app.Hook is { } old) globalHooks.Remove(old);
            app.Hook = hook;
            globalHooks.Add(hook);
        }
        return hook;
    }

    public SimApp GetApp(long id)
    {
        lock (Sync) return apps.GetValueOrDefault(id) ?? throw SimulatorError.NotFound();
    }

    public IReadOnlyList<SimInstallation> Installations(SimApp app)
    {
        lock (Sync) return installations.Values.Where(i => i.App == app).OrderBy(i => i.Id).ToList();
    }

    /// <summary>The installation of <paramref name="app"/> with this id (404 for another App's, as on GitHub).</summary>
    public SimInstallation GetInstallation(SimApp? app, long id)
    {
        lock (Sync)
            return installations.GetValueOrDefault(id) is { } i && (app is null || i.App == app) ? i : throw SimulatorError.NotFound();
    }

    /// <summary>The installation of the App that reaches the repository, or null.</summary>
    public SimInstallation? InstallationFor(SimApp app, RepoHandle repo)
    {
        lock (Sync) return installations.Values.FirstOrDefault(i => i.App == app && i.Repositories.Contains(repo.FullName));
    }

    /// <summary>Installs the App on an account for some of its repositories; the App's webhook hears <c>installation.created</c>.</summary>
    public SimInstallation Install(long appId, InstallationRequest request)
    {
        var app = GetApp(appId);
        var account = FindUser(request.Account) ?? CreateUser(new CreateUserRequest(request.Account));
        var repositories = AccountRepos(account, request.Repositories ?? []);
        lock (Sync)
        {
            if (installations.Values.Any(i => i.App == app && i.Account == account))
                throw SimulatorError.Validation($"{app.Slug} is already installed on {account.Login}", "Installation", "account", "already_exists");
            var installation = new SimInstallation { Id = NextId(), App = app, Account = account, CreatedAt = Now, UpdatedAt = Now };
            installation.Repositories.UnionWith(repositories.Select(r => r.FullName));
            installations[installation.Id] = installation;
            EmitToApp(app, "installation", Json.InstallationEvent("created", installation, repositories.Select(r => r.Model), account));
            return installation;
        }
    }

    /// <summary>Adds or removes repositories; the App's webhook hears <c>installation_repositories.added</c> or <c>removed</c>.</summary>
    public SimInstallation ChangeInstallationRepositories(long id, IReadOnlyList<string> repositories, bool add)
    {
        var installation = GetInstallation(null, id);
        var handles = AccountRepos(installation.Account, repositories);
        lock (Sync)
        {
            var changed = handles.Where(r => add ? installation.Repositories.Add(r.FullName) : installation.Repositories.Remove(r.FullName)).Select(r => r.Model).ToList();
            if (changed.Count == 0) return installation;
            installation.UpdatedAt = Now;
            EmitToApp(installation.App, "installation_repositories",
                Json.InstallationRepositoriesEvent(add ? "added" : "removed", installation, add ? changed : [], add ? [] : changed, installation.Account));
            return installation;
        }
    }

    /// <summary>Uninstalls: its tokens stop working and the App's webhook hears <c>installation.deleted</c>.</summary>
    public void Uninstall(long id)
    {
        var installation = GetInstallation(null, id);
        lock (Sync)
        {
            installations.Remove(id);
            RevokeTokens(installation);
            EmitToApp(installation.App, "installation", Json.InstallationEvent("deleted", installation, RepositoriesOf(installation), installation.Account));
        }
    }

    public IReadOnlyList<SimRepository> RepositoriesOf(SimInstallation installation)
    {
        lock (Sync) return installation.Repositories.Select(r => repos.GetValueOrDefault(r)?.Model).OfType<SimRepository>().OrderBy(r => r.Id).ToList();
    }

    private List<RepoHandle> AccountRepos(SimUser account, IReadOnlyList<string> names) =>
        names.Select(name =>
        {
            var full = name.Contains('/') ? name : $"{account.Login}/{name}";
            var slash = full.IndexOf('/');
            var repo = FindRepo(full[..slash], full[(slash + 1)..]) ?? throw SimulatorError.Validation($"No repository {full}", "Installation", "repositories");
            if (repo.Model.Owner != account)
                throw SimulatorError.Validation($"{full} does not belong to {account.Login}", "Installation", "repositories");
            return repo;
        }).ToList();

    /// <summary>Queues an App-level event (no repository) for the App's webhook. Call under <see cref="Sync"/>.</summary>
    private void EmitToApp(SimApp app, string eventName, JsonObject payload)
    {
        if (app.Hook is not { Active: true } hook || !(hook.Events.Contains("*") || hook.Events.Contains(eventName))) return;
        Webhooks.Enqueue(hook, eventName, payload["action"]?.GetValue<string>(), null, payload.ToJsonString());
    }

    // ---- authentication ----

    /// <summary>A JWT has three base64url parts; GitHub tells it from a token by its shape.</summary>
    public static bool LooksLikeJwt(string token) => token.StartsWith("eyJ", StringComparison.Ordinal) && token.Count(c => c == '.') == 2;

    /// <summary>The App a JWT speaks for; 401 with GitHub's message when it is malformed, wrongly signed, expired or too long-lived.</summary>
    public SimApp AuthenticateAppJwt(string jwt)
    {
        var parts = jwt.Split('.');
        JsonObject header, claims;
        byte[] signature;
        try
        {
            header = JsonNode.Parse(Base64Url(parts[0]))!.AsObject();
            claims = JsonNode.Parse(Base64Url(parts[1]))!.AsObject();
            signature = Base64Url(parts[2]);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or InvalidOperationException or IndexOutOfRangeException)
        {
            throw new SimulatorError(401, JwtUndecodable);
        }
        if (header["alg"]?.ToString() != "RS256" || !long.TryParse(claims["iss"]?.ToString(), out var appId))
            throw new SimulatorError(401, JwtUndecodable);
        SimApp? app;
        lock (Sync) app = apps.GetValueOrDefault(appId);
        if (app is null || !app.PublicKey.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            throw new SimulatorError(401, JwtUndecodable);
        var now = Now.ToUnixTimeSeconds();
        if (!TryLong(claims["iat"], out var iat) || iat > now) throw new SimulatorError(401, JwtIssuedInFuture);
        if (!TryLong(claims["exp"], out var exp) || exp <= now) throw new SimulatorError(401, JwtExpired);
        if (exp > now + (long)MaxJwtLifetime.TotalSeconds) throw new SimulatorError(401, JwtTooFarAhead);
        return app;
    }

    private static bool TryLong(JsonNode? node, out long value)
    {
        value = 0;
        return node is JsonValue v && (v.TryGetValue(out value) || (v.TryGetValue<double>(out var d) && (value = (long)d) == d));
    }

    private static byte[] Base64Url(string part)
    {
        var s = part.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }

    /// <summary>A new installation token, valid for the App's token lifetime.</summary>
    public (string Token, DateTimeOffset ExpiresAt) CreateInstallationToken(SimApp app, long installationId)
    {
        var installation = GetInstallation(app, installationId);
        var token = "ghs_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(18));
        var expires = Now + app.TokenLifetime;
        lock (Sync) installationTokens[token] = (installation, expires);
        return (token, expires);
    }

    /// <summary>The installation an installation token acts for; null for any other token. 401 when it expired.</summary>
    public SimInstallation? InstallationOfToken(string token)
    {
        lock (Sync)
        {
            if (!installationTokens.TryGetValue(token, out var entry)) return null;
            if (entry.ExpiresAt <= Now || !installations.ContainsKey(entry.Installation.Id)) throw new SimulatorError(401, "Bad credentials");
            return entry.Installation;
        }
    }

    /// <summary>Revokes one token (<c>DELETE /installation/token</c>), or every token of an installation.</summary>
    public int RevokeInstallationTokens(long installationId, string? token = null)
    {
        lock (Sync)
        {
            if (token is not null) return installationTokens.Remove(token) ? 1 : 0;
            return RevokeTokens(GetInstallation(null, installationId));
        }
    }

    private int RevokeTokens(SimInstallation installation)
    {
        var revoked = installationTokens.Where(t => t.Value.Installation == installation).Select(t => t.Key).ToList();
        foreach (var t in revoked) installationTokens.Remove(t);
        return revoked.Count;
    }
}
