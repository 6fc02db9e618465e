using System.Collections.Concurrent;

namespace MergeQueue.Core.Ports;

/// <summary>
/// Collaborator permissions read through the API and kept for a minute: a burst of commands, or
/// the reviews of a PR read again on every status, costs one call per person.
/// </summary>
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

    /// <summary>
    /// The reviews with their authors' permission on the repository filled in: GitHub's reviews
    /// endpoint does not say it, and only reviews by users with write or admin permission count.
    /// </summary>
    public async Task<IReadOnlyList<Review>> WithPermissionsAsync(RepoId repo, IReadOnlyList<Review> reviews, CancellationToken ct)
    {
        var result = new List<Review>(reviews.Count);
        foreach (var review in reviews)
            result.Add(review with { AuthorPermission = await GetAsync(repo, review.Author, ct) });
        return result;
    }
}
