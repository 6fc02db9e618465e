using System.Net;
using MergeQueue.Data;
using MergeQueue.EndToEnd.Tests.Api;
using MergeQueue.Service.Webhooks;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>
/// Issue 13 item 2: a delivery whose handling fails is retried with backoff, parked as dead after
/// the last try, shown and replayed through the API and the dashboard, handled again when GitHub
/// redelivers it; and one repository that GitHub refuses never holds up another.
/// </summary>
public sealed class DeliveryRetryTests
{
    private const string AdminKey = "bootstrap-admin-key-for-delivery-tests-0123456789";

    private static Task<ServiceTester> StartAsync(int maxAttempts, int githubTries = 1) => ServiceTester.StartAsync(settings: new Dictionary<string, string?>
    {
        ["MergeQueue:Api:AdminKey"] = AdminKey,
        ["MergeQueue:Webhooks:MaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MergeQueue:Webhooks:RetryDelay"] = "00:01:00",
        // 1: one try per GitHub call, so the delivery, not the adapter, retries.
        ["MergeQueue:GitHub:Retry:MaxAttempts"] = githubTries.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    private static WebhookInbox Inbox(ServiceTester t) => t.Service.Services.GetRequiredService<WebhookInbox>();

    /// <summary>The service's inbox row of the simulator's last delivery of this event.</summary>
    private static async Task<WebhookDelivery> WaitForDeliveryAsync(ServiceTester t, string eventName, Func<WebhookDelivery, bool> until)
    {
        WebhookDelivery? found = null;
        await SimulatorClient.WaitUntilAsync(async ct =>
        {
            var last = (await t.Control.DeliveriesAsync(eventName, ct: ct)).LastOrDefault();
            found = last is null ? null : await Inbox(t).GetAsync(last.Id.ToString(), ct);
            return found is not null && until(found);
        }, TimeSpan.FromSeconds(30));
        return found!;
    }

    /// <summary>GitHub answers 503 to every read of the repository's pull requests (count: plenty).</summary>
    private static Task PullsUnavailableAsync(ServiceTester t) =>
        t.Control.InjectApiFaultAsync(new ApiFault("unavailable", Count: 10_000, Method: "GET", PathPrefix: $"/repos/{ServiceTester.Repo}/pulls"));

    [Test]
    public async Task FailingDelivery_IsRetriedWithBackoff_ParkedDead_ListedAndReplayedByAnAdmin()
    {
        await using var t = await StartAsync(maxAttempts: 2);
        using var admin = new ApiClient(t.ServiceUrl, AdminKey);
        var pr = await t.OpenPrAsync();
        await t.ApproveAsync(pr);
        await t.SettleAsync();

        await PullsUnavailableAsync(t);
        await t.MergeAsync(pr);
        var failed = await WaitForDeliveryAsync(t, "issue_comment", d => d.Attempts == 1);
        failed.ProcessedAt.Should().BeNull("it is waiting for its retry");
        failed.Error.Should().Contain("503");

        // The retry falls due on the queue's clock: the second try fails too, and that was the last.
        t.Clock.Advance(TimeSpan.FromMinutes(1));
        t.Service.Services.GetRequiredService<DeliveryProcessor>().Signal();
        var dead = await WaitForDeliveryAsync(t, "issue_comment", d => d.Outcome == WebhookInbox.Dead);
        dead.Attempts.Should().Be(1);

        var listed = await admin.GetAsync("/api/v1/deliveries/dead");
        listed.Status.Should().Be(HttpStatusCode.OK, listed.ToString());
        listed.Json.EnumerateArray().Select(d => d.GetProperty("delivery").GetString()).Should().Equal(dead.DeliveryId);
        listed.Json[0].GetProperty("error").GetString().Should().Contain("503");
        (await new ApiClient(t.ServiceUrl, null).GetAsync("/api/v1/deliveries/dead")).Status.Should().Be(HttpStatusCode.Unauthorized);

        // Replay before the cause is gone is allowed; replay of a handled delivery is refused.
        var handled = (await t.Control.DeliveriesAsync("pull_request_review")).Last().Id.ToString();
        (await admin.PostAsync($"/api/v1/deliveries/{handled}/replay")).Status.Should().Be(HttpStatusCode.Conflict);
        (await admin.PostAsync("/api/v1/deliveries/no-such-delivery/replay")).Status.Should().Be(HttpStatusCode.NotFound);

        await t.Control.ClearApiFaultsAsync();
        var replay = await admin.PostAsync($"/api/v1/deliveries/{dead.DeliveryId}/replay");
        replay.Status.Should().Be(HttpStatusCode.Accepted, replay.ToString());

        await t.RunUntilAsync(async () => (await t.PrAsync(pr)).Merged);
        (await Inbox(t).GetAsync(dead.DeliveryId))!.Outcome.Should().NotBe(WebhookInbox.Dead);
        (await admin.GetAsync("/api/v1/deliveries/dead")).Json.GetArrayLength().Should().Be(0);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task GitHubsRedeliverOfAFailedDelivery_IsHandledAgain()
    {
        await using var t = await StartAsync(maxAttempts: 1);
        var pr = await t.OpenPrAsync();
        await t.ApproveAsync(pr);
        await t.SettleAsync();

        await PullsUnavailableAsync(t);
        await t.MergeAsync(pr);
        var dead = await WaitForDeliveryAsync(t, "issue_comment", d => d.Outcome == WebhookInbox.Dead);

        await t.Control.ClearApiFaultsAsync();
        await t.Control.RedeliverAsync(Guid.Parse(dead.DeliveryId));
        await WaitForDeliveryAsync(t, "issue_comment", d => d.ProcessedAt is not null && d.Outcome != WebhookInbox.Dead);

        await t.RunUntilAsync(async () => (await t.PrAsync(pr)).Merged);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task ARepositoryGitHubRateLimits_DoesNotHoldUpAnother()
    {
        // The adapter waits out GitHub's retry-after (real time) within one handling: the lane of that
        // repository is busy for a minute, and only that lane.
        await using var t = await StartAsync(maxAttempts: 8, githubTries: 6);
        const string other = "acme/gadgets";
        await t.Control.CreateRepositoryAsync(other, new Dictionary<string, string> { [".github/mergequeue.yml"] = ServiceTester.DefaultConfig, ["README.md"] = "hi\n" });
        await t.Control.SetPermissionAsync(other, "bob", "write");
        await t.Control.SetPermissionAsync(other, ServiceTester.Bot, "write");
        var blocked = await t.OpenPrAsync();
        await t.ApproveAsync(blocked);
        var free = (await t.Control.OpenPullRequestWithFilesAsync(other, "feature/g", new Dictionary<string, string?> { ["g.txt"] = "g\n" }, "G", "alice")).Number;
        await t.Control.ReviewAsync(other, free, "bob");
        await t.SettleAsync();

        // acme/widgets is rate limited for a long while.
        await t.Control.InjectApiFaultAsync(new ApiFault("rate_limit", Count: 10_000, PathPrefix: $"/repos/{ServiceTester.Repo}/", RetryAfterSeconds: 60));
        await t.MergeAsync(blocked);
        await t.Control.CommentAsync(other, free, "bob", "@mergequeue merge");

        // gadgets merges while widgets' command is still stuck behind the rate limit.
        for (var i = 0; i < 40 && !(await t.Control.GetPullRequestAsync(other, free)).Merged; i++)
        {
            // Settled, except for widgets: everything delivered and every gadgets delivery handled.
            await SimulatorClient.WaitUntilAsync(async ct => (await t.Control.IdleAsync(ct)).Idle
                && (await Inbox(t).GetUnprocessedAsync(100, ct)).All(d => d.Repo?.ToString() == ServiceTester.Repo), TimeSpan.FromSeconds(30));
            t.Clock.Advance(TimeSpan.FromMinutes(1));
            await t.TickAsync();
        }
        (await t.Control.GetPullRequestAsync(other, free)).Merged.Should().BeTrue("another repository's deliveries go on");
        var widgets = (await t.Control.DeliveriesAsync("issue_comment")).Single(d => d.Repository == ServiceTester.Repo);
        (await Inbox(t).GetAsync(widgets.Id.ToString()))!.ProcessedAt.Should().BeNull("widgets is still rate limited");
        (await t.PrAsync(blocked)).Merged.Should().BeFalse();
    }
}
