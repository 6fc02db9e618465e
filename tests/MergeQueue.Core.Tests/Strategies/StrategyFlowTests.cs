using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Strategies;

/// <summary>Each strategy's history, built through the flows over the fake GitHub (file maps as trees).</summary>
public class StrategyFlowTests
{
    public static readonly MergeStrategy[] All = Enum.GetValues<MergeStrategy>();

    private static readonly GitIdentity Alice = new("Alice Liddell", "alice@example.com");
    private static readonly GitIdentity Dave = new("Dave Null", "dave@example.com");

    private static QueueTester Tester(MergeStrategy strategy) =>
        new(new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), RequiredApprovals = 1, Strategy = strategy, Bisect = BisectMode.Serial });

    /// <summary>A PR of two commits: the first by Alice sets file{n}.txt, the second by Dave sets notes{n}.txt.</summary>
    private static int OpenTwoCommitPr(QueueTester q, string? file = null, string? content = null)
    {
        var n = q.OpenPr(file, content);
        var info = q.GitHub.PullRequests[n];
        // Replace the tester's one commit by two authored ones on the same base.
        var first = q.GitHub.Commit(q.Main, new Dictionary<string, string> { [file ?? $"file{n}.txt"] = content ?? $"change {n}" }, $"First of {n}", Alice);
        var second = q.GitHub.Commit(first, new Dictionary<string, string> { [$"notes{n}.txt"] = $"notes {n}" }, $"Second of {n}", Dave);
        q.GitHub.PullRequests[n] = info with { HeadSha = second };
        return n;
    }

    private static async Task<(QueueTester Q, CommitSha Base, int[] Prs)> LandThree(MergeStrategy strategy)
    {
        var q = Tester(strategy);
        var baseSha = q.Main;
        var prs = new[] { OpenTwoCommitPr(q), OpenTwoCommitPr(q), OpenTwoCommitPr(q) };
        await q.ApproveAndMerge(prs);
        (await q.RunUntilIdle()).Should().Be(1, "one batch, one CI run");
        foreach (var n in prs) q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.MainTree.Keys.Should().Contain(prs.SelectMany(n => new[] { $"file{n}.txt", $"notes{n}.txt" }));
        return (q, baseSha, prs);
    }

    [Test]
    public async Task Merge_BatchOfThree_OneMergeCommitPerPrOnTheTarget()
    {
        var (q, baseSha, prs) = await LandThree(MergeStrategy.Merge);

        var head = q.Main;
        foreach (var n in prs.Reverse())
        {
            q.GitHub.ParentsOf(head)[1].Should().Be(q.GitHub.PullRequests[n].HeadSha);
            q.GitHub.MessageOf(head).Should().Be($"Merge #{n}: Change {n}\n\nReviewed-by: bob");
            q.GitHub.Statuses[q.GitHub.PullRequests[n].HeadSha].Should().Be((StatusState.Success, $"Merged in {q.Main}"));
            head = q.GitHub.ParentsOf(head)[0];
        }
        head.Should().Be(baseSha);
        q.GitHub.Closed.Should().BeEmpty("GitHub sees the heads merged");
    }

    [Test]
    public async Task Octopus_BatchOfThree_OneCommitWithTheTargetAndEveryHeadAsParents()
    {
        var (q, baseSha, prs) = await LandThree(MergeStrategy.Octopus);

        q.GitHub.ParentsOf(q.Main).Should().Equal([baseSha, .. prs.Select(n => q.GitHub.PullRequests[n].HeadSha)]);
        q.GitHub.MessageOf(q.Main).Should().Be("Merge #1, #2 and #3\n\n#1: Change 1\n#2: Change 2\n#3: Change 3\n\nReviewed-by: bob");
        q.GitHub.Closed.Should().BeEmpty();
        q.GitHub.Statuses[q.GitHub.PullRequests[1].HeadSha].Description.Should().Be($"Merged in {q.Main}");
    }

    [Test]
    public async Task Squash_BatchOfThree_OneCommitPerPrEachOnThePrevious()
    {
        var (q, baseSha, prs) = await LandThree(MergeStrategy.Squash);

        var head = q.Main;
        foreach (var n in prs.Reverse())
        {
            q.GitHub.ParentsOf(head).Should().ContainSingle();
            q.GitHub.MessageOf(head).Should().Be(
                $"Change {n} (#{n})\n\nReviewed-by: bob\nCo-authored-by: Alice Liddell <alice@example.com>\nCo-authored-by: Dave Null <dave@example.com>");
            q.GitHub.AuthorOf(head)!.Name.Should().Be("Alice Liddell", "the squash is authored by the PR's first author");
            q.GitHub.TreeOf(head).Keys.Should().Contain([$"file{n}.txt", $"notes{n}.txt"]);
            foreach (var later in prs.Where(p => p > n))
                q.GitHub.TreeOf(head).Keys.Should().NotContain($"file{later}.txt", "each squash holds the tree after merging its PR only");
            q.Pr(n).MergedSha.Should().Be(head);
            q.GitHub.Statuses[q.GitHub.PullRequests[n].HeadSha].Should().Be((StatusState.Success, $"Merged as {head}"));
            head = q.GitHub.ParentsOf(head)[0];
        }
        head.Should().Be(baseSha);
        q.GitHub.Closed.Should().BeEquivalentTo(prs);
    }

    [Test]
    public async Task BatchSquash_BatchOfThree_OneCommitOnTheTarget()
    {
        var (q, baseSha, prs) = await LandThree(MergeStrategy.BatchSquash);

        q.GitHub.ParentsOf(q.Main).Should().Equal(baseSha);
        q.GitHub.MessageOf(q.Main).Should().Be(
            "Squash #1, #2 and #3\n\n#1: Change 1\n#2: Change 2\n#3: Change 3\n\nReviewed-by: bob\n" +
            "Co-authored-by: Alice Liddell <alice@example.com>\nCo-authored-by: Dave Null <dave@example.com>");
        foreach (var n in prs)
            q.GitHub.Statuses[q.GitHub.PullRequests[n].HeadSha].Should().Be((StatusState.Success, $"Merged as {q.Main}"));
        q.GitHub.Closed.Should().BeEquivalentTo(prs);
    }

    [Test]
    public async Task CherryPick_BatchOfThree_ReplaysEveryCommitWithItsAuthorAndMessage()
    {
        var (q, baseSha, prs) = await LandThree(MergeStrategy.CherryPick);

        var head = q.Main;
        foreach (var n in prs.Reverse())
        {
            q.GitHub.Statuses[q.GitHub.PullRequests[n].HeadSha].Should().Be((StatusState.Success, $"Merged as {head}"), "its last replayed commit carries it");
            foreach (var (title, author, file) in new[] { ($"Second of {n}", Dave, $"notes{n}.txt"), ($"First of {n}", Alice, $"file{n}.txt") })
            {
                q.GitHub.ParentsOf(head).Should().ContainSingle();
                q.GitHub.MessageOf(head).Should().Be($"{title}\n\nFrom #{n}: Change {n}\n\nReviewed-by: bob");
                q.GitHub.AuthorOf(head).Should().Be(author);
                q.GitHub.TreeOf(head).Keys.Should().Contain(file);
                head = q.GitHub.ParentsOf(head)[0];
            }
            q.GitHub.TreeOf(head).Keys.Should().NotContain($"file{n}.txt");
        }
        head.Should().Be(baseSha);
        q.GitHub.Closed.Should().BeEquivalentTo(prs);
    }

    [Test]
    public async Task CherryPick_PrWithAMergeCommit_IsRefusedAndTheOthersLand()
    {
        var q = Tester(MergeStrategy.CherryPick);
        var a = q.OpenPr();
        var b = q.OpenPr();
        // b merges the target into itself after the target moved.
        q.GitHub.MoveTarget("main", q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["base.txt"] = "moved" }, "move"));
        var bInfo = q.GitHub.PullRequests[b];
        var merge = q.GitHub.CreateCommit(q.GitHub.TreeOf(bInfo.HeadSha).Add("base.txt", "moved"), [bInfo.HeadSha, q.Main], "Merge main into feature");
        q.GitHub.PullRequests[b] = bInfo with { HeadSha = merge };
        await q.ApproveAndMerge(a, b);

        await q.RunUntilIdle();

        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Failed);
        q.Pr(b).Reason.Should().Be(Messages.RefusedMergeCommits(merge));
        q.GitHub.Statuses[merge].State.Should().Be(StatusState.Failure);
        q.GitHub.Closed.Should().Equal(a);
    }

    [TestCaseSource(nameof(All))]
    public async Task Strategy_PrWithAMergeCommit_LandsUnlessCherryPick(MergeStrategy strategy)
    {
        var q = Tester(strategy);
        var n = q.OpenPr();
        q.GitHub.MoveTarget("main", q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["base.txt"] = "moved" }, "move"));
        var info = q.GitHub.PullRequests[n];
        var merge = q.GitHub.CreateCommit(q.GitHub.TreeOf(info.HeadSha).Add("base.txt", "moved"), [info.HeadSha, q.Main], "Merge main into feature");
        q.GitHub.PullRequests[n] = info with { HeadSha = merge };
        await q.ApproveAndMerge(n);

        await q.RunUntilIdle();

        q.Pr(n).State.Should().Be(strategy == MergeStrategy.CherryPick ? PullRequestState.Failed : PullRequestState.Merged);
        if (strategy != MergeStrategy.CherryPick) q.MainTree.Should().ContainKeys($"file{n}.txt", "base.txt");
    }

    [TestCaseSource(nameof(All))]
    public async Task Strategy_ConflictingPrs_AreSkippedAndTheOthersLand(MergeStrategy strategy)
    {
        var q = Tester(strategy);
        var withTarget = q.OpenPr("README", "theirs");
        var a = OpenTwoCommitPr(q, "shared.txt", "from a");
        var b = OpenTwoCommitPr(q);
        var withA = OpenTwoCommitPr(q, "shared.txt", "from c");
        q.GitHub.MoveTarget("main", q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["README"] = "ours" }, "edit"));
        await q.ApproveAndMerge(withTarget, a, b, withA);

        await q.StartBatch();
        q.Pr(withTarget).State.Should().Be(PullRequestState.Failed);
        q.Pr(withTarget).Reason.Should().Be(Messages.ConflictWithTarget);
        q.Pr(withA).State.Should().Be(PullRequestState.Split);
        q.GitHub.TreeOf(q.Running!.StagingSha!.Value).Keys.Should().Contain(["shared.txt", "notes2.txt", "file3.txt", "notes3.txt"]);
        await q.RunUntilIdle();

        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Merged);
        q.Pr(withA).State.Should().Be(PullRequestState.Failed, "alone on the new target it conflicts with a's change");
        q.MainTree["shared.txt"].Should().Be("from a");
        q.MainTree["README"].Should().Be("ours");
        q.GitHub.Branches.Keys.Should().NotContain(k => k.StartsWith("mergequeue/", StringComparison.Ordinal));
    }

    [TestCaseSource(nameof(All))]
    public async Task Strategy_BatchWithACulprit_BisectsAndMergesTheRest(MergeStrategy strategy)
    {
        var q = Tester(strategy);
        var prs = Enumerable.Range(1, 4).Select(i => i == 3 ? OpenTwoCommitPr(q, "dir3/FAIL") : OpenTwoCommitPr(q)).ToArray();
        await q.ApproveAndMerge(prs);

        (await q.RunUntilIdle()).Should().Be(5);

        foreach (var n in prs)
            q.Pr(n).State.Should().Be(n == 3 ? PullRequestState.Failed : PullRequestState.Merged, $"PR #{n}");
        q.MainTree.Keys.Should().NotContain(k => k.EndsWith("FAIL", StringComparison.Ordinal));
        q.MainTree.Keys.Should().Contain(["file1.txt", "file2.txt", "file4.txt"]);
    }

    /// <summary>
    /// Property: for random sets of non-conflicting PRs without merge commits, every strategy ends
    /// with the same tree on the target.
    /// </summary>
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    public async Task Strategies_RandomNonConflictingPrs_AllYieldTheSameTree(int seed)
    {
        var trees = new List<IReadOnlyDictionary<string, string>>();
        foreach (var strategy in All)
        {
            var random = new Random(seed);
            var q = Tester(strategy);
            var count = random.Next(1, 7);
            var prs = new List<int>();
            for (var i = 0; i < count; i++)
            {
                var n = q.OpenPr($"p{i}/a.txt", $"v{random.Next(100)}");
                var info = q.GitHub.PullRequests[n];
                var head = info.HeadSha;
                for (var c = random.Next(0, 3); c > 0; c--)
                    head = q.GitHub.Commit(head, new Dictionary<string, string> { [$"p{i}/{random.Next(4)}.txt"] = $"{random.Next(1000)}" }, $"more {c}");
                q.GitHub.PullRequests[n] = info with { HeadSha = head };
                prs.Add(n);
            }
            await q.ApproveAndMerge([.. prs]);
            await q.RunUntilIdle();
            prs.Should().OnlyContain(n => q.Pr(n).State == PullRequestState.Merged, strategy.ToString());
            trees.Add(q.MainTree);
        }
        trees.Should().AllSatisfy(t => t.Should().BeEquivalentTo(trees[0]));
    }
}
