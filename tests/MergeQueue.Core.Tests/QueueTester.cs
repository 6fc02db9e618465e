using System.Collections.Immutable;
using MergeQueue.Core.Config;
using MergeQueue.Core.Flows;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Core.Tests;

/// <summary>Drives the flows with domain verbs over an in-memory GitHub and store and a fake clock.</summary>
public sealed class QueueTester : IRepoConfigs
{
    private int _nextNumber;

    public QueueTester(RepoConfig? config = null)
    {
        // The flow tests were written for one attempt at a time and serial halving; tests of the speculative engine say so.
        Config = config ?? new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), RequiredApprovals = 1, Bisect = BisectMode.Serial };
        Flows = new MergeQueueFlows(GitHub, Store, this, Clock, new FlowOptions { PublicUrl = "http://mq.test" }, NullLogger<MergeQueueFlows>.Instance);
        // The reviewers of these stories may merge; anyone else has read permission only.
        foreach (var writer in new[] { "bob", "carol", "maintainer" }) GitHub.Permissions[writer] = Permission.Write;
    }

    public FakeGitHub GitHub { get; } = new();
    public InMemoryQueueStore Store { get; } = new();
    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero));
    public RepoConfig Config { get; set; }
    public MergeQueueFlows Flows { get; }
    public RepoId Repo => GitHub.Repo;
    public QueueId Queue => new(Repo, "main");
    public Cause Cause { get; } = Cause.Test();

    public Task<RepoConfig?> GetAsync(RepoId repo, CancellationToken ct) => Task.FromResult<RepoConfig?>(Config);

    /// <summary>Opens a PR whose one commit on top of main sets <paramref name="file"/>; a file named FAIL fails CI.</summary>
    public int OpenPr(string? file = null, string? content = null, bool draft = false, string baseRef = "main")
    {
        var number = ++_nextNumber;
        var head = GitHub.Commit(GitHub.Branches[baseRef], new Dictionary<string, string> { [file ?? $"file{number}.txt"] = content ?? $"change {number}" }, $"PR {number}");
        GitHub.Branches[$"feature/{number}"] = head;
        GitHub.PullRequests[number] = new PullRequestInfo(number, $"Change {number}", "alice", head, $"feature/{number}", baseRef, true, false, draft, []);
        return number;
    }

    public void Approve(int number, string by = "bob", CommitSha? at = null) => AddReview(number, by, ReviewState.Approved, at);
    public void RequestChanges(int number, string by = "carol") => AddReview(number, by, ReviewState.ChangesRequested, null);

    private void AddReview(int number, string by, ReviewState state, CommitSha? at)
    {
        if (!GitHub.Reviews.TryGetValue(number, out var list)) GitHub.Reviews[number] = list = [];
        list.Add(new Review(by, state, at ?? GitHub.PullRequests[number].HeadSha, Clock.GetUtcNow()));
    }

    /// <summary>New commits on the PR's branch.</summary>
    public CommitSha Push(int number, string file = "more.txt")
    {
        var info = GitHub.PullRequests[number];
        var head = GitHub.Commit(info.HeadSha, new Dictionary<string, string> { [file] = $"more {number}" }, "more");
        GitHub.PullRequests[number] = info with { HeadSha = head };
        return head;
    }

    public Task<FlowResult> Merge(int number, int? priority = null, string? branch = null) =>
        Flows.RequestAsync(Repo, number, new MergeRequest("maintainer", priority, branch), Cause, default);

    public Task<FlowResult> Cancel(int number) => Flows.CancelAsync(Repo, number, Messages.CancelledByCommand("maintainer"), Cause, default);

    public async Task ApproveAndMerge(params int[] numbers)
    {
        foreach (var n in numbers)
        {
            Approve(n);
            (await Merge(n)).Accepted.Should().BeTrue();
        }
    }

    public Task Tick() => Flows.PollAsync(Cause, default);

    public void Advance(TimeSpan by) => Clock.Advance(by);

    /// <summary>Lets the batch delay pass and polls, which starts the next batch.</summary>
    public async Task StartBatch()
    {
        Advance(Config.BatchDelay);
        await Tick();
    }

    public MergeAttempt? Running => Store.AllAttempts().SingleOrDefault(a => a.State is MergeAttemptState.Constructing or MergeAttemptState.Testing or MergeAttemptState.Success);

    /// <summary>CI reports on the running attempt's staging commit: the verdict comes from its tree (a file named FAIL fails).</summary>
    public async Task FinishCi(bool? success = null)
    {
        var attempt = Running ?? throw new InvalidOperationException("no attempt is running");
        var sha = attempt.StagingSha!.Value;
        var pass = success ?? !GitHub.TreeOf(sha).Keys.Any(k => k.EndsWith("FAIL", StringComparison.Ordinal));
        GitHub.Checks[sha] = [new Check("ci", pass ? CheckState.Success : CheckState.Failure, null, null)];
        await Flows.TestAsync(Repo, sha, Cause, default);
    }

    /// <summary>Runs CI on every attempt until the queue is empty; returns how many CI runs it took.</summary>
    public async Task<int> RunUntilIdle(int maxRuns = 100)
    {
        var before = GitHub.StagingBuilds.Count;
        for (var i = 0; i < maxRuns; i++)
        {
            if (Running is null)
            {
                if (Store.AllPullRequests().All(p => !p.IsActive)) break;
                await StartBatch();
                if (Running is null) break;
            }
            await FinishCi();
        }
        return GitHub.StagingBuilds.Count - before;
    }

    /// <summary>The newest row of the PR (the active one, or its last outcome).</summary>
    public PullRequest Pr(int number) => Store.AllPullRequests().Last(p => p.Number == number);

    public CommitSha Main => GitHub.Branches["main"];

    public ImmutableDictionary<string, string> MainTree => GitHub.TreeOf(Main);
}
