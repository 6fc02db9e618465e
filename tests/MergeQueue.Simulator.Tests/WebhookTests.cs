using System.Net;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>Deliveries reach a receiver that verifies them as the service will: headers, signatures, order, faults, redelivery.</summary>
[CancelAfter(30_000)]
[NonParallelizable]
public class WebhookTests : SimulatorTestBase
{
    private const string Secret = "It's a Secret to Everybody";

    [TearDown]
    public async Task ResetFaults() => await Control.SetWebhookFaultsAsync(new WebhookFaults());

    [Test]
    public void Signature_MatchesGitHubsTestVector()
    {
        Webhooks.WebhookDispatcher.Signature("sha256", Secret, System.Text.Encoding.UTF8.GetBytes("Hello, World!"))
            .Should().Be("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    }

    [Test]
    public async Task GlobalHook_ReceivesSignedEventsWithGitHubHeaders()
    {
        await using var receiver = new WebhookReceiver(Secret);
        var hook = await Control.RegisterHookAsync(receiver.Url, Secret);
        var repo = await NewRepoAsync();
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")), author: "alice");
        await Control.CommentAsync(repo, pr.Number, "alice", "@mergequeue merge");
        await Control.ReviewAsync(repo, pr.Number, "bob");

        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(receiver.Received.Any(r => r.Event == "pull_request_review")));
        var received = receiver.Received.Where(r => r.Payload["repository"]?["full_name"]?.GetValue<string>() == repo).ToList();
        received.Should().OnlyContain(r => r.SignatureValid);
        received.Should().OnlyContain(r => r.UserAgent!.StartsWith("GitHub-Hookshot/") && r.ContentType == "application/json" && r.HookId == hook.Id.ToString());
        received.Select(r => Guid.TryParse(r.Delivery, out var g) ? g : Guid.Empty).Should().NotContain(Guid.Empty);
        received.Select(r => (r.Event, r.Action)).Should().ContainInOrder(("push", null), ("pull_request", "opened"), ("issue_comment", "created"), ("pull_request_review", "submitted"));
        received.First(r => r.Event == "pull_request").Payload["installation"].Should().NotBeNull("global hooks act as a GitHub App");

        await SimulatorClient.WaitUntilAsync(async ct => (await Control.DeliveriesAsync("pull_request_review", ct: ct)).Any(d => d.StatusCode == 200));
    }

    [Test]
    public async Task RepoHook_CreatedThroughRestApi_GetsPingAndEvents()
    {
        await using var receiver = new WebhookReceiver(Secret);
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var config = new Dictionary<string, string> { ["url"] = receiver.Url, ["content_type"] = "json", ["secret"] = Secret };
        await Bot.Repository.Hooks.Create(o, n, new NewRepositoryHook("web", config) { Events = ["pull_request", "status"], Active = true });
        await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(receiver.Received.Any(r => r.Event == "pull_request") && receiver.Received.Any(r => r.Event == "ping")));
        receiver.Received.Where(r => r.HookId != null && r.Payload["installation"] is null).Select(r => r.Event).Should().NotContain("push", "the repo hook subscribed to pull_request and status only");
    }

    [Test]
    public async Task Redeliver_SendsSameDeliveryIdAgain()
    {
        await using var receiver = new WebhookReceiver(Secret);
        var hook = await Control.RegisterHookAsync(receiver.Url, Secret, ["issue_comment"]);
        var repo = await NewRepoAsync();
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        var comment = await Control.CommentAsync(repo, pr.Number, "alice", "unique-redeliver");
        var delivery = await SimulatorClient.WaitForAsync(ct => Control.DeliveriesAsync("issue_comment", ct: ct),
            ds => ds.Any(d => d.HookId == hook.Id && d.Payload.Contains("unique-redeliver") && d.StatusCode == 200));
        var original = delivery.First(d => d.HookId == hook.Id && d.Payload.Contains("unique-redeliver"));

        var again = await Control.RedeliverAsync(original.Id);

        again.Redelivery.Should().BeTrue();
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(receiver.Received.Count(r => r.Delivery == original.Id.ToString()) == 2));
        receiver.Received.Where(r => r.Delivery == original.Id.ToString()).Select(r => Convert.ToBase64String(r.Body)).Distinct().Should().ContainSingle();
        comment.Body.Should().Be("unique-redeliver");
    }

    [Test]
    public async Task Faults_DropDuplicateAndRecordAnswers()
    {
        await using var receiver = new WebhookReceiver(Secret, HttpStatusCode.Accepted);
        await Control.RegisterHookAsync(receiver.Url, Secret, ["issue_comment", "pull_request"]);
        var repo = await NewRepoAsync();
        await Control.SetWebhookFaultsAsync(new WebhookFaults(DropEvents: ["pull_request"], Duplicate: true));
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        await Control.CommentAsync(repo, pr.Number, "alice", "dup-me");
        await Control.WaitForIdleAsync();

        var mine = receiver.Received.Where(r => r.Payload["repository"]?["full_name"]?.GetValue<string>() == repo).ToList();
        mine.Should().NotContain(r => r.Event == "pull_request");
        mine.Where(r => r.Event == "issue_comment").Should().HaveCount(2).And.Subject.Select(r => r.Delivery).Distinct().Should().ContainSingle();
        var deliveries = (await Control.DeliveriesAsync()).Where(d => d.Repository == repo).ToList();
        deliveries.Should().Contain(d => d.Event == "pull_request" && d.Dropped && d.StatusCode == null);
        deliveries.Where(d => d.Event == "issue_comment").Should().OnlyContain(d => d.StatusCode == 202);
    }

    [Test]
    public async Task Faults_ShuffleWithinWindow_ChangesOrderButDeliversAll()
    {
        await using var receiver = new WebhookReceiver(Secret);
        await Control.RegisterHookAsync(receiver.Url, Secret, ["issue_comment"]);
        var repo = await NewRepoAsync();
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        await Control.SetWebhookFaultsAsync(new WebhookFaults(ShuffleWindow: 8, Seed: 3));
        // Queue the comments in-process so they are all waiting when the window fills.
        var handle = Sim.Engine.FindRepo("acme", Split(repo).Name)!;
        var bob = Sim.Engine.FindUser("acme")!;
        for (var i = 0; i < 8; i++) Sim.Engine.CreateComment(handle, pr.Number, bob, $"c{i}");
        await Control.WaitForIdleAsync();

        var bodies = receiver.Received.Where(r => r.Event == "issue_comment" && r.Payload["repository"]!["full_name"]!.GetValue<string>() == repo)
            .Select(r => r.Payload["comment"]!["body"]!.GetValue<string>()).ToList();
        bodies.Should().BeEquivalentTo(Enumerable.Range(0, 8).Select(i => $"c{i}"));
        bodies.Should().NotEqual(Enumerable.Range(0, 8).Select(i => $"c{i}"), "seed 3 shuffles the window");
    }
}
