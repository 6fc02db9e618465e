using System.Net;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.Service.Sandbox;
using MergeQueue.Simulator;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>`-- sandbox` (CONTRACT §1): the demo repository's PRs are gated by the built-in runner's <c>test</c> job, and new PRs keep arriving.</summary>
public class SandboxTests
{
    private static readonly string[] Args = ["--Urls=http://127.0.0.1:0", "--Serilog:MinimumLevel:Default=Warning", "--MergeQueue:Runner:PollInterval=00:00:00.200"];

    /// <summary>The page a status's <c>target_url</c> names, fetched from the sandbox (with <c>--Urls=…:0</c> the URL's own port is 0).</summary>
    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(SandboxMode sandbox, string pathOrUrl, CancellationToken ct)
    {
        var path = Uri.TryCreate(pathOrUrl, UriKind.Absolute, out var url) ? url.AbsolutePath : pathOrUrl;
        using var http = new HttpClient { BaseAddress = sandbox.ServiceUrl };
        using var response = await http.GetAsync(path.TrimStart('/'), ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task Sandbox_DemoRepository_MergesTheGoodPrsOnTheRunnersTestJobReportsTheBadOnesAndKeepsGoing(CancellationToken ct)
    {
        // New PRs every second, once the test starts them (the sandbox's default is a minute).
        await using var sandbox = await SandboxMode.StartAsync([.. Args, "--MergeQueue:Sandbox:ArrivalInterval=00:00:01"], ct);
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
        merged.Should().HaveCount(3, "two PRs of five are meant to fail: one breaks test.sh, one conflicts");

        // Gated by the runner: every commit the bot moved main to passed the `test` job, whose page shows its log.
        var moves = (await control.BranchMovesAsync(SandboxMode.Repository, "main", ct)).Where(m => m.Actor == SandboxMode.BotLogin).ToList();
        moves.Should().NotBeEmpty();
        foreach (var move in moves)
        {
            var test = move.Checks!.Statuses.Where(s => s.Context == "test").MaxBy(s => s.Id);
            test.Should().NotBeNull($"main moved to {move.NewSha} without a test job");
            (test!.State, test.Creator).Should().Be(("success", SandboxMode.BotLogin));
            test.TargetUrl.Should().MatchRegex("/runs/[0-9]+$");
            var log = await GetAsync(sandbox, test.TargetUrl + "/log", ct);
            log.Status.Should().Be(HttpStatusCode.OK);
            log.Body.Should().Contain($"Testing {SandboxMode.Repository} at {move.NewSha}").And.Contain("all widget tests passed");
            (await GetAsync(sandbox, test.TargetUrl!, ct)).Status.Should().Be(HttpStatusCode.OK);
        }
        moves.Should().OnlyContain(m => m.Checks!.Statuses.All(s => s.Context != "ci"), "simulated CI is off in the sandbox");

        // The failing PR fails on the runner's verdict, its message in the log, linked from the PR's dashboard page.
        var jobs = await sandbox.Service.Services.GetRequiredService<RunnerJobStore>().RecentAsync(RepoId.Parse(SandboxMode.Repository), 100, ct);
        var failed = jobs.Where(j => j.State == JobState.Failure).ToList();
        failed.Should().NotBeEmpty();
        var failedLog = await GetAsync(sandbox, $"/runs/{failed[0].Id}/log", ct);
        failedLog.Body.Should().Contain("FAIL src/encabulator.txt:1: \"Turbo Encabulator!\" is not a widget name");
        var failing = sandbox.PullRequests.Single(p => p.Value.StartsWith("fails its checks", StringComparison.Ordinal)).Key;
        var pullPage = await GetAsync(sandbox, $"/repos/{SandboxMode.Repository}/pulls/{failing}", ct);
        pullPage.Body.Should().MatchRegex($"/runs/({string.Join('|', failed.Select(j => j.Id))})\"");

        // And the demo keeps going: a new PR arrives after the initial ones, and the queue takes it
        // like any (bob approves it and asks for the merge, the bot acknowledges his comment).
        var initial = sandbox.PullRequests.Keys.Max();
        sandbox.StartArrivals();
        await SimulatorClient.WaitUntilAsync(async c => sandbox.PullRequests.ContainsKey(initial + 1)
            && (await control.CommentsAsync(SandboxMode.Repository, initial + 1, c)).Any(k => k.User == "bob" && k.Reactions.Any(r => r.User == SandboxMode.BotLogin)),
            TimeSpan.FromSeconds(30), ct);
        (await control.GetPullRequestAsync(SandboxMode.Repository, initial + 1, ct)).Title.Should().StartWith("Add ");
    }

    [Test]
    public void DemoArrivals_SameSeed_SameMixOfMergingFailingAndClashingPrs()
    {
        static List<DemoPullRequest> Twenty(int seed)
        {
            var arrivals = new DemoArrivals(seed);
            var prs = new List<DemoPullRequest>();
            for (var i = 0; i < 20; i++)
            {
                var pr = arrivals.Next($"main{i}");
                arrivals.Opened(pr, 100 + i);
                prs.Add(pr);
            }
            return prs;
        }

        var prs = Twenty(16);
        Twenty(16).Select(p => (p.Title, p.Shows)).Should().Equal(prs.Select(p => (p.Title, p.Shows)));
        prs.Should().Contain(p => p.Shows == "merges").And.Contain(p => p.Shows.StartsWith("fails its checks", StringComparison.Ordinal));
        // A clash adds the same file as an earlier merging PR, from that PR's base, so git cannot merge both.
        var clash = prs.First(p => p.Shows.Contains("merge conflict", StringComparison.Ordinal));
        var earlier = prs.Last(p => p.Shows == "merges" && prs.IndexOf(p) < prs.IndexOf(clash));
        (clash.Parent, clash.Files.Keys.Single()).Should().Be((earlier.Parent, earlier.Files.Keys.Single()));
    }
}
