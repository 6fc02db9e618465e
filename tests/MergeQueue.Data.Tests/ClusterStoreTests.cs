using MergeQueue.Core;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Data.Tests;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class ClusterStoreTests(string provider)
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);
    private TestDatabase _file = null!;
    private FakeTimeProvider _clock = null!;
    private ClusterStore _store = null!;

    [SetUp]
    public async Task SetUp()
    {
        _file = TestDatabase.Create(provider);
        _clock = new FakeTimeProvider(T0);
        _store = new ClusterStore(await _file.MigratedAsync(_clock), _clock);
    }

    [TearDown]
    public void TearDown() => _file.Dispose();

    [Test]
    public async Task Lease_HeldByOne_IsRefusedToAnotherUntilItExpires_ThenTakenOver()
    {
        (await _store.TryAcquireAsync("lane:acme/widgets", "node-a", Ttl)).Should().BeTrue();
        (await _store.TryAcquireAsync("lane:acme/widgets", "node-b", Ttl)).Should().BeFalse("node-a holds it");
        _clock.Advance(TimeSpan.FromSeconds(20));
        (await _store.TryAcquireAsync("lane:acme/widgets", "node-a", Ttl)).Should().BeTrue("the holder renews");
        _clock.Advance(TimeSpan.FromSeconds(20));
        (await _store.TryAcquireAsync("lane:acme/widgets", "node-b", Ttl)).Should().BeFalse("the renewal moved the expiry");
        _clock.Advance(TimeSpan.FromSeconds(11));
        (await _store.TryAcquireAsync("lane:acme/widgets", "node-b", Ttl)).Should().BeTrue("node-a stopped renewing: its lease expired");
        (await _store.TryAcquireAsync("lane:acme/widgets", "node-a", Ttl)).Should().BeFalse();

        var lease = (await _store.GetLeasesAsync()).Should().ContainSingle().Subject;
        lease.Should().Be(new LeaseRecord("lane:acme/widgets", "node-b", _clock.GetUtcNow(), _clock.GetUtcNow() + Ttl));
    }

    [Test]
    public async Task Release_ByItsHolderOnly_FreesTheLease()
    {
        await _store.TryAcquireAsync("notifier", "node-a", Ttl);
        await _store.ReleaseAsync("notifier", "node-b");
        (await _store.TryAcquireAsync("notifier", "node-b", Ttl)).Should().BeFalse("only the holder releases");
        await _store.ReleaseAsync("notifier", "node-a");
        (await _store.TryAcquireAsync("notifier", "node-b", Ttl)).Should().BeTrue();
    }

    [Test]
    public async Task Lease_ManyInstancesRacingForIt_ExactlyOneWins()
    {
        var stores = Enumerable.Range(0, 8).Select(_ => new ClusterStore(_file.Open(_clock), _clock)).ToArray();
        var won = await Task.WhenAll(stores.Select((s, i) => Task.Run(() => s.TryAcquireAsync("lane:acme/widgets", $"node-{i}", Ttl))));
        won.Count(w => w).Should().Be(1);
    }

    [Test]
    public async Task Instances_HeardFromLately_AreListed_AndSilentOnesForgotten()
    {
        await _store.HeartbeatAsync("node-a", "host-1", T0);
        _clock.Advance(TimeSpan.FromMinutes(1));
        await _store.HeartbeatAsync("node-b", "host-2", _clock.GetUtcNow());
        await _store.HeartbeatAsync("node-b", "host-2", _clock.GetUtcNow());

        (await _store.GetInstancesAsync(_clock.GetUtcNow().AddSeconds(-15))).Select(i => i.Id).Should().Equal("node-b");
        (await _store.GetInstancesAsync(T0)).Should().Equal(
            new InstanceRecord("node-a", "host-1", T0, T0),
            new InstanceRecord("node-b", "host-2", _clock.GetUtcNow(), _clock.GetUtcNow()));
        (await _store.ForgetInstancesAsync(_clock.GetUtcNow().AddSeconds(-15))).Should().Be(1);
        (await _store.GetInstancesAsync(T0)).Select(i => i.Id).Should().Equal("node-b");
    }
}

/// <summary>The repository lock of instances on one PostgreSQL: an advisory lock per repository.</summary>
public sealed class PostgresRepoLocksTests
{
    private TestDatabase _file = null!;

    [SetUp]
    public void SetUp() => _file = TestDatabase.Create("postgres");

    [TearDown]
    public void TearDown() => _file.Dispose();

    [Test]
    public async Task Lock_HeldByOneInstance_MakesAnotherWait_AndIsNamedInTheClusterView()
    {
        var a = (PostgresDatabase)await _file.MigratedAsync();
        var b = (PostgresDatabase)_file.Open();
        var repo = new RepoId("Acme", "Widgets");
        var held = await new PostgresRepoLocks(a).AcquireAsync(repo, CancellationToken.None);

        var waiting = new PostgresRepoLocks(b).AcquireAsync(new RepoId("acme", "widgets"), CancellationToken.None);
        var other = await new PostgresRepoLocks(b).AcquireAsync(new RepoId("acme", "gadgets"), CancellationToken.None);
        await Task.Delay(300);
        waiting.IsCompleted.Should().BeFalse("the same repository, whatever the case of its name, is locked by the other instance");
        (await a.GetHeldLocksAsync()).Select(l => l.Name).Should().Contain(["repo:acme/widgets", "repo:acme/gadgets"]);

        await held.DisposeAsync();
        await using (await waiting.WaitAsync(TimeSpan.FromSeconds(10))) { }
        await other.DisposeAsync();
    }

    [Test]
    public async Task Lock_WhoseHolderDied_IsFreedByTheServer()
    {
        var a = (PostgresDatabase)await _file.MigratedAsync();
        var b = (PostgresDatabase)_file.Open();
        var repo = new RepoId("acme", "widgets");
        _ = await new PostgresRepoLocks(a).AcquireAsync(repo, CancellationToken.None);
        var waiting = new PostgresRepoLocks(b).AcquireAsync(repo, CancellationToken.None);

        // The holder's sessions end as a crashed process's would.
        await using (var admin = await b.OpenAsync())
        await using (var kill = admin.CreateCommand())
        {
            kill.CommandText = "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()";
            await kill.ExecuteNonQueryAsync();
        }
        await using (await waiting.WaitAsync(TimeSpan.FromSeconds(10))) { }
    }
}
