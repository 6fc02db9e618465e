using System.Collections.Concurrent;

namespace MergeQueue.Core.Ports;

/// <summary>
/// Collaborator permissions read through the API and kept for a minute: a burst of commands, the
/// reviews of a PR read again on every status, or dashboard page views when it is not public, cost
/// one call per person and repository. Bounded.
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

    /// <summary>
    /// The reviews with the permission last read for each author, however old, and none for an
    /// author never looked up: for pages, which make no GitHub call.
    /// </summary>
    public IReadOnlyList<Review> WithKnownPermissions(RepoId repo, IReadOnlyList<Review> reviews) =>
        reviews.Select(r => _cache.TryGetValue((repo, r.Author.ToLowerInvariant()), out var hit) ? r with { AuthorPermission = hit.Permission } : r).ToList();

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
