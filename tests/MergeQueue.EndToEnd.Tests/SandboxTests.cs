using MergeQueue.Service.Sandbox;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;

namespace MergeQueue.EndToEnd.Tests;

public class SandboxTests
{
    [Test]
    [CancelAfter(180_000)]
    public async Task Sandbox_DemoRepository_MergesTheGoodPrsAndReportsTheBadOnes(CancellationToken ct)
    {
        await using var sandbox = await SandboxMode.StartAsync(["--Urls=http://127.0.0.1:0", "--Serilog:MinimumLevel:Default=Warning"], ct);
        // Faster CI than a person needs to watch; everything else as `-- sandbox` runs it.
        await sandbox.Simulator.Control.ConfigureCiAsync(new CiConfig(DelayMs: 300), ct);

        await sandbox.CreateDemoAsync(ct);

        var control = sandbox.Simulator.Control;
        await SimulatorClient.WaitUntilAsync(async c =>
        {
            foreach (var n in sandbox.PullRequests.Keys)
            {
                var pr = await control.GetPullRequestAsync(SandboxMode.Repository, n, c);
                var status = (await control.ChecksAsync(SandboxMode.Repository, pr.HeadSha, c)).Statuses.Where(s => s.Context == "mergequeue").MaxBy(s => s.Id);
                if (status is null || status.State == "pending") return false;
            }
            return true;
        }, TimeSpan.FromSeconds(150), ct);

        var merged = new List<int>();
        foreach (var n in sandbox.PullRequests.Keys)
            if ((await control.GetPullRequestAsync(SandboxMode.Repository, n, ct)).Merged) merged.Add(n);
        merged.Should().HaveCount(3, "two PRs of five are meant to fail: one breaks CI, one conflicts");
        var moves = await control.BranchMovesAsync(SandboxMode.Repository, "main", ct);
        moves.Where(m => m.Actor == SandboxMode.BotLogin).Should().OnlyContain(m => m.Checks!.Statuses.Any(s => s.Context == "ci" && s.State == "success"));
    }
}
