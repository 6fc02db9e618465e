using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;

namespace MergeQueue.EndToEnd.Tests;

/// <summary><c>required_checks: from_branch_protection</c> against the simulator's branch protection.</summary>
[CancelAfter(120_000)]
public class BranchProtectionEndToEndTests
{
    private const string Config = """
        target_branches: [main]
        required_approvals: 1
        required_checks: from_branch_protection
        batch_delay: 1m
        max_batch_size: 8
        batch_min_size: 0
        parallel_attempts: 1
        """;

    [Test]
    public async Task FromBranchProtection_ProtectionRequiresCiAndLint_TheAttemptWaitsForBoth()
    {
        // lint is held on staging: ci alone passing must not merge.
        var ci = new CiConfig(Contexts: [new CiContext("ci"), new CiContext("lint")], DelayMs: 30,
            Overrides: [new CiOverride("mergequeue/staging/**", Context: "lint", Hold: true)]);
        await using var t = await ServiceTester.StartAsync(Config, ci, startService: false);
        await t.Control.SetBranchProtectionAsync(ServiceTester.Repo, "main", ["ci", "lint"]);
        // GitHub shows branch protection to repository admins only (an App needs Administration: read).
        await t.Control.SetPermissionAsync(ServiceTester.Repo, ServiceTester.Bot, "admin");
        await t.StartServiceAsync();
        var a = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a);

        await t.StartBatchAsync();
        var held = await t.WaitForHeldCiAsync();
        held.Single().Context.Should().Be("lint");
        var staging = held.Single().Branch;
        await SimulatorClient.WaitUntilAsync(async ct =>
            (await t.Control.CiRunsAsync(ServiceTester.Repo, staging, "ci", ct: ct)).Any(r => r.Verdict == "success"), TimeSpan.FromSeconds(30));
        await t.SettleDeliveriesAsync();
        await t.TickAsync();

        (await t.PrAsync(a)).Merged.Should().BeFalse("lint, required by the protection, has not passed yet");
        (await t.QueueStatusAsync(a))!.Description.Should().StartWith("Testing in attempt");

        await t.ReleaseHeldCiAsync();
        await t.RunUntilAsync(() => t.AllClosedAsync(a));
        (await t.PrAsync(a)).Merged.Should().BeTrue();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }
}
