using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Tests.Fakes;

/// <summary>
/// An in-memory GitHub for flow tests: commits are file maps with parents, merges are three-way
/// at file level (a conflict is a file both sides changed differently), checks are set by the test.
/// It records every call, and counts CI runs as pushes to staging branches.
/// </summary>
public sealed class FakeGitHub : IGitHub
{
    private sealed record StoredCommit(CommitSha Sha, ImmutableDictionary<string, string> Tree, IReadOnlyList<CommitSha> Parents, string Message)
    {
        /// <summary>Creation order: compare lists commits oldest first.</summary>
        public int Sequence { get; init; }
        public GitIdentity? Author { get; init; }
    }

    private readonly Dictionary<CommitSha, StoredCommit> _commits = [];
    private readonly object _gate = new();
    private int _counter;

    public Dictionary<string, CommitSha> Branches { get; } = new(StringComparer.Ordinal);
    public Dictionary<int, PullRequestInfo> PullRequests { get; } = [];
    public Dictionary<int, List<Review>> Reviews { get; } = [];
    public Dictionary<CommitSha, List<Check>> Checks { get; } = [];
    public Dictionary<string, Permission> Permissions { get; } = new(StringComparer.OrdinalIgnoreCase);
    /// <summary>The latest mergequeue status per commit.</summary>
    public Dictionary<CommitSha, (StatusState State, string Description)> Statuses { get; } = [];
    public List<string> Calls { get; } = [];
    /// <summary>Every commit a staging branch was set to, in order: each is one CI run.</summary>
    public List<CommitSha> StagingBuilds { get; } = [];
    /// <summary>Every move of the target branches: (branch, sha).</summary>
    public List<(string Branch, CommitSha Sha)> TargetMoves { get; } = [];
    public List<int> Closed { get; } = [];
    public RepoId Repo { get; } = new("acme", "widgets");
    /// <summary>Merges fail as a GitHub outage would.</summary>
    public bool FailMerges { get; set; }
    public bool FailFastForwards { get; set; }

    public FakeGitHub()
    {
        Branches["main"] = CreateCommit(ImmutableDictionary<string, string>.Empty.Add("README", "hello"), [], "initial");
    }

    public CommitSha CreateCommit(ImmutableDictionary<string, string> tree, IReadOnlyList<CommitSha> parents, string message, GitIdentity? author = null)
    {
        lock (_gate)
        {
            var sha = new CommitSha(Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes($"{++_counter}:{message}"))).ToLowerInvariant());
            _commits[sha] = new StoredCommit(sha, tree, parents, message) { Sequence = _counter, Author = author };
            return sha;
        }
    }

    public string MessageOf(CommitSha sha) => _commits[sha].Message;
    public GitIdentity? AuthorOf(CommitSha sha) => _commits[sha].Author;

    public ImmutableDictionary<string, string> TreeOf(CommitSha sha) => _commits[sha].Tree;
    public IReadOnlyList<CommitSha> ParentsOf(CommitSha sha) => _commits[sha].Parents;

    /// <summary>A new commit on top of <paramref name="parent"/> that sets these files.</summary>
    public CommitSha Commit(CommitSha parent, IReadOnlyDictionary<string, string> files, string message, GitIdentity? author = null)
    {
        var tree = _commits[parent].Tree.SetItems(files);
        return CreateCommit(tree, [parent], message, author);
    }

    public bool IsAncestor(CommitSha ancestor, CommitSha of)
    {
        var seen = new HashSet<CommitSha>();
        var stack = new Stack<CommitSha>([of]);
        while (stack.Count > 0)
        {
            var c = stack.Pop();
            if (c == ancestor) return true;
            if (!seen.Add(c)) continue;
            foreach (var p in _commits[c].Parents) stack.Push(p);
        }
        return false;
    }

    private IEnumerable<CommitSha> Ancestors(CommitSha of)
    {
        var seen = new HashSet<CommitSha>();
        var queue = new Queue<CommitSha>([of]);
        while (queue.Count > 0)
        {
            var c = queue.Dequeue();
            if (!seen.Add(c)) continue;
            yield return c;
            foreach (var p in _commits[c].Parents) queue.Enqueue(p);
        }
    }

    private CommitSha MergeBase(CommitSha a, CommitSha b)
    {
        var ofA = Ancestors(a).ToHashSet();
        return Ancestors(b).First(ofA.Contains);
    }

    private void Record(string call)
    {
        lock (_gate) Calls.Add(call);
    }

    public Task<PullRequestInfo?> GetPullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        Record($"GetPullRequest {number}");
        return Task.FromResult(PullRequests.GetValueOrDefault(number));
    }

    public Task<IReadOnlyList<Review>> GetReviewsAsync(RepoId repo, int number, CancellationToken ct)
    {
        Record($"GetReviews {number}");
        return Task.FromResult<IReadOnlyList<Review>>(Reviews.GetValueOrDefault(number)?.ToArray() ?? []);
    }

    public Task<IReadOnlyList<Check>> GetChecksAsync(RepoId repo, CommitSha sha, CancellationToken ct)
    {
        Record($"GetChecks {sha.Short}");
        return Task.FromResult<IReadOnlyList<Check>>(Checks.GetValueOrDefault(sha)?.ToArray() ?? []);
    }

    /// <summary>When a PR head was pushed, as GitHub's repository activity says; unknown heads answer null.</summary>
    public Dictionary<CommitSha, DateTimeOffset> PushedAt { get; } = [];

    public Task<DateTimeOffset?> GetPushedAtAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) =>
        Task.FromResult(PushedAt.TryGetValue(sha, out var at) ? at : (DateTimeOffset?)null);

    public Task<Permission> GetPermissionAsync(RepoId repo, string login, CancellationToken ct) =>
        Task.FromResult(Permissions.GetValueOrDefault(login, Permission.Read));

    public Task<string?> GetFileAsync(RepoId repo, string path, string gitRef, CancellationToken ct) =>
        Task.FromResult(Branches.TryGetValue(gitRef, out var sha) ? _commits[sha].Tree.GetValueOrDefault(path) : null);

    public Task<string> GetDefaultBranchAsync(RepoId repo, CancellationToken ct) => Task.FromResult("main");

    // The flows never download a tree; the runner does, against the simulator's real tarballs.
    public Task<byte[]> GetTarballAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        throw new NotSupportedException("the in-memory GitHub has no tarballs");

    /// <summary>Every check run report, in order: (head, name, report).</summary>
    public List<(CommitSha Sha, string Name, CheckRunReport Report)> CheckRuns { get; } = [];

    public Task ReportCheckRunAsync(RepoId repo, CommitSha sha, string name, CheckRunReport report, CancellationToken ct)
    {
        lock (_gate) CheckRuns.Add((sha, name, report));
        return Task.CompletedTask;
    }

    /// <summary>Branch → the status checks its protection requires; a branch not listed is not protected.</summary>
    public Dictionary<string, IReadOnlyList<string>> ProtectedChecks { get; } = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<string>> GetRequiredStatusChecksAsync(RepoId repo, string branch, CancellationToken ct)
    {
        Record($"GetRequiredStatusChecks {branch}");
        return Task.FromResult(ProtectedChecks.GetValueOrDefault(branch) ?? []);
    }

    public Task<IReadOnlyList<PullRequestInfo>> GetOpenPullRequestsAsync(RepoId repo, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<PullRequestInfo>>(PullRequests.Values.Where(p => p.Open).OrderBy(p => p.Number).ToList());

    public Task<IReadOnlyDictionary<string, CommitSha>> GetBranchesAsync(RepoId repo, CancellationToken ct) =>
        Task.FromResult<IReadOnlyDictionary<string, CommitSha>>(new Dictionary<string, CommitSha>(Branches));

    public Task<CommitSha?> GetBranchAsync(RepoId repo, string branch, CancellationToken ct)
    {
        Record($"GetBranch {branch}");
        return Task.FromResult(Branches.TryGetValue(branch, out var sha) ? sha : (CommitSha?)null);
    }

    public Task ResetBranchAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct)
    {
        Record($"ResetBranch {branch}");
        Branches[branch] = sha;
        if (branch.Contains("/staging/", StringComparison.Ordinal)) StagingBuilds.Add(sha);
        return Task.CompletedTask;
    }

    public Task<bool> FastForwardAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct)
    {
        Record($"FastForward {branch}");
        if (FailFastForwards) throw new HttpRequestException("502 Bad Gateway");
        if (Branches.TryGetValue(branch, out var current) && current != sha && !IsAncestor(current, sha))
            return Task.FromResult(false);
        MoveTarget(branch, sha);
        return Task.FromResult(true);
    }

    /// <summary>Moves a branch as a person would (a push); GitHub then marks PRs whose head it contains as merged.</summary>
    public void MoveTarget(string branch, CommitSha sha)
    {
        Branches[branch] = sha;
        TargetMoves.Add((branch, sha));
        foreach (var (number, pr) in PullRequests.ToArray())
            if (pr.Open && pr.BaseRef == branch && IsAncestor(pr.HeadSha, sha))
                PullRequests[number] = pr with { Open = false, Merged = true };
    }

    public Task DeleteBranchAsync(RepoId repo, string branch, CancellationToken ct)
    {
        Record($"DeleteBranch {branch}");
        Branches.Remove(branch);
        return Task.CompletedTask;
    }

    public Task<MergeResult> MergeAsync(RepoId repo, string branch, CommitSha head, string message, CancellationToken ct)
    {
        Record($"Merge {branch} {head.Short}");
        if (FailMerges) throw new HttpRequestException("502 Bad Gateway");
        var ours = Branches[branch];
        if (IsAncestor(head, ours)) return Task.FromResult<MergeResult>(new MergeResult.NothingToMerge());
        var b = _commits[MergeBase(ours, head)].Tree;
        var o = _commits[ours].Tree;
        var t = _commits[head].Tree;
        var merged = o;
        foreach (var path in b.Keys.Concat(o.Keys).Concat(t.Keys).Distinct())
        {
            var (inBase, inOurs, inTheirs) = (b.GetValueOrDefault(path), o.GetValueOrDefault(path), t.GetValueOrDefault(path));
            if (inTheirs == inBase || inTheirs == inOurs) continue;
            if (inOurs != inBase) return Task.FromResult<MergeResult>(new MergeResult.Conflict());
            merged = inTheirs is null ? merged.Remove(path) : merged.SetItem(path, inTheirs);
        }
        var sha = CreateCommit(merged, [ours, head], message);
        Branches[branch] = sha;
        return Task.FromResult<MergeResult>(new MergeResult.Merged(sha));
    }

    public Task<CommitInfo> GetCommitAsync(RepoId repo, CommitSha sha, CancellationToken ct)
    {
        return Task.FromResult(Info(_commits[sha]));
    }

    // Trees are identified by the sha of a commit that has them: enough for CreateCommit to find the files.
    private static CommitInfo Info(StoredCommit c) =>
        new(c.Sha, c.Sha.Value, c.Parents, c.Message, c.Author?.Name ?? "someone", c.Author?.Email ?? "someone@example.com") { AuthorDate = c.Author?.Date };

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, CancellationToken ct) =>
        Task.FromResult(CreateCommit(_commits[new CommitSha(treeSha)].Tree, parents, message));

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, GitIdentity? author, GitIdentity? committer, CancellationToken ct)
    {
        Record($"CreateCommit on {string.Join(",", parents.Select(p => p.Short))}");
        return Task.FromResult(CreateCommit(_commits[new CommitSha(treeSha)].Tree, parents, message, author));
    }

    public Task<CommitRange> CompareCommitsAsync(RepoId repo, CommitSha baseSha, CommitSha head, CancellationToken ct)
    {
        Record($"Compare {baseSha.Short}...{head.Short}");
        var inBase = Ancestors(MergeBase(baseSha, head)).ToHashSet();
        var commits = Ancestors(head).Where(c => !inBase.Contains(c)).Select(c => _commits[c]).OrderBy(c => c.Sequence).Select(Info).ToArray();
        return Task.FromResult(new CommitRange(commits, Complete: true));
    }

    public Task SetStatusAsync(RepoId repo, CommitSha sha, string context, StatusState state, string description, string? targetUrl, CancellationToken ct)
    {
        Record($"SetStatus {sha.Short} {state}");
        // NUnit's Assert, not FluentAssertions: it records the failure in the test's result even though the
        // flows catch whatever a status post throws (a lost status must not fail a flow).
        Assert.That(description, Has.Length.LessThanOrEqualTo(140), $"GitHub refuses a status description over 140 characters: {description}");
        if (context == "mergequeue-try") TryStatuses[sha] = (state, description);
        else Statuses[sha] = (state, description);
        return Task.CompletedTask;
    }

    /// <summary>The latest mergequeue-try status per commit.</summary>
    public Dictionary<CommitSha, (StatusState State, string Description)> TryStatuses { get; } = [];

    /// <summary>Comments posted, in order: (PR number, body).</summary>
    public List<(int Number, string Body)> Comments { get; } = [];

    public Task CommentAsync(RepoId repo, int number, string body, CancellationToken ct)
    {
        lock (_gate) Comments.Add((number, body));
        return Task.CompletedTask;
    }

    /// <summary>The PR's own commits: reachable from its head, not from its base branch, oldest first.</summary>
    public Task<IReadOnlyList<CommitInfo>> GetPullRequestCommitsAsync(RepoId repo, int number, CancellationToken ct)
    {
        Record($"GetPullRequestCommits {number}");
        var pr = PullRequests[number];
        var inBase = Ancestors(Branches[pr.BaseRef]).ToHashSet();
        var commits = Ancestors(pr.HeadSha).Where(c => !inBase.Contains(c)).Select(c => _commits[c]).OrderBy(c => c.Sequence)
            .Select(c => new CommitInfo(c.Sha, c.Sha.Value, c.Parents, c.Message, "someone", "someone@example.com")).ToArray();
        return Task.FromResult<IReadOnlyList<CommitInfo>>(commits);
    }

    public Task AddReactionAsync(RepoId repo, long commentId, string content, CancellationToken ct)
    {
        Record($"React {commentId} {content}");
        return Task.CompletedTask;
    }

    public Task ClosePullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        Closed.Add(number);
        PullRequests[number] = PullRequests[number] with { Open = false };
        return Task.CompletedTask;
    }
}
