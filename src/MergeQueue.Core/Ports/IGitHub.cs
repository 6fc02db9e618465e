namespace MergeQueue.Core.Ports;

/// <summary>A pull request as GitHub shows it now.</summary>
public sealed record PullRequestInfo(
    int Number,
    string Title,
    string Author,
    CommitSha HeadSha,
    string HeadRef,
    string BaseRef,
    bool Open,
    bool Merged,
    bool Draft,
    IReadOnlyList<string> Labels)
{
    /// <summary>Lines added plus lines deleted (GitHub's additions + deletions); null when not known.</summary>
    public int? ChangedLines { get; init; }
}

public enum ReviewState { Approved, ChangesRequested, Commented, Dismissed }

/// <summary>A submitted review, in the order GitHub lists them (oldest first).</summary>
public sealed record Review(string Author, ReviewState State, CommitSha CommitSha, DateTimeOffset SubmittedAt)
{
    /// <summary>
    /// The author's permission on the repository, looked up by the queue (<see cref="PermissionCache"/>);
    /// null when not looked up, which counts as no permission.
    /// </summary>
    public Permission? AuthorPermission { get; init; }
}

public enum CheckState { Pending, Success, Failure }

/// <summary>One context on a commit: the latest status of that context, or a check run of that name.</summary>
public sealed record Check(string Context, CheckState State, string? Description, string? TargetUrl);

/// <summary>Permission on a repository, as GitHub's collaborator permission endpoint reports it.</summary>
public enum Permission { None, Read, Triage, Write, Maintain, Admin }

/// <summary>The result of asking GitHub to merge a commit into a branch.</summary>
public abstract record MergeResult
{
    public sealed record Merged(CommitSha Sha) : MergeResult;
    public sealed record Conflict : MergeResult;
    /// <summary>The head is already contained in the branch.</summary>
    public sealed record NothingToMerge : MergeResult;
}

/// <summary>A git commit as read back from GitHub.</summary>
public sealed record CommitInfo(CommitSha Sha, string TreeSha, IReadOnlyList<CommitSha> Parents, string Message, string AuthorName, string AuthorEmail)
{
    /// <summary>When the author wrote it; a replayed commit keeps it (cherry-pick).</summary>
    public DateTimeOffset? AuthorDate { get; init; }

    public GitIdentity Author => new(AuthorName, AuthorEmail, AuthorDate);
}

/// <summary>
/// The commits of a three-dot compare. GitHub lists at most 250; <see cref="Complete"/> is false
/// when there were more (a replay of an incomplete list would silently drop commits).
/// </summary>
public sealed record CommitRange(IReadOnlyList<CommitInfo> Commits, bool Complete);

/// <summary>A git author or committer; no date means "now" to GitHub.</summary>
public sealed record GitIdentity(string Name, string Email, DateTimeOffset? Date = null);

/// <summary>The conclusion of the queue's own check run once the request has ended.</summary>
public enum CheckRunConclusion { Success, Failure, Cancelled }

/// <summary>
/// The <c>mergequeue</c> check run on a PR's head (CONTRACT §5): in progress while the PR waits or is
/// tested, completed with <see cref="Conclusion"/> when its request ends.
/// </summary>
public sealed record CheckRunReport(string Title, string Summary, CheckRunConclusion? Conclusion, string? DetailsUrl);

/// <summary>Status states the queue posts (CONTRACT §5).</summary>
public enum StatusState { Pending, Success, Failure, Error }

/// <summary>
/// Everything the queue does on GitHub. The Octokit adapter implements it over the REST API with
/// retries; tests implement it in memory. Methods that change GitHub reconcile when retried after
/// an ambiguous failure (a branch already at the wanted sha is success).
/// </summary>
public interface IGitHub
{
    Task<PullRequestInfo?> GetPullRequestAsync(RepoId repo, int number, CancellationToken ct);
    /// <summary>The PR's commits (oldest first) with their messages, for <c>commit_message_pattern</c>.</summary>
    Task<IReadOnlyList<CommitInfo>> GetPullRequestCommitsAsync(RepoId repo, int number, CancellationToken ct);
    Task<IReadOnlyList<Review>> GetReviewsAsync(RepoId repo, int number, CancellationToken ct);
    /// <summary>Every context on the commit: statuses (latest per context wins) and check runs.</summary>
    Task<IReadOnlyList<Check>> GetChecksAsync(RepoId repo, CommitSha sha, CancellationToken ct);
    Task<Permission> GetPermissionAsync(RepoId repo, string login, CancellationToken ct);
    /// <summary>
    /// When the branch last moved to this commit, from GitHub's repository activity
    /// (<c>GET /repos/{o}/{r}/activity?ref=</c>); null when GitHub lists no such move (a fork's branch).
    /// </summary>
    Task<DateTimeOffset?> GetPushedAtAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct);
    /// <summary>A file's text at a ref, or null when there is no such file.</summary>
    Task<string?> GetFileAsync(RepoId repo, string path, string gitRef, CancellationToken ct);
    Task<string> GetDefaultBranchAsync(RepoId repo, CancellationToken ct);
    /// <summary>
    /// The commit's tree as GitHub's gzipped tarball (<c>GET /repos/{o}/{r}/tarball/{sha}</c>, following
    /// the redirect to codeload): every entry under one top directory <c>{owner}-{repo}-{sha7}/</c>.
    /// </summary>
    Task<byte[]> GetTarballAsync(RepoId repo, CommitSha sha, CancellationToken ct);
    /// <summary>
    /// The contexts the branch's protection requires to pass
    /// (<c>GET /repos/{o}/{r}/branches/{b}/protection/required_status_checks</c>); empty when the
    /// branch is not protected or its protection requires no status checks.
    /// </summary>
    Task<IReadOnlyList<string>> GetRequiredStatusChecksAsync(RepoId repo, string branch, CancellationToken ct);

    /// <summary>The repository's open pull requests, every page (<c>GET /repos/{o}/{r}/pulls?state=open</c>).</summary>
    Task<IReadOnlyList<PullRequestInfo>> GetOpenPullRequestsAsync(RepoId repo, CancellationToken ct);
    /// <summary>Every branch of the repository and its head, in one call (<c>GET /repos/{o}/{r}/git/matching-refs/heads/</c>).</summary>
    Task<IReadOnlyDictionary<string, CommitSha>> GetBranchesAsync(RepoId repo, CancellationToken ct);

    /// <summary>The branch's head, or null when there is no such branch.</summary>
    Task<CommitSha?> GetBranchAsync(RepoId repo, string branch, CancellationToken ct);
    /// <summary>Creates the branch at the commit, or force-resets it there when it exists.</summary>
    Task ResetBranchAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct);
    /// <summary>Moves the branch to the commit only if that is a fast-forward; false when it is not.</summary>
    Task<bool> FastForwardAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct);
    /// <summary>Deletes the branch; a missing branch is fine.</summary>
    Task DeleteBranchAsync(RepoId repo, string branch, CancellationToken ct);
    /// <summary>Merges a commit into a branch with a merge commit (POST /merges).</summary>
    Task<MergeResult> MergeAsync(RepoId repo, string branch, CommitSha head, string message, CancellationToken ct);
    Task<CommitInfo> GetCommitAsync(RepoId repo, CommitSha sha, CancellationToken ct);
    Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, CancellationToken ct);
    /// <summary>Creates a commit with an explicit author (and committer); null ones are the token's user, as above.</summary>
    Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, GitIdentity? author, GitIdentity? committer, CancellationToken ct);
    /// <summary>
    /// The commits of <c>base...head</c> (three dots: reachable from head, not from the merge base),
    /// oldest first, with parents, author and message (GET /compare).
    /// </summary>
    Task<CommitRange> CompareCommitsAsync(RepoId repo, CommitSha baseSha, CommitSha head, CancellationToken ct);

    Task SetStatusAsync(RepoId repo, CommitSha sha, string context, StatusState state, string description, string? targetUrl, CancellationToken ct);
    /// <summary>
    /// Creates or updates the check run named <paramref name="name"/> on the commit. Only a GitHub
    /// App may (GitHub refuses tokens): with token authentication this does nothing.
    /// </summary>
    Task ReportCheckRunAsync(RepoId repo, CommitSha sha, string name, CheckRunReport report, CancellationToken ct);
    Task CommentAsync(RepoId repo, int number, string body, CancellationToken ct);
    /// <summary>Reacts to an issue comment: <c>+1</c> for an accepted command, <c>confused</c> for a refused one.</summary>
    Task AddReactionAsync(RepoId repo, long commentId, string content, CancellationToken ct);
    Task ClosePullRequestAsync(RepoId repo, int number, CancellationToken ct);
}
