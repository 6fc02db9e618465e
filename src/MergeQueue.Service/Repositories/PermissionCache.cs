using System.Collections.Concurrent;
using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Service.Repositories;

/// <summary>
/// Collaborator permissions read through the API and kept for a minute: a burst of commands, or of
/// dashboard page views when it is not public, costs one call per login and repository. Bounded.
/// </summary>
public sealed class PermissionCache(IGitHub github, TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);
    /// <summary>Past this many logins and repositories, expired answers are dropped (and, were all fresh, everything).</summary>
    public const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<(RepoId, string), (Permission Permission, DateTimeOffset At)> _cache = new();

    public async Task<Permission> GetAsync(RepoId repo, string login, CancellationToken ct)
    {
        var key = (repo, login.ToLowerInvariant());
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(key, out var hit) && now - hit.At < Lifetime) return hit.Permission;
        var permission = await github.GetPermissionAsync(repo, login, ct);
        if (_cache.Count >= MaxEntries)
        {
            foreach (var (old, entry) in _cache)
                if (now - entry.At >= Lifetime) _cache.TryRemove(old, out _);
            if (_cache.Count >= MaxEntries) _cache.Clear();
        }
        _cache[key] = (permission, now);
        return permission;
    }
}
