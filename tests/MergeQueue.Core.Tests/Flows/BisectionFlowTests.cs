using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

public class BisectionFlowTests
{
    /// <summary>CI runs: the whole batch, then each failing half is split again; passing halves merge.</summary>
    [TestCase(2, new[] { 2 }, 3)]
    [TestCase(2, new[] { 1 }, 3)]
    [TestCase(4, new[] { 3 }, 5)]
    [TestCase(4, new[] { 1, 4 }, 7)]
    [TestCase(8, new[] { 6 }, 7)]
    [TestCase(8, new[] { 2, 7 }, 11)]
    [TestCase(8, new[] { 1, 2 }, 7)]
    public async Task Batch_WithCulprits_BisectsAndMergesTheRest(int size, int[] culprits, int expectedRuns)
    {
        var q = new QueueTester(new MergeQueue.Core.Config.RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), MaxBatchSize = 8, Bisect = MergeQueue.Core.Config.BisectMode.Serial });
        var prs = Enumerable.Range(1, size).Select(i => q.OpenPr(culprits.Contains(i) ? $"dir{i}/FAIL" : null)).ToArray();
        await q.ApproveAndMerge(prs);

        var runs = await q.RunUntilIdle();

        runs.Should().Be(expectedRuns);
        foreach (var n in prs)
            q.Pr(n).State.Should().Be(culprits.Contains(n) ? PullRequestState.Failed : PullRequestState.Merged, $"PR #{n}");
        q.MainTree.Keys.Should().NotContain(k => k.EndsWith("FAIL", StringComparison.Ordinal));
        q.MainTree.Keys.Count(k => k.StartsWith("file", StringComparison.Ordinal)).Should().Be(size - culprits.Length);
        foreach (var n in culprits)
            q.GitHub.Statuses[q.Pr(n).HeadSha].Should().Be((StatusState.Failure, "Checks failed: ci"));
        AssertTargetOnlyMovedToGreen(q);
    }

    [Test]
    public async Task Batch_OfOneFailing_FailsThePrWithoutBisecting()
    {
        var q = new QueueTester();
        var n = q.OpenPr("FAIL");
        await q.ApproveAndMerge(n);

        (await q.RunUntilIdle()).Should().Be(1);
        q.Pr(n).State.Should().Be(PullRequestState.Failed);
        q.Pr(n).Reason.Should().Be("Checks failed: ci");
    }

    [Test]
    public async Task Bisection_SplitAttempts_RecordTheirParent()
    {
        var q = new QueueTester();
        var a = q.OpenPr();
        var b = q.OpenPr("FAIL");
        await q.ApproveAndMerge(a, b);
        await q.StartBatch();
        var first = q.Running!.Id;
        await q.FinishCi();

        q.Store.AllAttempts().Where(x => x.ParentId == first).Should().HaveCount(2);
    }

    internal static void AssertTargetOnlyMovedToGreen(QueueTester q)
    {
        foreach (var (branch, sha) in q.GitHub.TargetMoves.Where(m => m.Branch == "main"))
            q.GitHub.Checks.GetValueOrDefault(sha).Should().ContainSingle(c => c.Context == "ci" && c.State == CheckState.Success,
                $"main moved to {sha.Short}, which must have passed CI");
    }
}
