namespace MergeQueue.EndToEnd.Tests;

/// <summary>The <c>mergequeue</c> check run a GitHub App keeps on each requested PR's head, beside the status.</summary>
[CancelAfter(180_000)]
public class CheckRunEndToEndTests
{
    private static async Task<Simulator.Control.CheckRunSnapshot?> RunAsync(ServiceTester t, int number) =>
        (await t.Control.ChecksAsync(ServiceTester.Repo, (await t.PrAsync(number)).HeadSha)).CheckRuns.SingleOrDefault(r => r.Name == "mergequeue");

    [Test]
    public async Task App_MergeAndFailure_CheckRunInProgressWhileTestedThenCompletedWithTheOutcome()
    {
        await using var t = await ServiceTester.StartAsync(ci: ServiceTester.HoldStaging, startService: false);
        await t.StartServiceAsAppAsync();
        var good = await t.OpenPrAsync();
        var bad = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        await t.ApproveAndMergeAsync(good);
        await t.SettleDeliveriesAsync();
        (await RunAsync(t, good))!.Status.Should().Be("in_progress", "queued");

        await t.StartBatchAsync();
        await t.WaitForHeldCiAsync();
        (await RunAsync(t, good))!.Status.Should().Be("in_progress", "testing");
        await t.ReleaseHeldCiAsync();
        await t.RunUntilAsync(() => t.AllClosedAsync(good));
        var merged = (await RunAsync(t, good))!;
        (merged.Status, merged.Conclusion, merged.App).Should().Be(("completed", "success", "mergequeue[bot]"));
        (await t.QueueStatusAsync(good))!.State.Should().Be("success", "the commit status stays");

        await t.ApproveAndMergeAsync(bad);
        await t.StartBatchAsync();
        await t.ReleaseHeldCiAsync();
        await t.RunUntilAsync(async () => (await t.QueueStatusAsync(bad))?.State == "failure");
        var failed = (await RunAsync(t, bad))!;
        (failed.Status, failed.Conclusion).Should().Be(("completed", "failure"));
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Token_Merge_NoCheckRunOnlyTheStatus()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await RunAsync(t, n)).Should().BeNull();
        (await t.QueueStatusAsync(n))!.State.Should().Be("success");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }
}
