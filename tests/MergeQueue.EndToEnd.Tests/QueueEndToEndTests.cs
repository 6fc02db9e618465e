using MergeQueue.Simulator.Control;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>Seed 003's flows, run by the real service against the simulator over HTTP and signed webhooks.</summary>
[CancelAfter(120_000)]
public class QueueEndToEndTests
{
    [Test]
    public async Task OnePr_ApprovedAndRequested_IsMergedAndItsBranchesDeleted()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));

        var pr = await t.PrAsync(n);
        pr.Merged.Should().BeTrue();
        var main = await t.Control.BranchShaAsync(ServiceTester.Repo, "main");
        (await t.QueueStatusAsync(n))!.Should().Match<StatusSnapshot>(s => s.State == "success" && s.Description == $"Merged in {main}");
        (await t.QueueStatusAsync(n))!.TargetUrl.Should().Be($"http://mq.example/repos/acme/widgets/pulls/{n}");
        (await t.QueueBranchesAsync()).Should().BeEmpty();
        await t.AssertTargetOnlyMovedToGreenAsync();
        var comment = (await t.Control.CommentsAsync(ServiceTester.Repo, n)).Single();
        comment.Reactions.Should().ContainSingle(r => r.Content == "+1");
    }

    [Test]
    public async Task TwoPrs_WithinTheBatchDelay_AreTestedInOneStagingBuild()
    {
        await using var t = await ServiceTester.StartAsync();
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a, b);

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b));

        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeTrue();
        (await t.Control.CiRunsAsync(ServiceTester.Repo)).Count(r => r.Branch.StartsWith("mergequeue/staging/", StringComparison.Ordinal)).Should().Be(1);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task BatchOfFour_OneFailing_BisectsMergesThreeAndReportsTheCulprit()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\nbisect: serial\n");
        var prs = new List<int>();
        for (var i = 0; i < 4; i++)
            prs.Add(await t.OpenPrAsync(i == 2 ? new Dictionary<string, string?> { ["FAIL"] = "x" } : null));
        await t.ApproveAndMergeAsync([.. prs]);

        await t.RunUntilAsync(() => t.AllClosedAsync([.. prs]));

        for (var i = 0; i < 4; i++)
            (await t.PrAsync(prs[i])).Merged.Should().Be(i != 2, $"PR #{prs[i]}");
        (await t.QueueStatusAsync(prs[2]))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Checks failed: ci");
        // [1234] fails; [12] passes; [34] fails; [3] fails; [4] passes.
        (await t.Control.CiRunsAsync(ServiceTester.Repo)).Count(r => r.Branch.StartsWith("mergequeue/staging/", StringComparison.Ordinal)).Should().Be(5);
        await t.AssertTargetOnlyMovedToGreenAsync();
        (await t.QueueBranchesAsync()).Should().BeEmpty();
    }

    [Test]
    public async Task ConflictingPr_InABatch_IsSplitOutAndReportedWhileTheRestMerges()
    {
        await using var t = await ServiceTester.StartAsync();
        var a = await t.OpenPrAsync(new Dictionary<string, string?> { ["README.md"] = "# Widgets by A\n" });
        var b = await t.OpenPrAsync();
        var c = await t.OpenPrAsync(new Dictionary<string, string?> { ["README.md"] = "# Widgets by C\n" });
        await t.ApproveAndMergeAsync(a, b, c);

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b, c));

        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeTrue();
        (await t.PrAsync(c)).Merged.Should().BeFalse();
        (await t.QueueStatusAsync(c))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Merge conflict with the target branch");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Push_ToAQueuedPrAndToAPrUnderTest_CancelsThemAndBatchMatesGoOn()
    {
        await using var t = await ServiceTester.StartAsync(ci: ServiceTester.HoldStaging);
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a, b);
        await t.StartBatchAsync(); // [a, b] under test; staging CI held until released
        await t.WaitForHeldCiAsync();
        var queued = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(queued);
        await t.SettleDeliveriesAsync();
        (await t.QueueStatusAsync(b))!.Description.Should().StartWith("Testing in attempt");
        (await t.QueueStatusAsync(queued))!.Description.Should().StartWith("Queued");

        await t.Control.PushToPullRequestAsync(ServiceTester.Repo, b, new Dictionary<string, string?> { ["late.txt"] = "late\n" });
        await t.Control.PushToPullRequestAsync(ServiceTester.Repo, queued, new Dictionary<string, string?> { ["late2.txt"] = "late\n" });
        await t.SettleDeliveriesAsync();
        await t.ReleaseHeldCiAsync();

        await t.RunUntilAsync(() => t.AllClosedAsync(a));
        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeFalse();
        (await t.PrAsync(queued)).Merged.Should().BeFalse();
        var statuses = (await t.Control.ChecksAsync(ServiceTester.Repo, (await t.Control.BranchMovesAsync(ServiceTester.Repo, "feature/2")).First().NewSha!)).Statuses;
        statuses.Where(s => s.Context == "mergequeue").MaxBy(s => s.Id)!.Description.Should().Be("Cancelled: new commits were pushed");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task CancelCommand_WhileTesting_RebuildsWithoutThePr()
    {
        await using var t = await ServiceTester.StartAsync(ci: ServiceTester.HoldStaging);
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a, b);
        await t.StartBatchAsync();
        await t.WaitForHeldCiAsync();
        (await t.QueueStatusAsync(b))!.Description.Should().StartWith("Testing in attempt");

        var cancel = await t.CommentAsync(b, "@mergequeue cancel");
        await t.SettleDeliveriesAsync();
        await t.ReleaseHeldCiAsync();

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b));
        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeFalse();
        (await t.QueueStatusAsync(b))!.Description.Should().Be("Cancelled by bob");
        (await t.Control.CommentsAsync(ServiceTester.Repo, b)).Single(c => c.Id == cancel.Id).Reactions.Should().ContainSingle(r => r.Content == "+1");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Approval_ArrivingAfterTheRequest_QueuesAndMerges()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.MergeAsync(n);
        await t.SettleAsync();
        (await t.QueueStatusAsync(n))!.Should().Match<StatusSnapshot>(s => s.State == "pending" && s.Description!.Contains("waiting for 1 more approving review"));

        await t.ApproveAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
    }

    [Test]
    public async Task Ci_NeverReporting_TimesOutTestingThroughThePoller()
    {
        await using var t = await ServiceTester.StartAsync(ci: new CiConfig(DelayMs: 30, Overrides: [new CiOverride("mergequeue/staging/**", Verdict: "never")]));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.StartBatchAsync();
        (await t.QueueStatusAsync(n))!.Description.Should().StartWith("Testing in attempt");

        t.Clock.Advance(TimeSpan.FromMinutes(61));
        await t.TickAsync();
        await t.SettleAsync();

        (await t.QueueStatusAsync(n))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description!.StartsWith("Timed out: attempt") && s.Description.Contains("TESTING for longer than 1h"));
        (await t.QueueBranchesAsync()).Should().BeEmpty();
        (await t.PrAsync(n)).Merged.Should().BeFalse();
    }

    [Test]
    public async Task StatusWebhooks_AllDropped_MergesThroughThePoller()
    {
        await using var t = await ServiceTester.StartAsync();
        await t.Control.SetWebhookFaultsAsync(new WebhookFaults(DropEvents: ["status", "check_run", "check_suite"]));
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        await t.ApproveAndMergeAsync(a, b);

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b));

        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeFalse();
        (await t.Control.DeliveriesAsync("status")).Should().OnlyContain(d => d.StatusCode == null, "every status delivery was dropped");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Deliveries_SentTwiceAndShuffled_GiveTheSameOutcome()
    {
        await using var t = await ServiceTester.StartAsync();
        await t.Control.SetWebhookFaultsAsync(new WebhookFaults(Duplicate: true, ShuffleWindow: 3, Seed: 7));
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        var c = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a, b, c);

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b, c));

        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeFalse();
        (await t.PrAsync(c)).Merged.Should().BeTrue();
        var deliveries = await t.Control.DeliveriesAsync();
        deliveries.GroupBy(d => d.Id).Should().Contain(g => g.Count() >= 2, "deliveries were sent twice");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Target_MovedBySomeoneElseDuringTesting_RequeuesAndMergesOnTopOfIt()
    {
        await using var t = await ServiceTester.StartAsync(ci: ServiceTester.HoldStaging);
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.StartBatchAsync();
        await t.WaitForHeldCiAsync();
        (await t.QueueStatusAsync(n))!.Description.Should().StartWith("Testing in attempt");

        var hotfix = await t.Control.CommitAsync(ServiceTester.Repo, "main", new Dictionary<string, string?> { ["hotfix.txt"] = "fix\n" }, "hotfix");
        await t.SettleDeliveriesAsync();
        await t.ReleaseHeldCiAsync();

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        var moves = await t.Control.BranchMovesAsync(ServiceTester.Repo, "main");
        moves.Last().OldSha.Should().Be(hotfix.Sha, "the PR was rebuilt on top of the hotfix");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task GitHub_TwentyPercentOfCallsFailing_StillMerges()
    {
        await using var t = await ServiceTester.StartAsync();
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a, b);
        await t.SettleAsync();
        await t.Control.SetRandomApiFaultsAsync(new RandomApiFaults(0.2, Seed: 11, Kinds: ["bad_gateway", "unavailable", "rate_limit", "secondary_rate_limit"], RetryAfterSeconds: 0));

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b), maxTicks: 60);

        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeTrue();
        (await t.Control.ApiCallsAsync()).Should().Contain(c => c.Fault != null, "faults were injected");
        await t.Control.ClearApiFaultsAsync();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }
}
