using System.Net.Http.Headers;
using System.Text.Json;
using MergeQueue.Simulator.Control;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>
/// Step 9's engine, run by the real service against the simulator: speculative attempts
/// (<c>parallel_attempts</c>), concurrent bisection and flake retries. Each test asserts the
/// invariant: the target only moved by fast-forward to commits whose checks passed, and no PR merged twice.
/// </summary>
[CancelAfter(120_000)]
public class SpeculativeEndToEndTests
{
    private const string ThreeInFlight = """
        target_branches: [main]
        required_approvals: 1
        required_checks: [ci]
        batch_delay: 1m
        max_batch_size: 1
        batch_min_size: 0
        parallel_attempts: 3
        """;

    private static async Task<IReadOnlyList<CiRun>> StagingRunsAsync(ServiceTester t) =>
        (await t.Control.CiRunsAsync(ServiceTester.Repo)).Where(r => r.Branch.StartsWith("mergequeue/staging/", StringComparison.Ordinal)).OrderBy(r => r.Id).ToArray();

    private static async Task AssertInvariantAsync(ServiceTester t, params int[] prs)
    {
        await t.AssertTargetOnlyMovedToGreenAsync();
        foreach (var n in prs)
        {
            var statuses = (await t.Control.ChecksAsync(ServiceTester.Repo, (await t.PrAsync(n)).HeadSha)).Statuses;
            statuses.Count(s => s.Context == "mergequeue" && s.State == "success").Should().BeLessThanOrEqualTo(1, $"PR #{n} is merged at most once");
        }
        (await t.QueueBranchesAsync()).Should().BeEmpty("every attempt's branches are deleted when it ends");
    }

    [Test]
    public async Task ThreePrs_WithThreeParallelAttempts_AreTestedAtOnceAndMergedInOrder()
    {
        await using var t = await ServiceTester.StartAsync(ThreeInFlight, ServiceTester.HoldStaging);
        var (a, b, c) = (await t.OpenPrAsync(), await t.OpenPrAsync(), await t.OpenPrAsync());
        await t.ApproveAndMergeAsync(a, b, c);

        await t.StartBatchAsync();
        await t.WaitForHeldCiAsync(3);
        (await t.QueueBranchesAsync()).Count(n => n.StartsWith("mergequeue/staging/", StringComparison.Ordinal)).Should().Be(3, "three attempts are in flight at once");
        (await t.QueueStatusAsync(c))!.Description.Should().MatchRegex(@"^Testing in attempt \d+, 3rd in line$");
        var page = await new HttpClient().GetStringAsync(new Uri(t.ServiceUrl, "repos/acme/widgets"));
        var shown = System.Text.RegularExpressions.Regex.Matches(page, "data-attempt=\"(\\d+)\"").Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        shown.Should().HaveCount(3).And.BeInAscendingOrder("the dashboard shows the line in order");
        System.Text.RegularExpressions.Regex.Matches(page, "the staging commit of attempt").Should().HaveCount(2);
        await t.ReleaseHeldCiAsync();
        await t.RunUntilAsync(() => t.AllClosedAsync(a, b, c));

        foreach (var n in new[] { a, b, c }) (await t.PrAsync(n)).Merged.Should().BeTrue($"PR #{n}");
        var runs = await StagingRunsAsync(t);
        runs.Should().HaveCount(3, "each attempt was tested once, stacked on the one ahead");
        runs.Max(r => r.StartedAt).Should().BeBefore(runs.Min(r => r.CompletedAt!.Value), "the three runs overlapped");
        var moves = (await t.Control.BranchMovesAsync(ServiceTester.Repo, "main")).Where(m => m.Actor == ServiceTester.Bot).Select(m => m.NewSha).ToArray();
        var order = runs.Select(r => r.Sha).ToList();
        moves.Should().BeSubsetOf(order);
        moves.Select(m => order.IndexOf(m!)).Should().BeInAscendingOrder("main moves through the staging commits in order");
        moves.Last().Should().Be(runs.Last().Sha);
        await AssertInvariantAsync(t, a, b, c);
    }

    [Test]
    public async Task ThreeInFlight_TheMiddleFailing_FirstAndThirdMerge_TheThirdRebuiltWithoutIt()
    {
        await using var t = await ServiceTester.StartAsync(ThreeInFlight, ServiceTester.HoldStaging);
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        var c = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a, b, c);
        await t.StartBatchAsync();
        await t.WaitForHeldCiAsync(3); // a, b on a, c on b: all three stacked and in flight
        await t.ReleaseHeldCiAsync();

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b, c));

        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeFalse();
        (await t.PrAsync(c)).Merged.Should().BeTrue();
        (await t.QueueStatusAsync(b))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Checks failed: ci");
        var runs = await StagingRunsAsync(t);
        runs.Should().HaveCount(4, "a, b and c stacked, then c again on a without b");
        runs.Last().Verdict.Should().Be("success");
        await AssertInvariantAsync(t, a, b, c);
    }

    [Test]
    public async Task PushToTheHeadPr_WhileThreeAreInFlight_CancelsItAndRebuildsTheOthers()
    {
        await using var t = await ServiceTester.StartAsync(ThreeInFlight, ServiceTester.HoldStaging);
        var (a, b, c) = (await t.OpenPrAsync(), await t.OpenPrAsync(), await t.OpenPrAsync());
        await t.ApproveAndMergeAsync(a, b, c);
        await t.StartBatchAsync();
        await t.WaitForHeldCiAsync(3);
        (await t.QueueBranchesAsync()).Count(n => n.StartsWith("mergequeue/staging/", StringComparison.Ordinal)).Should().Be(3);

        await t.Control.PushToPullRequestAsync(ServiceTester.Repo, a, new Dictionary<string, string?> { ["late.txt"] = "late\n" });
        await t.SettleDeliveriesAsync();
        await t.ReleaseHeldCiAsync();
        await t.RunUntilAsync(() => t.AllClosedAsync(b, c));

        (await t.PrAsync(a)).Merged.Should().BeFalse();
        (await t.PrAsync(b)).Merged.Should().BeTrue();
        (await t.PrAsync(c)).Merged.Should().BeTrue();
        var runs = await StagingRunsAsync(t);
        runs.Should().HaveCount(5, "a, b, c; then b and c rebuilt without a");
        await AssertInvariantAsync(t, b, c);
    }

    [Test]
    public async Task BatchOfFour_OneCulprit_ConcurrentBisectionTestsBothHalvesAtOnce()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\nbisect: concurrent\n", ServiceTester.HoldStaging);
        var prs = new List<int>();
        for (var i = 0; i < 4; i++)
            prs.Add(await t.OpenPrAsync(i == 3 ? new Dictionary<string, string?> { ["FAIL"] = "x" } : null));
        await t.ApproveAndMergeAsync([.. prs]);
        await t.StartBatchAsync();
        (await t.WaitForHeldCiAsync()).Should().ContainSingle("the batch of four is tested first");
        await t.Control.ReleaseCiAsync(ServiceTester.Repo); // it fails; the hold stays for its halves
        await t.RunUntilAsync(async () => (await t.Control.CiRunsAsync(ServiceTester.Repo, held: true)).Count == 2);
        await t.ReleaseHeldCiAsync(); // both halves were under test at once

        await t.RunUntilAsync(() => t.AllClosedAsync([.. prs]));

        for (var i = 0; i < 4; i++)
            (await t.PrAsync(prs[i])).Merged.Should().Be(i != 3, $"PR #{prs[i]}");
        (await t.QueueStatusAsync(prs[3]))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Checks failed: ci");
        // [1234] fails; [12] and [34] on it at once: [12] passes and lands, [34] fails; [3] and [4] on it at once: [3] lands, [4] fails.
        var runs = await StagingRunsAsync(t);
        runs.Should().HaveCount(5);
        var halves = runs.Skip(1).Take(2).ToArray();
        halves.Max(r => r.StartedAt).Should().BeBefore(halves.Min(r => r.CompletedAt!.Value), "both halves were tested at once");
        await AssertInvariantAsync(t, [.. prs]);
    }

    [Test]
    public async Task NetworkErrorFailure_IsRetriedOnTheSameTree_AndMerges()
    {
        // No CI on PR heads: the head's tree is the staging tree here, and FLAKY fails a tree's first run.
        await using var t = await ServiceTester.StartAsync(ci: new CiConfig(DelayMs: 30, PullRequestHeads: false));
        var n = await t.OpenPrAsync(new Dictionary<string, string?> { ["FLAKY"] = "x" });
        await t.ApproveAndMergeAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeTrue();
        var runs = await StagingRunsAsync(t);
        runs.Select(r => (r.Verdict, r.Description)).Should().Equal(("failure", "network error"), ("success", "all tests passed"));
        runs[0].Branch.Should().Be(runs[1].Branch, "the retry goes to the same staging branch");
        var (first, second) = (await CommitAsync(t, runs[0].Sha), await CommitAsync(t, runs[1].Sha));
        runs[1].Sha.Should().NotBe(runs[0].Sha);
        (second.Tree, second.Parents).Should().Be((first.Tree, first.Parents), "a new commit with the same tree and parents");
        var page = await new HttpClient().GetStringAsync(new Uri(t.ServiceUrl, $"repos/acme/widgets/pulls/{n}"));
        page.Should().Contain("failed like a flake (network error): rebuilt on the same tree");
        await AssertInvariantAsync(t, n);
    }

    [Test]
    public async Task RealFailure_IsNotRetried()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        await t.ApproveAndMergeAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeFalse();
        (await t.QueueStatusAsync(n))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Checks failed: ci");
        (await StagingRunsAsync(t)).Should().ContainSingle();
        await AssertInvariantAsync(t, n);
    }

    private static async Task<(string Tree, string Parents)> CommitAsync(ServiceTester t, string sha)
    {
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("token", t.BotToken);
        http.DefaultRequestHeaders.UserAgent.ParseAdd("e2e");
        using var doc = JsonDocument.Parse(await http.GetStringAsync(new Uri(t.Simulator.BaseUrl, $"repos/{ServiceTester.Repo}/git/commits/{sha}")));
        var root = doc.RootElement;
        return (root.GetProperty("tree").GetProperty("sha").GetString()!,
            string.Join(",", root.GetProperty("parents").EnumerateArray().Select(p => p.GetProperty("sha").GetString())));
    }
}

/// <summary>GitHub API economy, counted in the simulator's call log (docs/benchmarks.md has the figures and the goals).</summary>
[CancelAfter(120_000)]
public class ApiEconomyEndToEndTests
{
    private static async Task<IReadOnlyList<ApiCall>> BotCallsAsync(ServiceTester t, long after = 0) =>
        (await t.Control.ApiCallsAsync(after)).Where(c => c.User == ServiceTester.Bot).ToArray();

    [Test]
    public async Task A_pr_merged_alone_costs_at_most_24_calls_and_an_idle_tick_none()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.SettleAsync();
        var start = (await t.Control.ApiCallsAsync()).Select(c => c.Sequence).DefaultIfEmpty().Max();
        await t.ApproveAndMergeAsync(n);

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        var calls = await BotCallsAsync(t, start);
        var statuses = calls.Count(c => c.Method == "POST" && c.Path.Contains("/statuses/", StringComparison.Ordinal));

        (await t.PrAsync(n)).Merged.Should().BeTrue();
        // 22 before step 10, which added two reads that make merges safe: the reviewer's permission (only
        // writers' approvals count) and when the head was pushed (a command acts on the head it was written on).
        calls.Count.Should().BeLessThanOrEqualTo(24, "today's count (goal 15, docs/benchmarks.md)");
        statuses.Should().Be(3, "queued, testing and merged: a status is posted only when it changes");

        var idle = (await t.Control.ApiCallsAsync()).Select(c => c.Sequence).DefaultIfEmpty().Max();
        t.Clock.Advance(TimeSpan.FromMinutes(10));
        await t.TickAsync();
        (await BotCallsAsync(t, idle)).Should().BeEmpty("an idle tick makes no call");
    }
}
