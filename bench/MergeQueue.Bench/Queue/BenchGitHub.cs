using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;

namespace MergeQueue.Bench.Queue;

/// <summary>
/// GitHub as the flows see it, in memory: commits are sets of PRs (a merge is a union, nothing
/// conflicts), each PR is approved by a writer, pushes to staging and try branches start a
/// <see cref="VirtualCi"/> run, and the target branch is the run's watched <see cref="TargetBranch"/>.
/// Every call the flows make is counted, reads and writes apart.
/// </summary>
public sealed class BenchGitHub(BenchRun run, RepoConfig config) : IGitHub
{
    public static readonly RepoId Repo = new("bench", "queue");
    private const string Target = "main";

    private readonly Dictionary<CommitSha, SimCommit> _commits = [];
    private readonly Dictionary<string, SimCommit> _branches = new(StringComparer.Ordinal) { [Target] = run.Initial };
    private readonly Dictionary<string, CiRun> _runByBranch = new(StringComparer.Ordinal);
    private readonly Dictionary<SimCommit, CiRun> _lastRun = [];
    private readonly Dictionary<int, PrSpec> _prs = [];
    private readonly Dictionary<int, SimCommit> _heads = [];
    private readonly Dictionary<CommitSha, int> _prByHead = [];
    private readonly HashSet<int> _closed = [];

    public int Reads { get; private set; }
    public int Writes { get; private set; }

    /// <summary>CI reported on this commit: pending (false) when a run is queued, the outcome (true) when it ends (GitHub sends a <c>status</c> delivery).</summary>
    public Func<CommitSha, bool, Task>? ChecksChanged { get; set; }
    /// <summary>The target branch moved (GitHub would send a <c>push</c> delivery).</summary>
    public Action<string, CommitSha>? TargetPushed { get; set; }

    /// <summary>Opens the PR: its head is its own change on the initial commit.</summary>
    public CommitSha Open(PrSpec pr)
    {
        var head = run.NewCommit([run.Initial], [pr.Number]);
        _prs[pr.Number] = pr;
        _heads[pr.Number] = head;
        var sha = Sha(head);
        _prByHead[sha] = pr.Number;
        return sha;
    }

    private CommitSha Sha(SimCommit commit)
    {
        var sha = new CommitSha(commit.Id.ToString("x40", System.Globalization.CultureInfo.InvariantCulture));
        _commits.TryAdd(sha, commit);
        return sha;
    }

    private SimCommit Commit(CommitSha sha) => _commits.TryGetValue(sha, out var c) ? c : throw new InvalidOperationException($"no commit {sha}");

    private void Read() => Reads++;
    private void Write() => Writes++;

    private bool IsCiBranch(string branch) =>
        branch.StartsWith($"{config.BranchPrefix}/staging/", StringComparison.Ordinal) || branch.StartsWith($"{config.BranchPrefix}/try/", StringComparison.Ordinal);

    private void SetBranch(string branch, SimCommit commit)
    {
        _branches[branch] = commit;
        if (branch == Target)
        {
            run.Target.MoveTo(commit);
            TargetPushed?.Invoke(branch, Sha(commit));
            return;
        }
        if (!IsCiBranch(branch)) return;
        // A new push to a CI branch supersedes its running build (concurrency: cancel-in-progress).
        if (_runByBranch.TryGetValue(branch, out var previous)) run.Ci.Cancel(previous);
        var ciRun = run.Ci.Start(commit, async r =>
        {
            if (ChecksChanged is { } changed) await changed(Sha(r.Commit), true);
        });
        _runByBranch[branch] = ciRun;
        _lastRun[commit] = ciRun;
        // CI's pending status is delivered once the flow that pushed has finished.
        if (ChecksChanged is { } pending) run.Sim.At(run.Sim.Now, () => pending(Sha(commit), false));
    }

    private PullRequestInfo Info(int number)
    {
        var merged = run.Target.MergedAt.ContainsKey(number);
        return new PullRequestInfo(number, $"Change {number}", "developer", Sha(_heads[number]), $"change-{number}", Target,
            Open: !merged && !_closed.Contains(number), Merged: merged, Draft: false, Labels: []) { ChangedLines = 20 };
    }

    public Task<PullRequestInfo?> GetPullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        Read();
        return Task.FromResult(_prs.ContainsKey(number) ? Info(number) : null);
    }

    public Task<IReadOnlyList<CommitInfo>> GetPullRequestCommitsAsync(RepoId repo, int number, CancellationToken ct)
    {
        Read();
        return Task.FromResult<IReadOnlyList<CommitInfo>>([CommitInfoOf(_heads[number])]);
    }

    public Task<IReadOnlyList<Review>> GetReviewsAsync(RepoId repo, int number, CancellationToken ct)
    {
        Read();
        return Task.FromResult<IReadOnlyList<Review>>([new Review("reviewer", ReviewState.Approved, Sha(_heads[number]), _prs[number].ArrivesAt)]);
    }

    public Task<IReadOnlyList<Check>> GetChecksAsync(RepoId repo, CommitSha sha, CancellationToken ct)
    {
        Read();
        if (!_lastRun.TryGetValue(Commit(sha), out var r)) return Task.FromResult<IReadOnlyList<Check>>([]);
        var state = r.Outcome switch { null => CheckState.Pending, CiOutcome.Passed => CheckState.Success, _ => CheckState.Failure };
        return Task.FromResult<IReadOnlyList<Check>>([new Check("ci", state, r.Description, null)]);
    }

    public Task<DateTimeOffset?> GetPushedAtAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct)
    {
        Read();
        return Task.FromResult<DateTimeOffset?>(null);
    }

    public Task<Permission> GetPermissionAsync(RepoId repo, string login, CancellationToken ct)
    {
        Read();
        return Task.FromResult(Permission.Write);
    }

    public Task<string?> GetFileAsync(RepoId repo, string path, string gitRef, CancellationToken ct)
    {
        Read();
        return Task.FromResult<string?>(null);
    }

    /// <summary>The bench authenticates as nothing in particular: no check runs, as with a token.</summary>
    public Task ReportCheckRunAsync(RepoId repo, CommitSha sha, string name, CheckRunReport report, CancellationToken ct) => Task.CompletedTask;

    /// <summary>The bench's target is never protected: its config lists the checks.</summary>
    public Task<IReadOnlyList<string>> GetRequiredStatusChecksAsync(RepoId repo, string branch, CancellationToken ct)
    {
        Read();
        return Task.FromResult<IReadOnlyList<string>>([]);
    }

    public Task<byte[]> GetTarballAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        throw new NotSupportedException("the benchmark's GitHub has no tarballs");

    public Task<string> GetDefaultBranchAsync(RepoId repo, CancellationToken ct)
    {
        Read();
        return Task.FromResult(Target);
    }

    // The bench runs no built-in runner, whose reconciler is the only reader of these two.
    public Task<IReadOnlyList<PullRequestInfo>> GetOpenPullRequestsAsync(RepoId repo, CancellationToken ct)
    {
        Read();
        return Task.FromResult<IReadOnlyList<PullRequestInfo>>(_prs.Keys.Order().Select(Info).Where(p => p.Open).ToList());
    }

    public Task<IReadOnlyDictionary<string, CommitSha>> GetBranchesAsync(RepoId repo, CancellationToken ct)
    {
        Read();
        return Task.FromResult<IReadOnlyDictionary<string, CommitSha>>(_branches.ToDictionary(b => b.Key, b => Sha(b.Value), StringComparer.Ordinal));
    }

    public Task<CommitSha?> GetBranchAsync(RepoId repo, string branch, CancellationToken ct)
    {
        Read();
        return Task.FromResult(_branches.TryGetValue(branch, out var c) ? Sha(c) : (CommitSha?)null);
    }

    public Task ResetBranchAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct)
    {
        Write();
        SetBranch(branch, Commit(sha));
        return Task.CompletedTask;
    }

    public Task<bool> FastForwardAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct)
    {
        Write();
        var commit = Commit(sha);
        if (!_branches.TryGetValue(branch, out var current) || !commit.HasAncestor(current)) return Task.FromResult(false);
        if (current != commit) SetBranch(branch, commit);
        return Task.FromResult(true);
    }

    public Task DeleteBranchAsync(RepoId repo, string branch, CancellationToken ct)
    {
        Write();
        _branches.Remove(branch);
        if (_runByBranch.Remove(branch, out var r)) run.Ci.Cancel(r);
        return Task.CompletedTask;
    }

    public Task<MergeResult> MergeAsync(RepoId repo, string branch, CommitSha head, string message, CancellationToken ct)
    {
        Write();
        var onto = _branches[branch];
        var merged = Commit(head);
        if (onto.HasAncestor(merged)) return Task.FromResult<MergeResult>(new MergeResult.NothingToMerge());
        var commit = run.NewCommit([onto, merged], []);
        SetBranch(branch, commit);
        return Task.FromResult<MergeResult>(new MergeResult.Merged(Sha(commit)));
    }

    public Task<CommitInfo> GetCommitAsync(RepoId repo, CommitSha sha, CancellationToken ct)
    {
        Read();
        return Task.FromResult(CommitInfoOf(Commit(sha)));
    }

    /// <summary>A commit's tree is named after the commit: any commit made with it holds the same PRs.</summary>
    private CommitInfo CommitInfoOf(SimCommit c) =>
        new(Sha(c), $"tree-{Sha(c)}", c.Parents.Select(Sha).ToArray(), $"commit {c.Id}", "developer", "developer@example.com");

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, CancellationToken ct) =>
        CreateCommitAsync(repo, treeSha, parents, message, null, null, ct);

    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, GitIdentity? author, GitIdentity? committer, CancellationToken ct)
    {
        Write();
        var tree = Commit(new CommitSha(treeSha["tree-".Length..]));
        return Task.FromResult(Sha(run.NewCommit(parents.Select(Commit).ToArray(), tree.Prs)));
    }

    public Task<CommitRange> CompareCommitsAsync(RepoId repo, CommitSha baseSha, CommitSha head, CancellationToken ct)
    {
        Read();
        var onto = Commit(baseSha);
        var found = new List<SimCommit>();
        var seen = new HashSet<SimCommit>();
        var stack = new Stack<SimCommit>([Commit(head)]);
        while (stack.TryPop(out var c))
        {
            if (!seen.Add(c) || ReferenceEquals(c, run.Initial) || onto.HasAncestor(c)) continue;
            found.Add(c);
            foreach (var p in c.Parents) stack.Push(p);
        }
        return Task.FromResult(new CommitRange(found.OrderBy(c => c.Id).Select(CommitInfoOf).ToArray(), Complete: true));
    }

    public Task SetStatusAsync(RepoId repo, CommitSha sha, string context, StatusState state, string description, string? targetUrl, CancellationToken ct)
    {
        Write();
        // What GitHub shows of the queue's verdict: a failure status on the PR's head rejects it.
        if (context == FlowOptions.StatusContext && state is StatusState.Failure or StatusState.Error && _prByHead.TryGetValue(sha, out var pr))
            run.Reject(pr);
        return Task.CompletedTask;
    }

    public Task CommentAsync(RepoId repo, int number, string body, CancellationToken ct)
    {
        Write();
        return Task.CompletedTask;
    }

    public Task AddReactionAsync(RepoId repo, long commentId, string content, CancellationToken ct)
    {
        Write();
        return Task.CompletedTask;
    }

    public Task ClosePullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        Write();
        _closed.Add(number);
        return Task.CompletedTask;
    }
}
