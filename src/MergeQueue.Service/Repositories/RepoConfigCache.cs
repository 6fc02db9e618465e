using Microsoft.Extensions.Options;
using System.Collections.Concurrent;
using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;

namespace MergeQueue.Service.Repositories;

/// <summary>
/// The config in force per repository: <c>.github/mergequeue.yml</c> on the default branch, read the
/// first time a delivery arrives from the repository (discovery) and again when a push to the default
/// branch changes it. An invalid file leaves the last good config in force and gets a failure status
/// <c>mergequeue-config</c> on the commit that changed it. With instances sharing a database the push
/// reaches one of them, so each also reads the file again once it is <see cref="ClusteredMaxAge"/> old.
/// </summary>
public sealed class RepoConfigCache(IGitHub github, IOptions<ServiceOptions> options, ILogger<RepoConfigCache> logger) : IRepoConfigs
{
    public const string StatusContext = "mergequeue-config";

    /// <summary>How stale another instance's view of a config change may get (PostgreSQL only).</summary>
    public static readonly TimeSpan ClusteredMaxAge = TimeSpan.FromMinutes(1);

    private sealed record Entry(RepoConfig? Config, string? Error, DateTimeOffset LoadedAt);

    private readonly ConcurrentDictionary<RepoId, Entry> _entries = new();
    private readonly bool _clustered = options.Value.Database.Provider.Equals("postgres", StringComparison.OrdinalIgnoreCase);

    private static DateTimeOffset Now => TimeProvider.System.GetUtcNow();

    public async Task<RepoConfig?> GetAsync(RepoId repo, CancellationToken ct)
    {
        if (_entries.TryGetValue(repo, out var entry) && !(_clustered && Now - entry.LoadedAt > ClusteredMaxAge)) return entry.Config;
        return await LoadAsync(repo, null, ct);
    }

    /// <summary>The repositories seen so far and whether each is managed (for the dashboard and API).</summary>
    public IReadOnlyDictionary<RepoId, RepoConfig?> Known => _entries.ToDictionary(e => e.Key, e => e.Value.Config);

    /// <summary>Reads the file again: after a push to the default branch (that commit gets the config status), or when the App can reach the repository again.</summary>
    public Task<RepoConfig?> ReloadAsync(RepoId repo, CommitSha? pushedCommit, CancellationToken ct) => LoadAsync(repo, pushedCommit, ct);

    /// <summary>The GitHub App can no longer reach the repository: not managed until it is added again.</summary>
    public void Unreachable(RepoId repo)
    {
        if (_entries.TryGetValue(repo, out var entry) && entry.Config is not null)
            logger.LogInformation("{Repo}: removed from the GitHub App's installation; the repository is no longer managed", repo);
        _entries[repo] = new Entry(null, null, Now);
    }

    private async Task<RepoConfig?> LoadAsync(RepoId repo, CommitSha? pushedCommit, CancellationToken ct)
    {
        var branch = await github.GetDefaultBranchAsync(repo, ct);
        var yaml = await github.GetFileAsync(repo, RepoConfigParser.Path, branch, ct);
        _entries.TryGetValue(repo, out var previous);
        if (yaml is null)
        {
            if (previous?.Config is not null) logger.LogInformation("{Repo}: {Path} removed; the repository is no longer managed", repo, RepoConfigParser.Path);
            _entries[repo] = new Entry(null, null, Now);
            return null;
        }

        var result = RepoConfigParser.Parse(yaml);
        var at = pushedCommit ?? await github.GetBranchAsync(repo, branch, ct);
        if (result.IsValid)
        {
            if (previous?.Config != result.Config) logger.LogInformation("{Repo}: config loaded from {Branch}", repo, branch);
            _entries[repo] = new Entry(result.Config, null, Now);
            if (previous?.Error is not null && at is { } fixedAt)
                await ReportAsync(repo, fixedAt, StatusState.Success, "valid", ct);
            return result.Config;
        }

        var errors = string.Join("; ", result.Errors);
        logger.LogWarning("{Repo}: invalid {Path}, keeping the last good config: {Errors}", repo, RepoConfigParser.Path, errors);
        _entries[repo] = new Entry(previous?.Config, errors, Now);
        // A periodic re-read of the same broken file says nothing new.
        if (at is { } sha && (pushedCommit is not null || previous?.Error != errors)) await ReportAsync(repo, sha, StatusState.Failure, errors, ct);
        return previous?.Config;
    }

    private async Task ReportAsync(RepoId repo, CommitSha sha, StatusState state, string description, CancellationToken ct)
    {
        try
        {
            await github.SetStatusAsync(repo, sha, StatusContext, state, Messages.Status($"{RepoConfigParser.Path}: {description}"), null, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not report the config status of {Repo}", repo);
        }
    }
}
