using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using static MergeQueue.Data.Tests.Build;

namespace MergeQueue.Data.Tests;

/// <summary>The narrow reads a poll tick makes instead of loading every active PR: each returns only its rows.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class PollReadsTests(string provider)
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly RepoId Other = new("Acme", "Gadgets");
    private TestDatabase _file = null!;
    private QueueStore _store = null!;

    [SetUp]
    public async Task SetUp()
    {
        _file = TestDatabase.Create(provider);
        _store = new QueueStore(await _file.MigratedAsync());
    }

    [TearDown]
    public void TearDown() => _file.Dispose();

    private static PullRequest Pr(int number, PullRequestState state, DateTimeOffset changedAt, long? attempt = null, int priority = 0,
        DateTimeOffset? queuedAt = null, bool held = false, RepoId? repo = null, string target = "main")
    {
        var pr = PullRequest.Restore(0, repo ?? Repo, number, target, Sha('a'), state, attempt is { } a ? new AttemptId(a) : null, priority,
            T0, changedAt, queuedAt, "alice", $"Change {number}", "bob", null, null, 0);
        pr.Held = held;
        return pr;
    }

    private async Task SaveAsync(params object[] rows)
    {
        var changes = new Changes();
        changes.Attempts.AddRange(rows.OfType<MergeAttempt>());
        changes.PullRequests.AddRange(rows.OfType<PullRequest>());
        await _store.SaveAsync(changes, Cause.Test(), Ct);
    }

    [Test]
    public async Task GetActiveQueues_RowsOnSeveralTargets_ListsEachTargetWithActiveRowsOnce()
    {
        var release = new MergeAttempt(new AttemptId(7), new QueueId(new RepoId("acme", "widgets"), "release"), MergeAttemptState.Testing, T0);
        await SaveAsync(
            release,
            Pr(1, PullRequestState.Queued, T0), Pr(2, PullRequestState.Requested, T0),
            Pr(3, PullRequestState.Merged, T0, repo: Other), Pr(4, PullRequestState.Queued, T0, repo: new RepoId("Acme", "Zebra"), target: "dev"));

        // Acme/Gadgets has only a finished request: no queue. The attempt's lower-case spelling is the same repository.
        (await _store.GetActiveQueuesAsync(Ct)).Should().Equal(
            new QueueId(Repo, "main"), new QueueId(Repo, "release"), new QueueId(new RepoId("Acme", "Zebra"), "dev"));
    }

    [Test]
    public async Task GetPullRequestsInStates_EachStateItsOwnInstant_ReturnsOnlyTheRowsThatEnteredBefore()
    {
        await SaveAsync(
            Pr(1, PullRequestState.Requested, T0), Pr(2, PullRequestState.Queued, T0.AddMinutes(1)), Pr(3, PullRequestState.Queued, T0.AddMinutes(3)),
            Pr(4, PullRequestState.Failed, T0), Pr(5, PullRequestState.Queued, T0, repo: Other));

        var before = new Dictionary<PullRequestState, DateTimeOffset>
        {
            [PullRequestState.Queued] = T0.AddMinutes(2),
            // A fraction of a millisecond after the row's time is after it (rows keep whole milliseconds).
            [PullRequestState.Requested] = T0.AddTicks(5_000),
        };
        (await _store.GetPullRequestsInStatesAsync(new RepoId("acme", "WIDGETS"), before, Ct)).Select(p => p.Number).Should().Equal(1, 2);

        (await _store.GetPullRequestsInStatesAsync(Repo, new Dictionary<PullRequestState, DateTimeOffset> { [PullRequestState.Queued] = T0.AddMinutes(1) }, Ct))
            .Should().BeEmpty("a row that entered at the instant itself is not before it");
        (await _store.GetPullRequestsInStatesAsync(Repo, new Dictionary<PullRequestState, DateTimeOffset> { [PullRequestState.Queued] = DateTimeOffset.MaxValue }, Ct))
            .Select(p => p.Number).Should().Equal(2, 3);
        (await _store.GetPullRequestsInStatesAsync(Repo, new Dictionary<PullRequestState, DateTimeOffset>(), Ct)).Should().BeEmpty();
    }

    [Test]
    public async Task GetAttemptMembers_SomeAttempts_ReturnsTheirActivePullRequestsByRowId()
    {
        await SaveAsync(
            Attempt(7, MergeAttemptState.Testing), Attempt(8, MergeAttemptState.Split), Attempt(9, MergeAttemptState.Testing),
            Pr(3, PullRequestState.Split, T0, attempt: 8), Pr(1, PullRequestState.Merging, T0, attempt: 7), Pr(2, PullRequestState.Merging, T0, attempt: 9),
            Pr(4, PullRequestState.Queued, T0));
        var finished = Pr(5, PullRequestState.Merging, T0, attempt: 7);
        await SaveAsync(finished);
        finished.Fail("checks failed", T0.AddMinutes(1));
        await SaveAsync(finished);

        (await _store.GetAttemptMembersAsync([new AttemptId(7), new AttemptId(8)], Ct)).Select(p => p.Number).Should().Equal(3, 1);
        (await _store.GetAttemptMembersAsync([], Ct)).Should().BeEmpty();
    }

    [Test]
    public async Task GetQueueHead_PrioritiesAndHeldPrs_ReturnsTheFirstInBatchingOrderAndTheOldestWaiting()
    {
        (await _store.GetQueueHeadAsync(Queue, Ct)).Should().BeNull();
        await SaveAsync(
            Pr(1, PullRequestState.Queued, T0, queuedAt: T0),
            Pr(2, PullRequestState.Queued, T0.AddMinutes(5), priority: 1, queuedAt: T0.AddMinutes(5)),
            Pr(3, PullRequestState.Queued, T0.AddMinutes(2), priority: 1),
            Pr(4, PullRequestState.Queued, T0.AddMinutes(-10), priority: 2, queuedAt: T0.AddMinutes(-10), held: true),
            Pr(5, PullRequestState.Queued, T0.AddMinutes(-20), repo: Other),
            Pr(6, PullRequestState.Requested, T0.AddMinutes(-30)));

        var head = await _store.GetQueueHeadAsync(new QueueId(new RepoId("ACME", "widgets"), "main"), Ct);

        head!.First.Number.Should().Be(3, "priority first, then the earliest queued; PR 4 is held back");
        head.OldestQueuedAt.Should().Be(T0);
        (await _store.GetQueueHeadAsync(new QueueId(Repo, "release"), Ct)).Should().BeNull();
    }
}
