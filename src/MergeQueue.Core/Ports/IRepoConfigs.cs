using MergeQueue.Core.Config;

namespace MergeQueue.Core.Ports;

/// <summary>The config in force for each managed repository (the last valid <c>.github/mergequeue.yml</c>).</summary>
public interface IRepoConfigs
{
    /// <summary>The repository's config, or null when it is not managed.</summary>
    Task<RepoConfig?> GetAsync(RepoId repo, CancellationToken ct);
}
