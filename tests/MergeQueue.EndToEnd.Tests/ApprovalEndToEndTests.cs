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
}
