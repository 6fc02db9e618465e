using System.Collections.Concurrent;
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
public sealed class ApiKeyAuthenticator(ApiKeyStore keys, IOptions<ServiceOptions> options, TimeProvider clock)
{
    /// <summary>Failed key attempts per client address in the current minute (the window opens at the first failure).</summary>
    private readonly ConcurrentDictionary<string, (DateTimeOffset Start, int Count)> _failures = new();
    private static readonly TimeSpan FailureWindow = TimeSpan.FromMinutes(1);
    /// <summary>Beyond this many addresses, expired windows are dropped: an attacker with many addresses cannot grow the table without bound.</summary>
    private const int MaxTrackedClients = 10_000;

    public const string BootstrapName = "bootstrap-admin";
    /// <summary>The bootstrap key's least length: the service refuses to start with a shorter one.</summary>
    public const int MinAdminKeyLength = 32;
    private const string Scheme = "Bearer ";

    /// <summary>The key in the request, or null when the header is missing or not a bearer token.</summary>
    public static string? BearerKey(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return null;
        var key = header[Scheme.Length..].Trim();
        return key.Length == 0 ? null : key;
    }

    /// <summary>
    /// How long this client must wait before a key of theirs is looked at again: it sent
    /// <c>MergeQueue:Api:FailedAttemptsPerMinute</c> wrong keys in the window. Null when it may try.
    /// Every key is refused while blocked, a right one too, so guesses teach nothing.
    /// </summary>
    public TimeSpan? Blocked(System.Net.IPAddress? client)
    {
        var now = clock.GetUtcNow();
        if (!_failures.TryGetValue(Client(client), out var window) || now - window.Start >= FailureWindow) return null;
        return window.Count >= options.Value.Api.FailedAttemptsPerMinute ? window.Start + FailureWindow - now : null;
    }

    /// <summary>Counts a wrong key from this client.</summary>
    public void NoteFailure(System.Net.IPAddress? client)
    {
        var now = clock.GetUtcNow();
        if (_failures.Count >= MaxTrackedClients)
            foreach (var (address, window) in _failures)
                if (now - window.Start >= FailureWindow) _failures.TryRemove(address, out _);
        _failures.AddOrUpdate(Client(client), (now, 1), (_, w) => now - w.Start >= FailureWindow ? (now, 1) : (w.Start, w.Count + 1));
    }

    private static string Client(System.Net.IPAddress? address) => address?.ToString() ?? "unknown";

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
