using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using MergeQueue.Core;
using MergeQueue.Core.Config;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>
/// Seed 003's five strategies, run by the real service against the simulator; the resulting history
/// is read back from the simulator's bare repository with the git CLI.
/// </summary>
[CancelAfter(120_000)]
public class StrategyEndToEndTests
{
    public static readonly MergeStrategy[] All = Enum.GetValues<MergeStrategy>();

    private static string Yaml(MergeStrategy strategy) => strategy switch
    {
        MergeStrategy.BatchSquash => "batch-squash",
        MergeStrategy.CherryPick => "cherry-pick",
        _ => strategy.ToString().ToLowerInvariant(),
    };

    private static Task<ServiceTester> StartAsync(MergeStrategy strategy) =>
        ServiceTester.StartAsync(ServiceTester.DefaultConfig + $"\nstrategy: {Yaml(strategy)}\nbisect: serial\n", new Simulator.Control.CiConfig(DelayMs: 5));

    private static bool ClosesPrs(MergeStrategy s) => s is MergeStrategy.Squash or MergeStrategy.BatchSquash or MergeStrategy.CherryPick;

    /// <summary>A PR of two commits: widget{i}.txt by alice, then widget{i}.test by carol; approved by bob at its head.</summary>
    private static async Task<int> OpenTwoCommitPrAsync(ServiceTester t, int i, string? widgetContent = null)
    {
        var n = await t.OpenPrAsync(new Dictionary<string, string?> { [$"widget{i}.txt"] = widgetContent ?? $"widget {i}\n" }, "alice", $"Widget {i}");
        await t.Control.PushToPullRequestAsync(ServiceTester.Repo, n, new Dictionary<string, string?> { [$"widget{i}.test"] = $"test {i}\n" }, $"Test widget {i}", "carol");
        return n;
    }

    [TestCaseSource(nameof(All))]
    public async Task BatchOfThree_TwoCommitsEach_LandsWithTheStrategysHistory(MergeStrategy strategy)
    {
        await using var t = await StartAsync(strategy);
        var baseSha = (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!;
        var prs = new[] { await OpenTwoCommitPrAsync(t, 1), await OpenTwoCommitPrAsync(t, 2), await OpenTwoCommitPrAsync(t, 3) };
        var heads = new Dictionary<int, string>();
        foreach (var n in prs) heads[n] = (await t.PrAsync(n)).HeadSha;
        await t.ApproveAndMergeAsync(prs);

        await t.RunUntilAsync(() => t.AllClosedAsync(prs));
        await t.SettleAsync();

        var main = (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!;
        (await FilesAsync(t, main)).Should().BeEquivalentTo(
            [".github/mergequeue.yml", "README.md", "widget1.txt", "widget1.test", "widget2.txt", "widget2.test", "widget3.txt", "widget3.test"]);
        (await t.Control.CiRunsAsync(ServiceTester.Repo)).Count(r => r.Branch.StartsWith("mergequeue/staging/", StringComparison.Ordinal)).Should().Be(1);

        // The history below main, newest first, down to the old target.
        var landedAs = new Dictionary<int, string>();
        var tip = await ReadAsync(t, main);
        switch (strategy)
        {
            case MergeStrategy.Merge:
                var at = tip;
                foreach (var (n, i) in prs.Select((n, i) => (n, i + 1)).Reverse())
                {
                    at.Parents.Should().HaveCount(2).And.EndWith(heads[n]);
                    at.Message.Should().Be($"Merge #{n}: Widget {i}\n\nReviewed-by: bob");
                    at = await ReadAsync(t, at.Parents[0]);
                }
                at.Sha.Should().Be(baseSha);
                break;

            case MergeStrategy.Octopus:
                tip.Parents.Should().Equal([baseSha, .. prs.Select(n => heads[n])]);
                tip.Message.Should().Be($"Merge #{prs[0]}, #{prs[1]} and #{prs[2]}\n\n#{prs[0]}: Widget 1\n#{prs[1]}: Widget 2\n#{prs[2]}: Widget 3\n\nReviewed-by: bob");
                break;

            case MergeStrategy.Squash:
                var squash = tip;
                foreach (var (n, i) in prs.Select((n, i) => (n, i + 1)).Reverse())
                {
                    var (first, second) = (await ReadAsync(t, heads[n] + "^"), await ReadAsync(t, heads[n]));
                    squash.Parents.Should().ContainSingle();
                    squash.Author.Should().Be(first.Author, "a squash is authored by the PR's first author");
                    squash.Message.Should().Be($"Widget {i} (#{n})\n\nReviewed-by: bob\nCo-authored-by: {first.Author}\nCo-authored-by: {second.Author}");
                    (await FilesAsync(t, squash.Sha)).Should().Contain([$"widget{i}.txt", $"widget{i}.test"]).And.NotContain($"widget{i + 1}.txt");
                    landedAs[n] = squash.Sha;
                    squash = await ReadAsync(t, squash.Parents[0]);
                }
                squash.Sha.Should().Be(baseSha);
                break;

            case MergeStrategy.BatchSquash:
                tip.Parents.Should().Equal(baseSha);
                var authors = new[] { (await ReadAsync(t, heads[prs[0]] + "^")).Author, (await ReadAsync(t, heads[prs[0]])).Author };
                tip.Message.Should().Be(
                    $"Squash #{prs[0]}, #{prs[1]} and #{prs[2]}\n\n#{prs[0]}: Widget 1\n#{prs[1]}: Widget 2\n#{prs[2]}: Widget 3\n\n" +
                    $"Reviewed-by: bob\nCo-authored-by: {authors[0]}\nCo-authored-by: {authors[1]}");
                foreach (var n in prs) landedAs[n] = main;
                break;

            case MergeStrategy.CherryPick:
                var pick = tip;
                foreach (var (n, i) in prs.Select((n, i) => (n, i + 1)).Reverse())
                {
                    landedAs[n] = pick.Sha;
                    foreach (var original in new[] { await ReadAsync(t, heads[n]), await ReadAsync(t, heads[n] + "^") })
                    {
                        pick.Parents.Should().ContainSingle();
                        pick.Author.Should().Be(original.Author);
                        pick.AuthorDate.Should().Be(original.AuthorDate);
                        pick.Message.Should().Be($"{original.Message}\n\nFrom #{n}: Widget {i}\n\nReviewed-by: bob");
                        pick.Sha.Should().NotBe(original.Sha);
                        pick = await ReadAsync(t, pick.Parents[0]);
                    }
                }
                pick.Sha.Should().Be(baseSha);
                break;
        }

        foreach (var n in prs)
        {
            var pr = await t.PrAsync(n);
            pr.State.Should().Be("closed");
            var status = (await t.QueueStatusAsync(n))!;
            status.State.Should().Be("success", "our own close must not turn the success into a failure");
            if (ClosesPrs(strategy))
            {
                pr.Merged.Should().BeFalse("GitHub never saw the head land");
                status.Description.Should().Be(Messages.MergedAs(new CommitSha(landedAs[n])));
            }
            else
            {
                pr.Merged.Should().BeTrue();
                status.Description.Should().Be(Messages.MergedIn(new CommitSha(main)));
            }
        }
        (await t.QueueBranchesAsync()).Should().BeEmpty();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [TestCaseSource(nameof(All))]
    public async Task PrThatMergedItsBase_LandsUnderEveryStrategyButCherryPick(MergeStrategy strategy)
    {
        await using var t = await StartAsync(strategy);
        var plain = await t.OpenPrAsync(new Dictionary<string, string?> { ["plain.txt"] = "plain\n" }, title: "Plain");
        var merging = await t.OpenPrAsync(new Dictionary<string, string?> { ["merging.txt"] = "merging\n" }, title: "Merging");
        await t.Control.CommitAsync(ServiceTester.Repo, "main", new Dictionary<string, string?> { ["moved.txt"] = "moved\n" }, "Move main", createBranch: false);
        var mergeCommit = await MergeBaseIntoPrAsync(t, merging);
        (await ReadAsync(t, mergeCommit)).Parents.Should().HaveCount(2);
        await t.ApproveAndMergeAsync(plain, merging);

        await t.RunUntilAsync(() => t.AllClosedAsync(plain, merging));
        await t.SettleAsync();

        var files = await FilesAsync(t, (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!);
        files.Should().Contain(["plain.txt", "moved.txt"]);
        (await t.QueueStatusAsync(plain))!.State.Should().Be("success");
        var status = (await t.QueueStatusAsync(merging))!;
        if (strategy == MergeStrategy.CherryPick)
        {
            status.State.Should().Be("failure");
            status.Description.Should().Be(Messages.RefusedMergeCommits(new CommitSha(mergeCommit)));
            files.Should().NotContain("merging.txt");
            (await t.PrAsync(merging)).State.Should().Be("open");
        }
        else
        {
            status.State.Should().Be("success");
            files.Should().Contain("merging.txt");
        }
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [TestCaseSource(nameof(All))]
    public async Task ConflictingPr_IsSkippedAndReportedWhileTheOthersLand(MergeStrategy strategy)
    {
        await using var t = await StartAsync(strategy);
        var a = await OpenTwoCommitPrAsync(t, 1, "from a\n");
        var b = await OpenTwoCommitPrAsync(t, 2);
        // c changes a's file differently: it conflicts only once a is merged.
        var c = await t.OpenPrAsync(new Dictionary<string, string?> { ["widget1.txt"] = "from c\n" }, title: "Other widget");
        await t.ApproveAndMergeAsync(a, b, c);

        await t.RunUntilAsync(() => t.AllClosedAsync(a, b, c));
        await t.SettleAsync();

        (await t.QueueStatusAsync(a))!.State.Should().Be("success");
        (await t.QueueStatusAsync(b))!.State.Should().Be("success");
        (await t.QueueStatusAsync(c))!.Should().Match<Simulator.Control.StatusSnapshot>(s => s.State == "failure" && s.Description == Messages.ConflictWithTarget);
        var main = (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!;
        (await GitAsync(t, "show", $"{main}:widget1.txt")).Should().Be("from a\n");
        (await FilesAsync(t, main)).Should().Contain(["widget1.test", "widget2.txt", "widget2.test"]);
        (await t.PrAsync(c)).State.Should().Be("open");
        (await t.QueueBranchesAsync()).Should().BeEmpty();
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [TestCaseSource(nameof(All))]
    public async Task FailingBatch_BisectsAndLandsTheRest(MergeStrategy strategy)
    {
        await using var t = await StartAsync(strategy);
        var prs = new List<int>();
        for (var i = 1; i <= 4; i++)
        {
            var n = await OpenTwoCommitPrAsync(t, i);
            if (i == 3) await t.Control.PushToPullRequestAsync(ServiceTester.Repo, n, new Dictionary<string, string?> { ["FAIL"] = "x" }, "Break the build", "carol");
            prs.Add(n);
        }
        await t.ApproveAndMergeAsync([.. prs]);

        await t.RunUntilAsync(() => t.AllClosedAsync([.. prs]));

        for (var i = 0; i < 4; i++)
            (await t.QueueStatusAsync(prs[i]))!.State.Should().Be(i == 2 ? "failure" : "success", $"PR #{prs[i]}");
        (await t.QueueStatusAsync(prs[2]))!.Description.Should().Be("Checks failed: ci");
        // [1234] fails; [12] passes; [34] fails; [3] fails; [4] passes.
        (await t.Control.CiRunsAsync(ServiceTester.Repo)).Count(r => r.Branch.StartsWith("mergequeue/staging/", StringComparison.Ordinal)).Should().Be(5);
        var files = await FilesAsync(t, (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!);
        files.Should().Contain(["widget1.txt", "widget2.txt", "widget4.txt"]).And.NotContain(["FAIL", "widget3.txt"]);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    /// <summary>
    /// Property: for a random set of PRs without merge commits that do not conflict, every strategy
    /// leaves the same tree (the same git tree id) on the target.
    /// </summary>
    [TestCase(7)]
    [TestCase(2026)]
    public async Task RandomNonConflictingPrs_EveryStrategyYieldsTheSameTree(int seed)
    {
        var trees = new Dictionary<MergeStrategy, string>();
        foreach (var strategy in All)
        {
            var random = new Random(seed);
            await using var t = await StartAsync(strategy);
            var prs = new List<int>();
            for (var i = 0; i < random.Next(2, 5); i++)
            {
                // Each PR touches only its own directory, so no two PRs can conflict.
                var n = await t.OpenPrAsync(new Dictionary<string, string?> { [$"p{i}/a.txt"] = $"{random.Next(1000)}\n" }, title: $"Random {i}");
                for (var c = random.Next(0, 3); c > 0; c--)
                    await t.Control.PushToPullRequestAsync(ServiceTester.Repo, n, new Dictionary<string, string?> { [$"p{i}/{random.Next(3)}.txt"] = $"{random.Next(1000)}\n" }, $"More {c}", "carol");
                prs.Add(n);
            }
            await t.ApproveAndMergeAsync([.. prs]);
            await t.RunUntilAsync(() => t.AllClosedAsync([.. prs]));
            foreach (var n in prs) (await t.QueueStatusAsync(n))!.State.Should().Be("success", $"{strategy}: PR #{n}");
            // Every blob with its mode and id, but the config file, which names the strategy.
            var listing = (await GitAsync(t, "ls-tree", "-r", (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.EndsWith("\t.github/mergequeue.yml", StringComparison.Ordinal));
            trees[strategy] = string.Join("\n", listing);
        }
        trees.Values.Should().OnlyContain(tree => tree == trees[MergeStrategy.Merge], $"every strategy must build the same tree: {string.Join("\n\n", trees)}");
        trees[MergeStrategy.Merge].Should().Contain("p0/a.txt");
    }

    /// <summary>Merges the target into the PR's branch through the REST API, as GitHub's "Update branch" button does.</summary>
    private static async Task<string> MergeBaseIntoPrAsync(ServiceTester t, int number)
    {
        var user = await t.Control.CreateUserAsync("erin");
        await t.Control.SetPermissionAsync(ServiceTester.Repo, "erin", "write");
        using var http = new HttpClient { BaseAddress = t.Simulator.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("token", user.Token);
        http.DefaultRequestHeaders.UserAgent.ParseAdd("e2e-test");
        var pr = await t.PrAsync(number);
        var response = await http.PostAsJsonAsync($"repos/{ServiceTester.Repo}/merges", new { @base = pr.HeadRef, head = "main", commit_message = "Merge main into the feature" });
        response.StatusCode.Should().Be(System.Net.HttpStatusCode.Created);
        await t.SettleAsync();
        return (await t.PrAsync(number)).HeadSha;
    }

    private sealed record GitCommit(string Sha, string Tree, IReadOnlyList<string> Parents, string Author, string AuthorDate, string Message);

    private static async Task<GitCommit> ReadAsync(ServiceTester t, string rev)
    {
        var fields = (await GitAsync(t, "log", "-1", "--format=%H%x00%T%x00%P%x00%an <%ae>%x00%aI%x00%B", rev)).Split('\0');
        return new GitCommit(fields[0], fields[1], fields[2].Split(' ', StringSplitOptions.RemoveEmptyEntries), fields[3], fields[4], fields[5].TrimEnd('\n'));
    }

    private static async Task<IReadOnlyList<string>> FilesAsync(ServiceTester t, string rev) =>
        (await GitAsync(t, "ls-tree", "-r", "--name-only", rev)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Runs git on the simulator's bare repository.</summary>
    private static async Task<string> GitAsync(ServiceTester t, params string[] args)
    {
        var gitDir = t.Simulator.Engine.GetRepo("acme", "widgets").Git.GitDir;
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--git-dir", gitDir }.Concat(args)) start.ArgumentList.Add(arg);
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var git = Process.Start(start)!;
        var output = git.StandardOutput.ReadToEndAsync();
        var error = git.StandardError.ReadToEndAsync();
        await git.WaitForExitAsync();
        git.ExitCode.Should().Be(0, await error);
        return await output;
    }
}
