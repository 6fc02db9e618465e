using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>Issue 13: whose approvals count, and which head a command or an approval is for, through the real service and the simulator.</summary>
[CancelAfter(120_000)]
public class ApprovalEndToEndTests
{
    private const string Repo = ServiceTester.Repo;

    [Test]
    public async Task Approval_ByReadOnlyUser_DoesNotCount_UntilAWriterApproves()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAsync(n, by: "mallory");
        var merge = await t.MergeAsync(n, by: "bob");

        await t.StartBatchAsync();

        (await t.ReactionsAsync(n, merge)).Should().Equal("+1");
        (await t.QueueStatusAsync(n))!.Should().Match<StatusSnapshot>(s => s.State == "pending"
            && s.Description == "Requested, waiting for 1 more approving review (1 required); not counted, no write permission: mallory");
        (await t.QueueBranchesAsync()).Should().BeEmpty("nothing is built for a PR without a counted approval");
        (await t.PrAsync(n)).Merged.Should().BeFalse();

        await t.ApproveAsync(n, by: "carol");

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Merge_WrittenBeforeAPush_HandledAfterIt_IsRefusedForTheNewHead()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig.Replace("required_approvals: 1", "required_approvals: 0"));
        var n = await t.OpenPrAsync();
        await t.SettleAsync();

        // The comment's delivery is held back (dropped, redelivered later), so the service handles it after the push.
        await t.Control.SetWebhookFaultsAsync(new WebhookFaults(DropEvents: ["issue_comment"]));
        var merge = await t.MergeAsync(n);
        var held = (await SimulatorClient.WaitForAsync(ct => t.Control.DeliveriesAsync("issue_comment", ct: ct), d => d.Any(x => x.Dropped))).Single(x => x.Dropped);
        await WaitForTheNextSecondAsync(merge.CreatedAt);
        var pushed = await t.Control.PushToPullRequestAsync(Repo, n, new Dictionary<string, string?> { ["late.txt"] = "pushed after the comment\n" });
        await t.SettleAsync();
        await t.Control.SetWebhookFaultsAsync(new WebhookFaults());
        await t.Control.RedeliverAsync(held.Id);
        await t.StartBatchAsync();

        (await t.ReactionsAsync(n, merge)).Should().Equal("confused");
        (await t.QueueStatusAsync(n)).Should().BeNull("a refused command never sets the status");
        (await t.PrAsync(n)).Should().Match<Simulator.Control.PullRequestInfo>(p => !p.Merged && p.HeadSha == pushed.Sha);
        (await t.QueueBranchesAsync()).Should().BeEmpty();

        var again = await t.MergeAsync(n);
        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.ReactionsAsync(n, again)).Should().Equal("+1");
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task QueueOnApproval_ApprovalOfACommitNoLongerTheHead_RequestsNothing()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\nqueue_on_approval: true\n");
        var n = await t.OpenPrAsync();
        var approved = (await t.PrAsync(n)).HeadSha;
        await t.Control.PushToPullRequestAsync(Repo, n, new Dictionary<string, string?> { ["more.txt"] = "more\n" });

        await t.Control.ReviewAsync(Repo, n, "bob", commitId: approved);
        await t.StartBatchAsync();

        (await t.QueueStatusAsync(n)).Should().BeNull("the approval was for a commit that is no longer the head");
        (await t.QueueBranchesAsync()).Should().BeEmpty();

        await t.ApproveAsync(n, by: "carol");
        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task CancelAndRetry_ByReadOnlyUser_GetConfusedAndChangeNothing()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig.Replace("batch_delay: 1m", "batch_delay: 10m"));
        var failed = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        await t.ApproveAndMergeAsync(failed);
        await t.RunUntilAsync(() => t.AllClosedAsync(failed));
        var queued = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(queued);
        await t.SettleAsync();
        var queuedStatus = (await t.QueueStatusAsync(queued))!;
        queuedStatus.Description.Should().StartWith("Queued: position 1");

        var cancel = await t.CommentAsync(queued, "@mergequeue cancel", by: "mallory");
        var retry = await t.CommentAsync(failed, "@mergequeue retry", by: "mallory");
        await t.SettleAsync();

        (await t.ReactionsAsync(queued, cancel)).Should().Equal("confused");
        (await t.ReactionsAsync(failed, retry)).Should().Equal("confused");
        (await t.QueueStatusAsync(queued))!.Id.Should().Be(queuedStatus.Id, "nothing changed for the queued PR");
        (await t.QueueStatusAsync(failed))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Checks failed: ci");

        await t.RunUntilAsync(() => t.AllClosedAsync(queued));
        (await t.PrAsync(queued)).Merged.Should().BeTrue();
        (await t.PrAsync(failed)).Merged.Should().BeFalse();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Trigger_WithALongBatchDelay_StartsTheBatchAtOnce()
    {
        const string key = "trigger-admin-key-0123456789abcdef";
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig.Replace("batch_delay: 1m", "batch_delay: 1h"),
            settings: new Dictionary<string, string?> { ["MergeQueue:Api:AdminKey"] = key });
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.SettleAsync();
        (await t.QueueStatusAsync(n))!.Description.Should().Be("Queued: position 1, waiting for the batch delay");

        using var api = new Api.ApiClient(t.ServiceUrl, key);
        var response = await api.PostAsync($"api/v1/trigger/{Repo}");
        response.Status.Should().Be(System.Net.HttpStatusCode.OK);

        // No clock advance, no poll: the trigger alone started the attempt, and CI's webhooks finish it.
        await SimulatorClient.WaitUntilAsync(async _ => { await t.SettleAsync(); return await t.AllClosedAsync(n); }, TimeSpan.FromSeconds(60));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        (await t.Control.CiRunsAsync(Repo)).Should().Contain(r => r.Branch.StartsWith("mergequeue/staging/main/", StringComparison.Ordinal));
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Delivery_SentTwiceWithTheSameId_IsHandledOnce()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\ncomments: true\n");
        var n = await t.OpenPrAsync();
        var merge = await t.MergeAsync(n); // no approval: the request waits, and every handling would reply again
        await t.SettleAsync();
        var delivery = (await t.Control.DeliveriesAsync("issue_comment")).MinBy(d => d.Sequence)!; // the command (the bot's reply is delivered too)

        var again = await t.Control.RedeliverAsync(delivery.Id);
        await SimulatorClient.WaitForAsync(ct => t.Control.DeliveriesAsync("issue_comment", ct: ct), d => d.Any(x => x.Redelivery && x.StatusCode is not null));
        await t.SettleAsync();

        again.Id.Should().Be(delivery.Id);
        (await t.Control.DeliveriesAsync("issue_comment")).Where(d => d.Id == delivery.Id).Should().HaveCount(2).And.OnlyContain(d => d.StatusCode == 202);
        (await t.Control.CommentsAsync(Repo, n)).Where(c => c.User == ServiceTester.Bot).Should().ContainSingle("the second delivery of the same id is not handled again");
        (await t.ReactionsAsync(n, merge)).Should().Equal("+1");
    }

    /// <summary>GitHub's timestamps are whole seconds: waits (on the clock, not a fixed sleep) until a push is in a later second.</summary>
    private static Task WaitForTheNextSecondAsync(DateTimeOffset after) =>
        SimulatorClient.WaitUntilAsync(_ => Task.FromResult(DateTimeOffset.UtcNow.ToUnixTimeSeconds() > after.ToUnixTimeSeconds()), TimeSpan.FromSeconds(5));
}
