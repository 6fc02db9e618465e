using System.Security.Cryptography;
using System.Text;
using MergeQueue.Core;
using MergeQueue.Data;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Api;

/// <summary>Who is calling the API: the key's name (the actor in the event log), its role and its repositories.</summary>
public sealed record ApiCaller(long? KeyId, string Name, string Role, IReadOnlyList<string> Repos)
{
    public bool IsAdmin => Role == ApiRoles.Admin;

    /// <summary>Admins act everywhere; users on the repositories they are assigned; read-only keys never.</summary>
    public bool CanAct(RepoId repo) => IsAdmin
        || Role == ApiRoles.User && Repos.Any(r => string.Equals(r, repo.ToString(), StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Resolves <c>Authorization: Bearer &lt;key&gt;</c> to a caller: the bootstrap
/// <c>MergeQueue:Api:AdminKey</c> (compared by hash, in constant time) or a stored key.
/// </summary>
public sealed class ApiKeyAuthenticator(ApiKeyStore keys, IOptions<ServiceOptions> options)
{
    public const string BootstrapName = "bootstrap-admin";
    private const string Scheme = "Bearer ";

    /// <summary>The key in the request, or null when the header is missing or not a bearer token.</summary>
    public static string? BearerKey(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return null;
        var key = header[Scheme.Length..].Trim();
        return key.Length == 0 ? null : key;
    }

    public async Task<ApiCaller?> AuthenticateAsync(HttpRequest request, CancellationToken ct)
    {
        var key = BearerKey(request);
        if (key is null) return null;
        var admin = options.Value.Api.AdminKey;
        if (!string.IsNullOrEmpty(admin)
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(ApiKeyStore.Hash(key)), Encoding.ASCII.GetBytes(ApiKeyStore.Hash(admin))))
            return new ApiCaller(null, BootstrapName, ApiRoles.Admin, []);
        var stored = await keys.FindKeyAsync(key, ct);
        return stored is null ? null : new ApiCaller(stored.Id, stored.Name, stored.Role, stored.Repos);
    }
}
