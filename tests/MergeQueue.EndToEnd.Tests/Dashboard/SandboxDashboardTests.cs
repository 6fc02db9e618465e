using System.Text.RegularExpressions;
using MergeQueue.Service.Sandbox;
using MergeQueue.Simulator;

namespace MergeQueue.EndToEnd.Tests.Dashboard;

/// <summary>`-- sandbox` shows a populated dashboard: the demo's merges and failures appear on its pages.</summary>
public sealed class SandboxDashboardTests
{
    [Test]
    [CancelAfter(180_000)]
    public async Task Sandbox_Dashboard_ShowsTheDemoMergesAndFailures(CancellationToken ct)
    {
        await using var sandbox = await SandboxMode.StartAsync(["--Urls=http://127.0.0.1:0", "--Serilog:MinimumLevel:Default=Warning"], ct);
        await sandbox.CreateDemoAsync(ct);
        using var http = new HttpClient { BaseAddress = sandbox.ServiceUrl };

        // Three demo PRs merge and two fail (the runner's test job, a conflict): wait until the repository page lists all five.
        string page = "";
        await SimulatorClient.WaitUntilAsync(async c =>
        {
            page = await http.GetStringAsync($"repos/{SandboxMode.Repository}", c);
            return Regex.Matches(page, "<tr class=\"finished-entry\"").Count == sandbox.PullRequests.Count;
        }, TimeSpan.FromSeconds(150), ct);
        Regex.Matches(page, "data-state=\"Merged\"").Count.Should().Be(3);
        Regex.Matches(page, "data-state=\"Failed\"").Count.Should().Be(2);

        var overview = await http.GetStringAsync("", ct);
        Regex.Match(overview, "<td class=\"num merged\">(\\d+)</td>").Groups[1].Value.Should().Be("3");
        var failing = sandbox.PullRequests.First(p => p.Value.Contains("fails its checks", StringComparison.Ordinal)).Key;
        var pull = await http.GetStringAsync($"repos/{SandboxMode.Repository}/pulls/{failing}", ct);
        pull.Should().Contain("data-to=\"Failed\"").And.Contain("Checks failed");
    }
}
