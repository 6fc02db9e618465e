using MergeQueue.Simulator;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>The ETA of a queued PR, from the target's past staging runs: on its status and on its dashboard page.</summary>
[CancelAfter(120_000)]
public class EtaEndToEndTests
{
    [Test]
    public async Task QueuedPr_AfterA12MinuteRun_StatusAndDashboardStateTheEtaAndItsBasis()
    {
        await using var t = await ServiceTester.StartAsync(ci: ServiceTester.HoldStaging);
        var first = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(first);
        await t.StartBatchAsync();
        await t.WaitForHeldCiAsync();
        t.Clock.Advance(TimeSpan.FromMinutes(12)); // the staging run takes 12 minutes
        await t.ReleaseHeldCiAsync();
        await t.RunUntilAsync(() => t.AllClosedAsync(first));

        var next = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(next);
        await t.SettleAsync();

        var basis = "about 12 min: 0 attempts ahead, median staging run 12 min over the last 1";
        (await t.QueueStatusAsync(next))!.Description.Should().Contain(basis);
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        var page = await http.GetStringAsync($"/repos/{ServiceTester.Repo}/pulls/{next}");
        page.Should().Contain($"Estimated to merge in {basis}");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }
}
