using System.Collections.Concurrent;
using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Service;

/// <summary>
/// Collects the changes the queue makes on GitHub while one cause (a delivery, a poll tick) is
/// handled, and writes them to the event log with that cause: every action traces back to what
/// caused it, and every delivery forward to what it did.
/// </summary>
public sealed class GitHubCallRecorder(IQueueStore store, TimeProvider clock, ILogger<GitHubCallRecorder> logger)
{
    private readonly AsyncLocal<List<EventLogEntry>?> _current = new();

    public async Task<T> RecordAsync<T>(Cause cause, Func<Task<T>> work, CancellationToken ct)
    {
        var calls = new List<EventLogEntry>();
        _current.Value = calls;
        try
        {
            return await work();
        }
        finally
        {
            _current.Value = null;
            if (calls.Count > 0)
            {
                var changes = new Changes();
                changes.Events.AddRange(calls.Select(c => c with { Cause = cause }));
                try
                {
                    await store.SaveAsync(changes, cause, CancellationToken.None);
                }
                catch (Exception e)
                {
                    logger.LogWarning(e, "Could not write {Count} GitHub calls to the event log", calls.Count);
                }
            }
        }
    }

    /// <summary>Runs one write to GitHub, noting it (and its failure) for the event log.</summary>
    public async Task<T> TrackAsync<T>(RepoId repo, int? number, string operation, string detail, Func<Task<T>> call, Func<T, string>? describe = null)
    {
        try
        {
            var result = await call();
            Note(repo, number, operation, $"{detail}{(describe is null ? "" : " → " + describe(result))}");
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Note(repo, number, operation, $"{detail} → failed: {e.Message}");
            throw;
        }
    }

    public Task TrackAsync(RepoId repo, int? number, string operation, string detail, Func<Task> call) =>
        TrackAsync(repo, number, operation, detail, async () => { await call(); return true; });

    private void Note(RepoId repo, int? number, string operation, string detail)
    {
        var text = $"{operation} {detail}";
        _current.Value?.Add(new EventLogEntry(clock.GetUtcNow(), repo, number, null, "github", null, null,
            text.Length <= 500 ? text : text[..500], Cause.Test()));
    }
}

/// <summary>
/// The latest answers the queue itself got from GitHub about what the dashboard shows (a PR, its
/// reviews and commits, the checks of a commit), with when it got them: pages read these and never
/// call GitHub. As the queue works (deliveries, poll ticks) it reads them again. Bounded: past
/// <see cref="MaxEntries"/> answers the oldest are forgotten.
/// </summary>
public sealed class GitHubReads(TimeProvider clock)
{
    public const int MaxEntries = 5_000;

    private readonly ConcurrentDictionary<(string Kind, RepoId Repo, string Key), (object? Value, DateTimeOffset At)> _reads = new();

    public T Remember<T>(string kind, RepoId repo, string key, T value)
    {
        if (_reads.Count >= MaxEntries)
            foreach (var old in _reads.OrderBy(r => r.Value.At).Take(MaxEntries / 10).ToList()) _reads.TryRemove(old.Key, out _);
        _reads[(kind, repo, key)] = (value, clock.GetUtcNow());
        return value;
    }

    /// <summary>
    /// A pending status from a delivery, which the queue does not read checks for (nothing can settle
    /// on it): merged into the commit's last known checks, so a page shows CI running.
    /// </summary>
    public void NotePending(RepoId repo, CommitSha sha, string context)
    {
        var known = Find<IReadOnlyList<Check>>(RecordingGitHub.ChecksRead, repo, sha.Value)?.Value ?? [];
        Remember<IReadOnlyList<Check>>(RecordingGitHub.ChecksRead, repo, sha.Value,
            [.. known.Where(c => c.Context != context), new Check(context, CheckState.Pending, null, null)]);
    }

    /// <summary>The last answer of this kind, and when it came; null when the queue has not asked since it started.</summary>
    public (T Value, DateTimeOffset At)? Find<T>(string kind, RepoId repo, string key) =>
        _reads.TryGetValue((kind, repo, key), out var read) && read.Value is T value ? (value, read.At) : null;
}

/// <summary>The GitHub port with every write going through <see cref="GitHubCallRecorder"/>, and the reads the dashboard shows kept in <see cref="GitHubReads"/>.</summary>
public sealed class RecordingGitHub(Func<IGitHub> connection, GitHubCallRecorder recorder, GitHubReads reads) : IGitHub
{
    // Asked at every call: /setup can swap the adapter while the service runs.
    private IGitHub Inner => connection();

    public const string PullRead = "pull", ReviewsRead = "reviews", CommitsRead = "commits", ChecksRead = "checks";

    public async Task<PullRequestInfo?> GetPullRequestAsync(RepoId repo, int number, CancellationToken ct) =>
        reads.Remember(PullRead, repo, Key(number), await Inner.GetPullRequestAsync(repo, number, ct));
    public async Task<IReadOnlyList<Review>> GetReviewsAsync(RepoId repo, int number, CancellationToken ct) =>
        reads.Remember(ReviewsRead, repo, Key(number), await Inner.GetReviewsAsync(repo, number, ct));
    public async Task<IReadOnlyList<CommitInfo>> GetPullRequestCommitsAsync(RepoId repo, int number, CancellationToken ct) =>
        reads.Remember(CommitsRead, repo, Key(number), await Inner.GetPullRequestCommitsAsync(repo, number, ct));
    public async Task<IReadOnlyList<Check>> GetChecksAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        reads.Remember(ChecksRead, repo, sha.Value, await Inner.GetChecksAsync(repo, sha, ct));

    public static string Key(int number) => number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public Task<Permission> GetPermissionAsync(RepoId repo, string login, CancellationToken ct) => Inner.GetPermissionAsync(repo, login, ct);
    public Task<DateTimeOffset?> GetPushedAtAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) => Inner.GetPushedAtAsync(repo, branch, sha, ct);
    public Task<string?> GetFileAsync(RepoId repo, string path, string gitRef, CancellationToken ct) => Inner.GetFileAsync(repo, path, gitRef, ct);
    public Task<string> GetDefaultBranchAsync(RepoId repo, CancellationToken ct) => Inner.GetDefaultBranchAsync(repo, ct);
    public Task<byte[]> GetTarballAsync(RepoId repo, CommitSha sha, CancellationToken ct) => Inner.GetTarballAsync(repo, sha, ct);
    public Task<CommitSha?> GetBranchAsync(RepoId repo, string branch, CancellationToken ct) => Inner.GetBranchAsync(repo, branch, ct);
    public Task<IReadOnlyList<PullRequestInfo>> GetOpenPullRequestsAsync(RepoId repo, CancellationToken ct) => Inner.GetOpenPullRequestsAsync(repo, ct);
    public Task<IReadOnlyDictionary<string, CommitSha>> GetBranchesAsync(RepoId repo, CancellationToken ct) => Inner.GetBranchesAsync(repo, ct);
    public Task<CommitInfo> GetCommitAsync(RepoId repo, CommitSha sha, CancellationToken ct) => Inner.GetCommitAsync(repo, sha, ct);
    public Task<CommitRange> CompareCommitsAsync(RepoId repo, CommitSha baseSha, CommitSha head, CancellationToken ct) => Inner.CompareCommitsAsync(repo, baseSha, head, ct);
    public Task ReportCheckRunAsync(RepoId repo, CommitSha sha, string name, CheckRunReport report, CancellationToken ct) => Inner.ReportCheckRunAsync(repo, sha, name, report, ct);
    public Task<IReadOnlyList<string>> GetRequiredStatusChecksAsync(RepoId repo, string branch, CancellationToken ct) => Inner.GetRequiredStatusChecksAsync(repo, branch, ct);

    public Task ResetBranchAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "reset-branch", $"{branch} to {sha.Short}", () => Inner.ResetBranchAsync(repo, branch, sha, ct));

    public Task<bool> FastForwardAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "fast-forward", $"{branch} to {sha.Short}", () => Inner.FastForwardAsync(repo, branch, sha, ct), ok => ok ? "moved" : "refused: not a fast-forward");

    public Task DeleteBranchAsync(RepoId repo, string branch, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "delete-branch", branch, () => Inner.DeleteBranchAsync(repo, branch, ct));

    public Task<MergeResult> MergeAsync(RepoId repo, string branch, CommitSha head, string message, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "merge", $"{head.Short} into {branch}", () => Inner.MergeAsync(repo, branch, head, message, ct), r => r switch
        {
            MergeResult.Merged m => $"merged as {m.Sha.Short}",
            MergeResult.Conflict => "conflict",
            _ => "nothing to merge",
        });

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "create-commit", $"tree {treeSha[..Math.Min(7, treeSha.Length)]} on {string.Join(",", parents.Select(p => p.Short))}",
            () => Inner.CreateCommitAsync(repo, treeSha, parents, message, ct), sha => sha.Short);

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, GitIdentity? author, GitIdentity? committer, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "create-commit", $"tree {treeSha[..Math.Min(7, treeSha.Length)]} on {string.Join(",", parents.Select(p => p.Short))}{(author is null ? "" : $" by {author.Name}")}",
            () => Inner.CreateCommitAsync(repo, treeSha, parents, message, author, committer, ct), sha => sha.Short);

    public Task SetStatusAsync(RepoId repo, CommitSha sha, string context, StatusState state, string description, string? targetUrl, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "set-status", $"{context} {state.ToString().ToLowerInvariant()} on {sha.Short}: {description}",
            () => Inner.SetStatusAsync(repo, sha, context, state, description, targetUrl, ct));

    public Task CommentAsync(RepoId repo, int number, string body, CancellationToken ct) =>
        recorder.TrackAsync(repo, number, "comment", $"on #{number}", () => Inner.CommentAsync(repo, number, body, ct));

    public Task AddReactionAsync(RepoId repo, long commentId, string content, CancellationToken ct) =>
        recorder.TrackAsync(repo, null, "react", $"{content} on comment {commentId}", () => Inner.AddReactionAsync(repo, commentId, content, ct));

    public Task ClosePullRequestAsync(RepoId repo, int number, CancellationToken ct) =>
        recorder.TrackAsync(repo, number, "close", $"#{number}", () => Inner.ClosePullRequestAsync(repo, number, ct));
}
