using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Bench.Poll;

/// <summary>
/// GitHub as a quiet installation shows it, in memory: every PR is open at the head the queue
/// recorded (<see cref="PollBenchmark.Head"/>) and approved, every commit's checks are still
/// pending, branches exist. Writes change nothing. Every call is counted: a poll tick that finds
/// nothing new should make only the reads that look for news.
/// </summary>
/// <remarks>
/// Not the queue benchmark's <c>BenchGitHub</c>: that one is a single repository whose commits come
/// from its simulated CI run; here 100 repositories hold rows that no flow built.
/// </remarks>
public sealed class PollGitHub : IGitHub
{
    private static readonly CommitSha Base = new(new string('b', 40));
    private int _calls;

    public int Calls => _calls;

    public void Reset() => _calls = 0;

    private Task<T> Call<T>(T value)
    {
        Interlocked.Increment(ref _calls);
        return Task.FromResult(value);
    }

    private Task Call() => Call(true);

    public Task<PullRequestInfo?> GetPullRequestAsync(RepoId repo, int number, CancellationToken ct) =>
        Call<PullRequestInfo?>(new PullRequestInfo(number, $"Change {number}", "developer", PollBenchmark.Head(repo, number), $"change-{number}", "main",
            Open: true, Merged: false, Draft: false, Labels: []) { ChangedLines = 20 });

    public Task<IReadOnlyList<CommitInfo>> GetPullRequestCommitsAsync(RepoId repo, int number, CancellationToken ct) =>
        Call<IReadOnlyList<CommitInfo>>([new CommitInfo(PollBenchmark.Head(repo, number), "tree", [Base], $"Change {number}", "developer", "developer@example.com")]);

    public Task<IReadOnlyList<Review>> GetReviewsAsync(RepoId repo, int number, CancellationToken ct) =>
        Call<IReadOnlyList<Review>>([new Review("reviewer", ReviewState.Approved, PollBenchmark.Head(repo, number), PollBenchmark.Start)]);

    public Task<IReadOnlyList<Check>> GetChecksAsync(RepoId repo, CommitSha sha, CancellationToken ct) => Call<IReadOnlyList<Check>>([]);

    public Task<DateTimeOffset?> GetPushedAtAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) => Call<DateTimeOffset?>(null);

    public Task<Permission> GetPermissionAsync(RepoId repo, string login, CancellationToken ct) => Call(Permission.Write);

    public Task<string?> GetFileAsync(RepoId repo, string path, string gitRef, CancellationToken ct) => Call<string?>(null);

    public Task ReportCheckRunAsync(RepoId repo, CommitSha sha, string name, CheckRunReport report, CancellationToken ct) => Call();

    public Task<IReadOnlyList<string>> GetRequiredStatusChecksAsync(RepoId repo, string branch, CancellationToken ct) => Call<IReadOnlyList<string>>(["ci"]);

    public Task<string> GetDefaultBranchAsync(RepoId repo, CancellationToken ct) => Call("main");

    public Task<CommitSha?> GetBranchAsync(RepoId repo, string branch, CancellationToken ct) => Call<CommitSha?>(Base);

    public Task ResetBranchAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) => Call();

    public Task<bool> FastForwardAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) => Call(true);

    public Task DeleteBranchAsync(RepoId repo, string branch, CancellationToken ct) => Call();

    public Task<MergeResult> MergeAsync(RepoId repo, string branch, CommitSha head, string message, CancellationToken ct) =>
        Call<MergeResult>(new MergeResult.NothingToMerge());

    public Task<CommitInfo> GetCommitAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        Call(new CommitInfo(sha, "tree", [Base], "commit", "developer", "developer@example.com"));

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, CancellationToken ct) =>
        CreateCommitAsync(repo, treeSha, parents, message, null, null, ct);

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, GitIdentity? author, GitIdentity? committer, CancellationToken ct) =>
        Call(Base);

    public Task<CommitRange> CompareCommitsAsync(RepoId repo, CommitSha baseSha, CommitSha head, CancellationToken ct) =>
        Call(new CommitRange([], Complete: true));

    public Task SetStatusAsync(RepoId repo, CommitSha sha, string context, StatusState state, string description, string? targetUrl, CancellationToken ct) => Call();

    public Task CommentAsync(RepoId repo, int number, string body, CancellationToken ct) => Call();

    public Task AddReactionAsync(RepoId repo, long commentId, string content, CancellationToken ct) => Call();

    public Task ClosePullRequestAsync(RepoId repo, int number, CancellationToken ct) => Call();

    public Task<byte[]> GetTarballAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        throw new NotSupportedException("a poll tick downloads no tarballs");

    public Task<IReadOnlyList<PullRequestInfo>> GetOpenPullRequestsAsync(RepoId repo, CancellationToken ct) =>
        throw new NotSupportedException("the flows' poll tick lists no pull requests (the runner's reconciler is not benchmarked)");

    public Task<IReadOnlyDictionary<string, CommitSha>> GetBranchesAsync(RepoId repo, CancellationToken ct) =>
        throw new NotSupportedException("the flows' poll tick lists no branches (the runner's reconciler is not benchmarked)");
}
