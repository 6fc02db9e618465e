using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using MergeQueue.Data;
using MergeQueue.Service;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests.Notifications;

/// <summary>Issue 14 item 6: outgoing webhooks and Slack messages for merged, failed, timed out, stuck, frozen and unfrozen.</summary>
[CancelAfter(120_000)]
public class NotificationEndToEndTests
{
    private const string Repo = ServiceTester.Repo;
    private const string HookSecret = "notify-secret";

    private static string Config(string notify = "{ webhooks: [ops], slack: [team] }") =>
        ServiceTester.DefaultConfig + $"\nnotify: {notify}\n";

    /// <summary>Targets "ops" (webhook) and "team" (Slack) at the receiver, with fast rounds and retries.</summary>
    private static Dictionary<string, string?> Settings(NotificationReceiver receiver) => new()
    {
        ["MergeQueue:Notifications:Webhooks:0:Name"] = "ops",
        ["MergeQueue:Notifications:Webhooks:0:Url"] = new Uri(receiver.Url, "hook").ToString(),
        ["MergeQueue:Notifications:Webhooks:0:Secret"] = HookSecret,
        ["MergeQueue:Notifications:Slack:0:Name"] = "team",
        ["MergeQueue:Notifications:Slack:0:Url"] = new Uri(receiver.Url, "slack").ToString(),
        ["MergeQueue:Notifications:PollInterval"] = "00:00:00.100",
        ["MergeQueue:Notifications:RetryDelay"] = "00:00:00.100",
        ["MergeQueue:Notifications:MaxRetryDelay"] = "00:00:00.400",
        ["MergeQueue:Notifications:StuckCheckInterval"] = "00:00:00.200",
    };

    private static async Task<ReceivedNotification> WaitForAsync(NotificationReceiver receiver, string path, string @event)
    {
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(receiver.Accepted(path).Any(r => Is(r, path, @event))), TimeSpan.FromSeconds(30));
        return receiver.Accepted(path).First(r => Is(r, path, @event));
    }

    private static bool Is(ReceivedNotification r, string path, string @event) => path == "/hook"
        ? r.Json.GetProperty("event").GetString() == @event
        : r.Json.GetProperty("text").GetString()!.Contains(SlackWord(@event), StringComparison.Ordinal);

    private static string SlackWord(string @event) => @event switch
    {
        "merged" => "Merged into",
        "failed" => "Failed on",
        "timed_out" => "Timed out on",
        "stuck" => "is stuck",
        "frozen" => "frozen",
        _ => "open again",
    };

    private static void ShouldBeSigned(ReceivedNotification hook)
    {
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(HookSecret), Encoding.UTF8.GetBytes(hook.Body)));
        hook.Header("X-MergeQueue-Signature-256").Should().Be(expected);
        hook.Header("Content-Type").Should().StartWith("application/json");
    }

    [Test]
    public async Task Merged_WebhookAndSlack_SignedJsonWithThePrAndASlackText()
    {
        await using var receiver = await NotificationReceiver.StartAsync();
        await using var t = await ServiceTester.StartAsync(Config(), settings: Settings(receiver));
        var n = await t.OpenPrAsync(title: "Add <widgets> & more");
        await t.ApproveAndMergeAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));

        var hook = await WaitForAsync(receiver, "/hook", "merged");
        ShouldBeSigned(hook);
        hook.Header("X-MergeQueue-Event").Should().Be("merged");
        var json = hook.Json;
        json.GetProperty("repository").GetString().Should().Be(Repo);
        json.GetProperty("target").GetString().Should().Be("main");
        json.GetProperty("pull_requests")[0].GetProperty("number").GetInt32().Should().Be(n);
        json.GetProperty("pull_requests")[0].GetProperty("title").GetString().Should().Be("Add <widgets> & more");
        json.GetProperty("pull_requests")[0].GetProperty("url").GetString().Should().Be($"http://mq.example/repos/acme/widgets/pulls/{n}");
        json.GetProperty("attempt").GetInt64().Should().BePositive();
        json.GetProperty("sha").GetString().Should().Be(await t.Control.BranchShaAsync(Repo, "main"));
        json.GetProperty("links").GetProperty("repository").GetString().Should().Be("http://mq.example/repos/acme/widgets");
        var slack = await WaitForAsync(receiver, "/slack", "merged");
        slack.Header("X-MergeQueue-Signature-256").Should().BeNull("Slack's incoming webhooks take no signature");
        slack.Json.EnumerateObject().Select(p => p.Name).Should().Equal("text");
        slack.Json.GetProperty("text").GetString().Should().Be(
            $":white_check_mark: Merged into <http://mq.example/repos/acme/widgets|acme/widgets> main: <http://mq.example/repos/acme/widgets/pulls/{n}|#{n}> Add &lt;widgets&gt; &amp; more", "Slack reads <, > and & as markup");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Failed_ChecksFail_NotifiesWithTheReason()
    {
        await using var receiver = await NotificationReceiver.StartAsync();
        await using var t = await ServiceTester.StartAsync(Config(), settings: Settings(receiver));
        var n = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        await t.ApproveAndMergeAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));

        var hook = await WaitForAsync(receiver, "/hook", "failed");
        ShouldBeSigned(hook);
        hook.Json.GetProperty("reason").GetString().Should().Be("Checks failed: ci");
        hook.Json.GetProperty("pull_requests")[0].GetProperty("number").GetInt32().Should().Be(n);
        (await WaitForAsync(receiver, "/slack", "failed")).Json.GetProperty("text").GetString().Should().StartWith(":x: Failed on").And.EndWith(": Checks failed: ci");
        receiver.Accepted("/hook").Should().NotContain(r => r.Json.GetProperty("event").GetString() == "merged");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task TimedOut_RequestNeverApproved_NotifiesTimedOut()
    {
        await using var receiver = await NotificationReceiver.StartAsync();
        await using var t = await ServiceTester.StartAsync(Config(), settings: Settings(receiver));
        var n = await t.OpenPrAsync();
        await t.MergeAsync(n); // no approval: it stays requested
        await t.SettleAsync();

        t.Clock.Advance(TimeSpan.FromMinutes(61));
        await t.TickAsync();
        await t.SettleAsync();

        var hook = await WaitForAsync(receiver, "/hook", "timed_out");
        ShouldBeSigned(hook);
        hook.Json.GetProperty("reason").GetString().Should().StartWith("Timed out");
        await WaitForAsync(receiver, "/slack", "timed_out");
    }

    [Test]
    public async Task FreezeAndUnfreeze_ByAdmin_NotifyFrozenWithReasonAndUnfrozen_ThenStuckOnce()
    {
        await using var receiver = await NotificationReceiver.StartAsync();
        await using var t = await ServiceTester.StartAsync(Config("{ webhooks: ops, slack: team, stuck_after: 2h }"), settings: Settings(receiver));
        await t.Control.SetPermissionAsync(Repo, "carol", "admin");
        var n = await t.OpenPrAsync(title: "Blocked change");
        await t.ApproveAndMergeAsync(n);
        await t.CommentAsync(n, "@mergequeue freeze release 2.0 going out", by: "carol");
        await t.StartBatchAsync();

        var frozen = await WaitForAsync(receiver, "/hook", "frozen");
        ShouldBeSigned(frozen);
        (frozen.Json.GetProperty("target").GetString(), frozen.Json.GetProperty("actor").GetString(), frozen.Json.GetProperty("reason").GetString())
            .Should().Be(("main", "carol", "release 2.0 going out"));
        (await WaitForAsync(receiver, "/slack", "frozen")).Json.GetProperty("text").GetString().Should().EndWith("main frozen by carol: release 2.0 going out");

        // Frozen, nothing merges: two hours later the target is stuck, announced once however often it is checked.
        t.Clock.Advance(TimeSpan.FromHours(2));
        var stuck = await WaitForAsync(receiver, "/hook", "stuck");
        stuck.Json.GetProperty("pull_requests")[0].GetProperty("title").GetString().Should().Be("Blocked change");
        stuck.Json.GetProperty("stuck_after_seconds").GetInt64().Should().Be(7200);
        (await WaitForAsync(receiver, "/slack", "stuck")).Json.GetProperty("text").GetString().Should().Contain("main is stuck: nothing merged for 2h while 1 PR(s) wait");
        t.Clock.Advance(TimeSpan.FromHours(1));
        await Task.Delay(1000); // several stuck checks (every 200 ms): proving a message does NOT come needs time to pass
        receiver.Accepted("/hook").Count(r => r.Json.GetProperty("event").GetString() == "stuck").Should().Be(1);

        await t.CommentAsync(n, "@mergequeue treeopen", by: "carol");
        var unfrozen = await WaitForAsync(receiver, "/hook", "unfrozen");
        unfrozen.Json.GetProperty("actor").GetString().Should().Be("carol");
        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        await WaitForAsync(receiver, "/hook", "merged");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Webhook_ReceiverFailsTwice_RetriedUntilDeliveredAndEveryTryLogged()
    {
        await using var receiver = await NotificationReceiver.StartAsync();
        receiver.FailNext(2);
        await using var t = await ServiceTester.StartAsync(Config("{ webhooks: [ops] }"), settings: Settings(receiver));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));

        var delivered = await WaitForAsync(receiver, "/hook", "merged");
        var tries = receiver.Received.Where(r => r.Header("X-MergeQueue-Delivery") == delivered.Header("X-MergeQueue-Delivery")).ToList();
        tries.Select(r => r.Answered).Should().Equal(500, 500, 200);
        tries.Select(r => r.Body).Distinct().Should().ContainSingle("a retry sends the same signed bytes");
        receiver.Received.Should().NotContain(r => r.Path == "/slack", "the repository named no Slack target");

        // The receiver answered before the notifier recorded the answer: wait for the record.
        var outbox = t.Service.Services.GetRequiredService<NotificationStore>();
        await SimulatorClient.WaitUntilAsync(async _ => (await outbox.RecentAsync(10)).Single().Notification.State == NotificationStore.Delivered, TimeSpan.FromSeconds(10));
        var (notification, attempts) = (await outbox.RecentAsync(10)).Single();
        (notification.State, notification.Attempts).Should().Be((NotificationStore.Delivered, 3));
        attempts.Select(a => a.StatusCode).Should().Equal(500, 500, 200);
        attempts[0].Error.Should().Be("HTTP 500");
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        var page = await http.GetStringAsync("notifications");
        page.Should().Contain($"data-notification=\"{notification.Id}\"").And.Contain("delivered").And.Contain("HTTP 500").And.Contain("webhook <strong>ops</strong>");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Restart_WhileTheReceiverIsDown_DeliversOnceAfterward()
    {
        await using var receiver = await NotificationReceiver.StartAsync();
        receiver.FailNext(1_000_000);
        var settings = Settings(receiver);
        settings["MergeQueue:Notifications:RetryDelay"] = "00:00:01";
        await using var t = await ServiceTester.StartAsync(Config("{ webhooks: [ops] }"), settings: settings);
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(receiver.Received.Any(r => r.Path == "/hook")), TimeSpan.FromSeconds(30));

        await t.StopServiceAsync();
        receiver.FailNext(0);
        await t.StartServiceAsync(settings);

        await WaitForAsync(receiver, "/hook", "merged");
        await Task.Delay(500); // a few notifier rounds after the restart: nothing is queued or sent twice
        receiver.Accepted("/hook").Should().ContainSingle();
        await using var connection = await t.OpenDatabaseAsync();
        (await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM notification")).Should().Be(1);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [TestCase("MergeQueue:Notifications:Webhooks:0:Secret", "Secret is missing")]
    [TestCase("MergeQueue:Notifications:Webhooks:0:Url", "Url must be an absolute http or https URL")]
    public void Settings_WebhookWithoutSecretOrUrl_RefusesToStart(string missing, string message)
    {
        var settings = new Dictionary<string, string?>
        {
            ["MergeQueue:GitHub:Token"] = "x",
            ["MergeQueue:GitHub:WebhookSecret"] = "x",
            ["MergeQueue:Notifications:Webhooks:0:Name"] = "ops",
            ["MergeQueue:Notifications:Webhooks:0:Url"] = "http://127.0.0.1:9/hook",
            ["MergeQueue:Notifications:Webhooks:0:Secret"] = "s",
        };
        settings.Remove(missing);
        var start = () => ServiceHost.Build([], settings);
        start.Should().Throw<InvalidOperationException>().WithMessage($"*{message}*");
    }
}
