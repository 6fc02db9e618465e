using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

public class CancelFlowTests
{
    [Test]
    public async Task Cancel_Requested_LeavesTheQueue()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.Merge(n);

        (await q.Cancel(n)).Accepted.Should().BeTrue();

        q.Pr(n).State.Should().Be(PullRequestState.Cancelled);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Should().Be((StatusState.Failure, "Cancelled by maintainer"));
    }

    [Test]
    public async Task Cancel_Queued_LeavesTheQueueAndOthersMoveUp()
    {
        var q = new QueueTester(new MergeQueue.Core.Config.RepoConfig { BatchDelay = TimeSpan.FromHours(1) });
        var a = q.OpenPr();
        var b = q.OpenPr();
        await q.ApproveAndMerge(a, b);
        q.GitHub.Statuses[q.Pr(b).HeadSha].Description.Should().StartWith("Queued: position 2,");

        await q.Cancel(a);

        q.Pr(a).State.Should().Be(PullRequestState.Cancelled);
        q.GitHub.Statuses[q.Pr(b).HeadSha].Description.Should().StartWith("Queued: position 1,");
    }

    [Test]
    public async Task Cancel_WhileTesting_SplitsTheAttemptAndRebuildsItWithoutThePr()
    {
        var q = new QueueTester();
        var (a, b, c) = (q.OpenPr(), q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b, c);
        await q.StartBatch();
        var attempt = q.Running!;
        var firstStaging = attempt.StagingSha;

        await q.Cancel(b);

        q.Pr(b).State.Should().Be(PullRequestState.Cancelled);
        var rebuilt = q.Running!;
        rebuilt.Id.Should().Be(attempt.Id, "the seed turns the attempt back to SPLIT and builds it again");
        rebuilt.State.Should().Be(MergeAttemptState.Testing);
        rebuilt.StagingSha.Should().NotBe(firstStaging);
        q.GitHub.TreeOf(rebuilt.StagingSha!.Value).Should().NotContainKey($"file{b}.txt");

        // A late verdict for the abandoned staging commit changes nothing.
        q.GitHub.Checks[firstStaging!.Value] = [new Check("ci", CheckState.Success, null, null)];
        await q.Flows.TestAsync(q.Repo, firstStaging.Value, q.Cause, default);
        q.Pr(a).State.Should().Be(PullRequestState.Merging);

        await q.RunUntilIdle();
        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(c).State.Should().Be(PullRequestState.Merged);
        q.MainTree.Should().NotContainKey($"file{b}.txt");
    }

    [Test]
    public async Task Cancel_InSplit_LeavesTheSplitAttemptToTheOthers()
    {
        var q = new QueueTester();
        var (a, b, c) = (q.OpenPr(), q.OpenPr("FAIL"), q.OpenPr());
        await q.ApproveAndMerge(a, b, c);
        await q.StartBatch();
        await q.FinishCi(); // fails: [a, b] building, [c] split
        q.Pr(c).State.Should().Be(PullRequestState.Split);

        await q.Cancel(c);

        q.Pr(c).State.Should().Be(PullRequestState.Cancelled);
        await q.RunUntilIdle();
        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Failed);
        q.Store.AllAttempts().Should().OnlyContain(x => !x.IsActive);
    }

    [Test]
    public async Task Cancel_LastPrOfAnAttempt_RemovesTheEmptyAttempt()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();

        await q.Cancel(n);

        q.Store.AllAttempts().Single().State.Should().Be(MergeAttemptState.Abandoned);
        q.GitHub.Branches.Keys.Should().NotContain(k => k.StartsWith("mergequeue/", StringComparison.Ordinal));
    }

    [Test]
    public async Task Cancel_NotInQueue_IsRefused()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        var result = await q.Cancel(n);
        result.Should().Be(new MergeQueue.Core.Flows.FlowResult(false, "the pull request is not in the queue"));
    }

    [Test]
    public async Task Pushed_ToAPrUnderTest_CancelsItAndBatchMatesGoOn()
    {
        var q = new QueueTester();
        var (a, b) = (q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b);
        await q.StartBatch();
        var oldHead = q.Pr(b).HeadSha;
        var newHead = q.Push(b);

        await q.Flows.PushedAsync(q.Repo, b, newHead, q.Cause, default);
        await q.Flows.PushedAsync(q.Repo, b, newHead, q.Cause, default); // duplicate delivery

        q.Pr(b).State.Should().Be(PullRequestState.Cancelled);
        q.GitHub.Statuses[oldHead].Description.Should().Be("Cancelled: new commits were pushed");
        await q.RunUntilIdle();
        q.Pr(a).State.Should().Be(PullRequestState.Merged);
    }

    [Test]
    public async Task A_late_synchronize_whose_push_was_undone_cancels_nothing()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        var requested = q.Pr(n).HeadSha;
        var pushed = q.Push(n);
        q.GitHub.PullRequests[n] = q.GitHub.PullRequests[n] with { HeadSha = requested }; // force-pushed back before the delivery is handled

        await q.Flows.PushedAsync(q.Repo, n, pushed, q.Cause, default);

        q.Pr(n).State.Should().Be(PullRequestState.Queued);
    }

    [Test]
    public async Task A_late_closed_delivery_of_a_pr_reopened_since_cancels_nothing_and_a_current_one_cancels()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);

        await q.Flows.ClosedAsync(q.Repo, n, q.Cause, default); // GitHub shows it open: reopened since
        q.Pr(n).State.Should().Be(PullRequestState.Queued);

        q.GitHub.PullRequests[n] = q.GitHub.PullRequests[n] with { Open = false };
        await q.Flows.ClosedAsync(q.Repo, n, q.Cause, default);
        q.Pr(n).State.Should().Be(PullRequestState.Cancelled);
        q.Pr(n).Reason.Should().Be(Messages.CancelledClosed);
    }

    [Test]
    public async Task A_converted_to_draft_delivery_cancels_only_while_GitHub_still_shows_a_draft()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);

        await q.Flows.DraftedAsync(q.Repo, n, q.Cause, default); // ready for review again by now
        q.Pr(n).State.Should().Be(PullRequestState.Queued);

        q.GitHub.PullRequests[n] = q.GitHub.PullRequests[n] with { Draft = true };
        await q.Flows.DraftedAsync(q.Repo, n, q.Cause, default);
        q.Pr(n).State.Should().Be(PullRequestState.Cancelled);
        q.Pr(n).Reason.Should().Be(Messages.CancelledDraft);
    }
}
