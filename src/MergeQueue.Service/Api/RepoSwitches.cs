using System.Collections.Concurrent;
using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;
using MergeQueue.Data;
using MergeQueue.Service.Repositories;

namespace MergeQueue.Service.Api;

/// <summary>
/// Repositories switched on or off through the API, persisted in <c>repo_setting</c> and kept in
/// memory. A disabled repository has no config as far as the flows are concerned, so nothing
/// starts for it; the delivery handler ignores its deliveries.
/// </summary>
public sealed class RepoSwitches(ApiKeyStore store)
{
    private readonly ConcurrentDictionary<RepoId, bool> _enabled = new();

    public async Task<bool> IsEnabledAsync(RepoId repo, CancellationToken ct)
    {
        var key = Normalize(repo);
        if (_enabled.TryGetValue(key, out var enabled)) return enabled;
        enabled = await store.IsRepoEnabledAsync(repo, ct);
        return _enabled.GetOrAdd(key, enabled);
    }

    public async Task SetAsync(RepoId repo, bool enabled, string changedBy, CancellationToken ct)
    {
        await store.SetRepoEnabledAsync(repo, enabled, changedBy, ct);
        _enabled[Normalize(repo)] = enabled;
    }

    private static RepoId Normalize(RepoId repo) => new(repo.Owner.ToLowerInvariant(), repo.Name.ToLowerInvariant());
}

/// <summary>The configs the flows see: none for a disabled repository.</summary>
public sealed class EnabledRepoConfigs(RepoConfigCache configs, RepoSwitches switches) : IRepoConfigs
{
    public async Task<RepoConfig?> GetAsync(RepoId repo, CancellationToken ct) =>
        await switches.IsEnabledAsync(repo, ct) ? await configs.GetAsync(repo, ct) : null;
}
