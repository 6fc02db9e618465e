using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

public class ConflictFlowTests
{
    [Test]
    public async Task Construct_LonePrConflictingWithTarget_FailsIt()
    {
        var q = new QueueTester();
        var n = q.OpenPr("README", "theirs");
        q.GitHub.MoveTarget("main", q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["README"] = "ours" }, "edit"));
        await q.ApproveAndMerge(n);

        var runs = await q.RunUntilIdle();

        runs.Should().Be(0, "nothing could be built, so nothing was tested");
        q.Pr(n).State.Should().Be(PullRequestState.Failed);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Should().Be((StatusState.Failure, "Merge conflict with the target branch"));
        q.GitHub.Branches.Keys.Should().NotContain(b => b.StartsWith("mergequeue/", StringComparison.Ordinal));
    }

    [Test]
    public async Task Construct_PrConflictingWithABatchMate_IsSplitOutAndTheRestMerges()
    {
        var q = new QueueTester();
        var a = q.OpenPr("shared.txt", "from a");
        var b = q.OpenPr("other.txt");
        var c = q.OpenPr("shared.txt", "from c");
        await q.ApproveAndMerge(a, b, c);

        await q.StartBatch();
        q.Pr(c).State.Should().Be(PullRequestState.Split);
        q.Pr(c).Reason.Should().StartWith("Merge conflict with another PR of attempt");
        q.Running!.State.Should().Be(MergeQueue.Core.MergeAttempts.MergeAttemptState.Testing);
        await q.RunUntilIdle();

        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Merged);
        q.Pr(c).State.Should().Be(PullRequestState.Failed, "alone on the new target it conflicts with a's change");
        q.MainTree["shared.txt"].Should().Be("from a");
    }

    [Test]
    public async Task Construct_FirstPrConflictsWithTarget_FailsOnlyItAndBuildsTheRest()
    {
        var q = new QueueTester();
        var a = q.OpenPr("README", "theirs");
        var b = q.OpenPr();
        q.GitHub.MoveTarget("main", q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["README"] = "ours" }, "edit"));
        await q.ApproveAndMerge(a, b);

        var runs = await q.RunUntilIdle();

        runs.Should().Be(1);
        q.Pr(a).State.Should().Be(PullRequestState.Failed);
        q.Pr(b).State.Should().Be(PullRequestState.Merged);
    }
}
