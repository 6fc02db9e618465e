using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

public class MergeFlowTests
{
    [Test]
    public async Task Request_ApprovedPr_IsQueuedAndMergesAfterGreenCi()
    {
        var q = new QueueTester();
        var n = q.OpenPr("feature.txt");
        q.Approve(n);

        (await q.Merge(n)).Accepted.Should().BeTrue();
        q.Pr(n).State.Should().Be(PullRequestState.Queued);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Description.Should().Contain("Queued: position 1");

        await q.StartBatch();
        var attempt = q.Running!;
        attempt.State.Should().Be(MergeAttemptState.Testing);
        q.Pr(n).State.Should().Be(PullRequestState.Merging);
        q.GitHub.Branches.Should().ContainKey($"mergequeue/staging/main/{attempt.Id}");
        q.GitHub.Branches.Should().NotContainKey($"mergequeue/tmp/main/{attempt.Id}");

        await q.FinishCi();

        q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.Main.Should().Be(attempt.StagingSha!.Value);
        q.MainTree.Should().ContainKey("feature.txt");
        q.GitHub.Branches.Keys.Should().NotContain(b => b.StartsWith("mergequeue/", StringComparison.Ordinal));
        q.GitHub.Statuses[q.Pr(n).HeadSha].Should().Be((StatusState.Success, $"Merged in {q.Main}"));
        q.GitHub.PullRequests[n].Merged.Should().BeTrue();
    }

    [Test]
    public async Task Request_NotApproved_WaitsAndSaysWhyThenQueuesOnApproval()
    {
        var q = new QueueTester();
        var n = q.OpenPr();

        (await q.Merge(n)).Accepted.Should().BeTrue();

        q.Pr(n).State.Should().Be(PullRequestState.Requested);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Should().Be((StatusState.Pending, "Requested, waiting for 1 more approving review (1 required)"));

        q.Approve(n);
        await q.Flows.InitiateAsync(q.Repo, n, q.Cause, default);
        q.Pr(n).State.Should().Be(PullRequestState.Queued);
    }

    [Test]
    public async Task Poll_ApprovalWebhookLost_InitiatesOnTheNextTick()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.Merge(n);
        q.Approve(n);

        await q.Tick();

        q.Pr(n).State.Should().Be(PullRequestState.Queued);
    }

    [Test]
    public async Task Request_Draft_WaitsForReadyForReview()
    {
        var q = new QueueTester();
        var n = q.OpenPr(draft: true);
        q.Approve(n);
        await q.Merge(n);
        q.Pr(n).Reason.Should().Contain("draft");
        q.Pr(n).State.Should().Be(PullRequestState.Requested);
    }

    [Test]
    public async Task Request_ChangesRequested_WaitsAndNamesTheReviewer()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        q.Approve(n);
        q.RequestChanges(n, "carol");
        await q.Merge(n);
        q.Pr(n).Reason.Should().Contain("changes requested by carol");
    }

    [Test]
    public async Task Request_ZeroApprovalsRequired_QueuesOnTheCommandAlone()
    {
        var q = new QueueTester(new RepoConfig { RequiredApprovals = 0, BatchDelay = TimeSpan.FromMinutes(1) });
        var n = q.OpenPr();
        await q.Merge(n);
        q.Pr(n).State.Should().Be(PullRequestState.Queued);
        q.GitHub.Calls.Should().NotContain(c => c.StartsWith("GetReviews", StringComparison.Ordinal));
    }

    [Test]
    public async Task Request_PreChecksRequired_WaitsForThemAtTheHead()
    {
        var q = new QueueTester(new RepoConfig { PreChecks = ["lint"], BatchDelay = TimeSpan.FromMinutes(1) });
        var n = q.OpenPr();
        q.Approve(n);
        await q.Merge(n);
        q.Pr(n).Reason.Should().Contain("waiting for pre-check lint");

        q.GitHub.Checks[q.Pr(n).HeadSha] = [new Check("lint", CheckState.Pending, null, null)];
        await q.Flows.InitiateForCommitAsync(q.Repo, q.Pr(n).HeadSha, q.Cause, default);
        q.Pr(n).Reason.Should().Contain("pre-check lint is running");

        q.GitHub.Checks[q.Pr(n).HeadSha] = [new Check("lint", CheckState.Success, null, null)];
        await q.Flows.InitiateForCommitAsync(q.Repo, q.Pr(n).HeadSha, q.Cause, default);
        q.Pr(n).State.Should().Be(PullRequestState.Queued);
    }

    [Test]
    public async Task Request_Refusals_ChangeNothing()
    {
        var q = new QueueTester();
        var closed = q.OpenPr();
        q.GitHub.PullRequests[closed] = q.GitHub.PullRequests[closed] with { Open = false };
        var elsewhere = q.OpenPr();

        (await q.Merge(closed)).Should().Be(FlowResult(false, "the pull request is closed"));
        (await q.Merge(999)).Should().Be(FlowResult(false, "no such pull request"));
        (await q.Merge(elsewhere, branch: "release")).Should().Be(FlowResult(false, "release is not a target branch of the queue"));
        q.Store.AllPullRequests().Should().BeEmpty();
        q.GitHub.Statuses.Should().BeEmpty();
    }

    private static MergeQueue.Core.Flows.FlowResult FlowResult(bool accepted, string message) => new(accepted, message);

    [Test]
    public async Task Request_BranchOption_MergesIntoThatTarget()
    {
        var q = new QueueTester(new RepoConfig { TargetBranches = ["main", "release"], BatchDelay = TimeSpan.FromMinutes(1) });
        q.GitHub.Branches["release"] = q.Main;
        var n = q.OpenPr();
        q.Approve(n);
        await q.Merge(n, branch: "release");
        await q.StartBatch();
        q.Running!.Target.Should().Be("release");
        await q.FinishCi();
        q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.GitHub.Branches["release"].Should().NotBe(q.Main);
    }

    [Test]
    public async Task Batch_TwoPrsWithinTheDelay_AreTestedInOneStagingBuild()
    {
        var q = new QueueTester();
        var a = q.OpenPr();
        var b = q.OpenPr();
        await q.ApproveAndMerge(a);
        q.Advance(TimeSpan.FromSeconds(20));
        await q.ApproveAndMerge(b);
        await q.Tick();
        q.Running.Should().BeNull("the oldest has waited 20s of the 1m batch delay");

        var runs = await q.RunUntilIdle();

        runs.Should().Be(1);
        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Merged);
        q.GitHub.ParentsOf(q.Main).Should().HaveCount(2, "the last commit is the merge of the second PR");
    }

    [Test]
    public async Task Batch_MoreThanMaxBatchSize_RunsSeveralBatchesInFifoOrder()
    {
        var q = new QueueTester(new RepoConfig { MaxBatchSize = 2, BatchDelay = TimeSpan.FromMinutes(1) });
        var prs = Enumerable.Range(0, 5).Select(_ => q.OpenPr()).ToArray();
        foreach (var n in prs)
        {
            await q.ApproveAndMerge(n);
            q.Advance(TimeSpan.FromSeconds(1));
        }

        await q.StartBatch();
        q.Store.AllPullRequests().Where(p => p.State == PullRequestState.Merging).Select(p => p.Number).Should().Equal(prs[0], prs[1]);
        var runs = 1 + await q.RunUntilIdle();

        runs.Should().Be(3);
        prs.Should().OnlyContain(n => q.Pr(n).State == PullRequestState.Merged);
    }

    [Test]
    public async Task Batch_HigherPriority_IsBatchedFirst()
    {
        var q = new QueueTester(new RepoConfig { MaxBatchSize = 1, BatchDelay = TimeSpan.FromMinutes(1) });
        var low = q.OpenPr();
        var high = q.OpenPr();
        await q.ApproveAndMerge(low);
        q.Approve(high);
        await q.Merge(high, priority: 10);

        await q.StartBatch();

        q.Pr(high).State.Should().Be(PullRequestState.Merging);
        q.Pr(low).State.Should().Be(PullRequestState.Queued);
        q.GitHub.Statuses[q.Pr(low).HeadSha].Description.Should().Be("Queued: position 1");
    }

    [Test]
    public async Task Request_RepeatedWithPriority_ChangesThePriorityInPlace()
    {
        var q = new QueueTester(new RepoConfig { MaxBatchSize = 1, BatchDelay = TimeSpan.FromMinutes(1) });
        var first = q.OpenPr();
        var second = q.OpenPr();
        await q.ApproveAndMerge(first, second);

        var result = await q.Merge(second, priority: 3);

        result.Should().Be(FlowResult(true, "priority set to 3"));
        q.Pr(second).Priority.Should().Be(3);
        q.Store.AllPullRequests().Should().HaveCount(2, "no second request row");
        await q.StartBatch();
        q.Pr(second).State.Should().Be(PullRequestState.Merging);
    }

    [Test]
    public async Task Request_WhileMerging_IsRefused()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();

        var result = await q.Merge(n, priority: 2);

        result.Accepted.Should().BeFalse();
        result.Message.Should().StartWith("already being merged in attempt");
    }

    [Test]
    public async Task Initiate_HeadMovedWhileRequested_CancelsAsOutOfDate()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.Merge(n);
        var oldHead = q.Pr(n).HeadSha;
        q.Push(n);

        await q.Tick();

        q.Pr(n).State.Should().Be(PullRequestState.Cancelled);
        q.GitHub.Statuses[oldHead].Should().Be((StatusState.Failure, "Cancelled: new commits were pushed"));
    }

    [Test]
    public async Task Request_AfterAFailure_MakesANewRequestRow()
    {
        var q = new QueueTester();
        var n = q.OpenPr("FAIL");
        await q.ApproveAndMerge(n);
        await q.RunUntilIdle();
        q.Pr(n).State.Should().Be(PullRequestState.Failed);

        (await q.Merge(n)).Accepted.Should().BeTrue();

        q.Store.AllPullRequests().Where(p => p.Number == n).Select(p => p.State)
            .Should().Equal(PullRequestState.Failed, PullRequestState.Queued);
    }

    [Test]
    public async Task EventLog_EveryTransition_IsLoggedWithItsCause()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.RunUntilIdle();

        var prLog = q.Store.EventLog.Where(e => e.Entry.PullRequest == n).Select(e => $"{e.Entry.From}->{e.Entry.To}").ToArray();
        prLog.Should().Equal("None->Requested", "Requested->Queued", "Queued->Merging", "Merging->Merged");
        q.Store.EventLog.Should().OnlyContain(e => e.Entry.Cause == q.Cause);
        q.Store.EventLog.Where(e => e.Entry.Attempt != null && e.Entry.PullRequest == null).Select(e => e.Entry.To)
            .Should().Equal("Constructing", "Testing", "Success", "Merged");
    }
}
