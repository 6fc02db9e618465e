using MergeQueue.Core;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Data.Tests;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class WebhookInboxTests(string provider)
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 4, 5, 6, 7, 0, TimeSpan.Zero);
    private TestDatabase _file = null!;
    private FakeTimeProvider _clock = null!;
    private WebhookInbox _inbox = null!;

    [SetUp]
    public async Task SetUp()
    {
        _file = TestDatabase.Create(provider);
        _clock = new FakeTimeProvider(T0.AddMinutes(5));
        _inbox = new WebhookInbox(await _file.MigratedAsync(_clock), _clock);
    }

    [TearDown]
    public void TearDown() => _file.Dispose();

    private static WebhookDelivery Delivery(string id, string payload = "{}") =>
        new(id, "issue_comment", "created", new RepoId("Acme", "Widgets"), payload, T0);

    [Test]
    public async Task TryAcceptAsync_SameDeliveryTwice_StoresItOnce()
    {
        (await _inbox.TryAcceptAsync(Delivery("d-1", """{"first":true}"""))).Should().BeTrue();
        (await _inbox.TryAcceptAsync(Delivery("d-1", """{"second":true}"""))).Should().BeFalse();

        var stored = await _inbox.GetAsync("d-1");
        stored.Should().Be(Delivery("d-1", """{"first":true}"""));
        (await _inbox.GetUnprocessedAsync(10)).Should().ContainSingle();
    }

    [Test]
    public async Task TryAcceptAsync_AfterProcessed_StillRefusesTheRedelivery()
    {
        await _inbox.TryAcceptAsync(Delivery("d-1"));
        await _inbox.MarkProcessedAsync("d-1", "handled");

        (await _inbox.TryAcceptAsync(Delivery("d-1"))).Should().BeFalse();
        (await _inbox.GetUnprocessedAsync(10)).Should().BeEmpty();
    }

    [Test]
    public async Task TryAcceptAsync_ConcurrentCallers_ShareCommitsAndEveryTrueIsARow()
    {
        // 200 callers at once, each id twice: exactly one of each pair is accepted, and every accepted id is stored.
        var ids = Enumerable.Range(0, 200).Select(i => $"g-{i}").ToArray();
        var results = await Task.WhenAll(ids.Concat(ids).Select(id => Task.Run(async () => (id, ok: await _inbox.TryAcceptAsync(Delivery(id))))));

        results.Where(r => r.ok).Select(r => r.id).Should().BeEquivalentTo(ids);
        (await _inbox.GetUnprocessedAsync(1000)).Select(d => d.DeliveryId).Should().BeEquivalentTo(ids);
    }

    [Test]
    public async Task TryAcceptAsync_RedeliveryOfADeadOrRejectedDelivery_QueuesItAgain()
    {
        await _inbox.TryAcceptAsync(Delivery("dead"));
        await _inbox.TryAcceptAsync(Delivery("rejected"));
        await _inbox.TryAcceptAsync(Delivery("handled"));
        await _inbox.MarkProcessedAsync("dead", WebhookInbox.Dead, "GitHub down");
        await _inbox.MarkProcessedAsync("rejected", "rejected", "bad payload");
        await _inbox.MarkProcessedAsync("handled", "checked");

        (await _inbox.TryAcceptAsync(Delivery("dead", """{"again":1}"""))).Should().BeTrue();
        (await _inbox.TryAcceptAsync(Delivery("rejected"))).Should().BeTrue();
        (await _inbox.TryAcceptAsync(Delivery("handled"))).Should().BeFalse();

        (await _inbox.GetUnprocessedAsync(10)).Select(d => d.DeliveryId).Should().Equal("dead", "rejected");
        var again = await _inbox.GetAsync("dead");
        again!.Payload.Should().Be("""{"again":1}""");
        again.Error.Should().BeNull();
        again.Attempts.Should().Be(0);
    }

    [Test]
    public async Task GetDueAsync_ARetryThatHolds_KeepsItsRepositorysLaterDeliveriesWaitingButNotOthers()
    {
        var acme = new RepoId("Acme", "Widgets");
        var other = new RepoId("Other", "Gadgets");
        await _inbox.TryAcceptAsync(Delivery("a1") with { Repo = acme });
        await _inbox.TryAcceptAsync(Delivery("o1") with { Repo = other });
        await _inbox.TryAcceptAsync(Delivery("a2") with { Repo = acme });

        await _inbox.ScheduleRetryAsync("a1", "503", _clock.GetUtcNow().AddMinutes(1), holds: true);
        (await _inbox.GetDueAsync(10, [])).Select(d => d.DeliveryId).Should().Equal("o1");
        (await _inbox.GetNextRetryAsync()).Should().Be(_clock.GetUtcNow().AddMinutes(1));

        _clock.Advance(TimeSpan.FromMinutes(1));
        (await _inbox.GetDueAsync(10, [])).Select(d => d.DeliveryId).Should().Equal("a1", "o1", "a2");
        (await _inbox.GetAsync("a1"))!.Attempts.Should().Be(1);
        // A repository being handled elsewhere is left alone, whatever the case of its name.
        (await _inbox.GetDueAsync(10, ["acme/WIDGETS"])).Select(d => d.DeliveryId).Should().Equal("o1");
    }

    [Test]
    public async Task GetDueAsync_APoisonRetry_HoldsUpNothing()
    {
        await _inbox.TryAcceptAsync(Delivery("p1"));
        await _inbox.TryAcceptAsync(Delivery("p2"));

        await _inbox.ScheduleRetryAsync("p1", "NullReferenceException", _clock.GetUtcNow().AddMinutes(1), holds: false);

        (await _inbox.GetDueAsync(10, [])).Select(d => d.DeliveryId).Should().Equal("p2");
        (await _inbox.GetUnprocessedAsync(10)).Select(d => d.DeliveryId).Should().Equal("p1", "p2");
    }

    [Test]
    public async Task ReplayAsync_QueuesADeadDeliveryAgain_AndRefusesOneThatDidNotFail()
    {
        await _inbox.TryAcceptAsync(Delivery("dead"));
        await _inbox.TryAcceptAsync(Delivery("fine"));
        await _inbox.ScheduleRetryAsync("dead", "503", _clock.GetUtcNow(), holds: true);
        await _inbox.MarkProcessedAsync("dead", WebhookInbox.Dead, "503");
        await _inbox.MarkProcessedAsync("fine", "checked");

        (await _inbox.GetDeadAsync(10)).Select(d => (d.DeliveryId, d.Error, d.Attempts)).Should().Equal(("dead", "503", 1));
        (await _inbox.ReplayAsync("fine")).Should().BeFalse();
        (await _inbox.ReplayAsync("unknown")).Should().BeFalse();
        (await _inbox.ReplayAsync("dead")).Should().BeTrue();

        (await _inbox.GetDeadAsync(10)).Should().BeEmpty();
        (await _inbox.GetDueAsync(10, [])).Select(d => (d.DeliveryId, d.Attempts)).Should().Equal(("dead", 0));
    }

    [Test]
    public async Task GetUnprocessedAsync_ReturnsInAcceptOrderUpToTheLimit()
    {
        // Same received time for all: the order must come from the accept order, not the clock.
        foreach (var id in new[] { "c", "a", "d", "b" })
            await _inbox.TryAcceptAsync(Delivery(id));

        (await _inbox.GetUnprocessedAsync(3)).Select(d => d.DeliveryId).Should().Equal("c", "a", "d");
        await _inbox.MarkProcessedAsync("a", "ignored");
        (await _inbox.GetUnprocessedAsync(10)).Select(d => d.DeliveryId).Should().Equal("c", "d", "b");
    }

    [Test]
    public async Task MarkProcessedAsync_RecordsOutcomeErrorAndTime()
    {
        await _inbox.TryAcceptAsync(Delivery("d-1"));
        _clock.Advance(TimeSpan.FromSeconds(3));

        (await _inbox.MarkProcessedAsync("d-1", "failed", "boom")).Should().BeTrue();
        (await _inbox.MarkProcessedAsync("unknown", "failed")).Should().BeFalse();

        var stored = await _inbox.GetAsync("d-1");
        stored!.ProcessedAt.Should().Be(T0.AddMinutes(5).AddSeconds(3));
        stored.Outcome.Should().Be("failed");
        stored.Error.Should().Be("boom");
    }

    [Test]
    public async Task TryAcceptAsync_DeliveryWithoutRepository_RoundTrips()
    {
        // Some events (ping, installation) name no repository.
        var ping = new WebhookDelivery("p-1", "ping", null, null, """{"zen":"Keep it simple."}""", T0);
        await _inbox.TryAcceptAsync(ping);

        (await _inbox.GetAsync("p-1")).Should().Be(ping);
    }
}
