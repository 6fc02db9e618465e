using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Data.Tests;

/// <summary>Frozen targets and try builds outlive the process: a new store on the same file sees them.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class FreezeAndTryStoreTests(string provider)
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly RepoId Repo = new("acme", "widgets");
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private TestDatabase _file = null!;

    [SetUp]
    public void SetUp() => _file = TestDatabase.Create(provider);

    [TearDown]
    public void TearDown() => _file.Dispose();

    [Test]
    public async Task Freeze_SetThenReadByAnotherStore_KeepsWhoWhenAndWhy()
    {
        var main = new QueueId(Repo, "main");
        await new QueueStore(await _file.MigratedAsync()).SetFreezeAsync(new QueueFreeze(main, "carol", T0, "release day"), Ct);

        var restarted = new QueueStore(_file.Open());
        (await restarted.GetFreezeAsync(new QueueId(new RepoId("ACME", "Widgets"), "main"), Ct)).Should().Be(new QueueFreeze(main, "carol", T0, "release day"));
        (await restarted.GetFreezeAsync(new QueueId(Repo, "release"), Ct)).Should().BeNull("freezes are per target");

        await restarted.SetFreezeAsync(new QueueFreeze(main, "alice", T0.AddHours(1), null), Ct);
        (await restarted.GetFreezeAsync(main, Ct))!.FrozenBy.Should().Be("alice");
        (await restarted.ClearFreezeAsync(main, Ct)).Should().BeTrue();
        (await restarted.ClearFreezeAsync(main, Ct)).Should().BeFalse();
        (await restarted.GetFreezeAsync(main, Ct)).Should().BeNull();
    }

    [Test]
    public async Task FindLatestPullRequest_AfterAFinishedRequest_ReturnsTheNewestRow()
    {
        var store = new QueueStore(await _file.MigratedAsync());
        (await store.FindLatestPullRequestAsync(Repo, 7, Ct)).Should().BeNull();
        var first = Core.PullRequests.PullRequest.Create(Repo, 7, "main", new CommitSha("aaa"), 3, T0);
        await store.SaveAsync(new Changes { PullRequests = { first } }, Cause.Test(), Ct);
        first.Fail("checks failed", T0.AddMinutes(1));
        await store.SaveAsync(new Changes { PullRequests = { first } }, Cause.Test(), Ct);

        (await store.FindLatestPullRequestAsync(Repo, 7, Ct))!.Should().Match<Core.PullRequests.PullRequest>(p => p.Priority == 3 && !p.IsActive);

        var second = Core.PullRequests.PullRequest.Create(Repo, 7, "release", new CommitSha("bbb"), 0, T0.AddMinutes(2));
        await store.SaveAsync(new Changes { PullRequests = { second } }, Cause.Test(), Ct);
        (await store.FindLatestPullRequestAsync(Repo, 7, Ct))!.Target.Should().Be("release");
    }

    [Test]
    public async Task Try_SavedTwice_KeepsOnlyTheLatestAndListsRunningOnes()
    {
        var store = new QueueStore(await _file.MigratedAsync());
        var first = new TryBuild(Repo, 7, "main", new CommitSha("aaa"), new CommitSha("bbb"), TryState.Running, "bob", T0, "running");
        await store.SaveTryAsync(first, Ct);
        await store.SaveTryAsync(new TryBuild(Repo, 8, "main", new CommitSha("ccc"), null, TryState.Failed, "bob", T0, "conflict"), Ct);
        (await store.GetRunningTriesAsync(null, Ct)).Should().Equal(first);

        var second = first with { HeadSha = new CommitSha("ddd"), TrySha = new CommitSha("eee"), StartedAt = T0.AddMinutes(5) };
        await store.SaveTryAsync(second, Ct);
        (await store.GetTryAsync(Repo, 7, Ct)).Should().Be(second);
        (await store.GetRunningTriesAsync(Repo, Ct)).Should().Equal(second);
        (await store.GetRunningTriesAsync(new RepoId("acme", "other"), Ct)).Should().BeEmpty();
    }
}
