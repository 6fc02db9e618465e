using MergeQueue.Core;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Data.Tests;

public sealed class WebhookInboxTests
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 4, 5, 6, 7, 0, TimeSpan.Zero);
    private TestDatabase _file = null!;
    private FakeTimeProvider _clock = null!;
    private WebhookInbox _inbox = null!;

    [SetUp]
    public async Task SetUp()
    {
        _file = TestDatabase.Create();
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
