using System.Collections.Concurrent;
using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Service.Repositories;

/// <summary>Collaborator permissions read through the API and kept for a minute: a burst of commands costs one call.</summary>
public sealed class PermissionCache(IGitHub github, TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<(RepoId, string), (Permission Permission, DateTimeOffset At)> _cache = new();

    public async Task<Permission> GetAsync(RepoId repo, string login, CancellationToken ct)
    {
        var key = (repo, login.ToLowerInvariant());
        var now = clock.GetUtcNow();
        if (_cache.TryGetValue(key, out var hit) && now - hit.At < Lifetime) return hit.Permission;
        var permission = await github.GetPermissionAsync(repo, login, ct);
        _cache[key] = (permission, now);
        return permission;
    }
}
