using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

public class RecoveryFlowTests
{
    [Test]
    public async Task TargetPushed_DuringTesting_RequeuesAndMergesOnTopOfIt()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();
        var stale = q.Running!;
        var pushed = q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["hotfix.txt"] = "fix" }, "hotfix");
        q.GitHub.MoveTarget("main", pushed);

        await q.Flows.TargetPushedAsync(q.Repo, "main", pushed, q.Cause, default);

        q.Store.AllAttempts().Single(a => a.Id == stale.Id).State.Should().Be(MergeAttemptState.Abandoned);
        q.Pr(n).State.Should().BeOneOf(PullRequestState.Queued, PullRequestState.Merging);
        await q.RunUntilIdle();
        q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.GitHub.IsAncestor(pushed, q.Main).Should().BeTrue();
        q.MainTree.Should().ContainKeys("hotfix.txt", $"file{n}.txt");
    }

    [Test]
    public async Task Complete_TargetMovedWithoutAPushEvent_RequeuesWhenTheFastForwardIsRefused()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();
        q.GitHub.MoveTarget("main", q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["hotfix.txt"] = "fix" }, "hotfix"));

        await q.FinishCi();

        q.Store.AllAttempts().First().State.Should().Be(MergeAttemptState.Abandoned);
        q.Store.EventLog.Should().Contain(e => e.Entry.PullRequest == n && e.Trigger == "Requeue" && e.Entry.Reason == "main moved during testing: re-queued");
        await q.RunUntilIdle();
        q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.GitHub.TargetMoves.Last().Sha.Should().Be(q.Main);
    }

    [Test]
    public async Task Poll_AttemptFoundConstructing_IsRebuiltFromScratch()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        q.GitHub.FailMerges = true;
        q.Advance(q.Config.BatchDelay);
        await FluentActions.Awaiting(() => q.Flows.ConstructAsync(q.Queue, q.Cause, default)).Should().ThrowAsync<HttpRequestException>();
        q.GitHub.FailMerges = false;

        await q.Tick();

        q.Running!.State.Should().Be(MergeAttemptState.Testing);
        await q.FinishCi();
        q.Pr(n).State.Should().Be(PullRequestState.Merged);
    }

    [Test]
    public async Task Poll_CiWebhookLost_TestsThroughTheApi()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();
        var sha = q.Running!.StagingSha!.Value;
        q.GitHub.Checks[sha] = [new MergeQueue.Core.Ports.Check("ci", MergeQueue.Core.Ports.CheckState.Success, null, null)];

        await q.Tick();

        q.Pr(n).State.Should().Be(PullRequestState.Merged);
    }

    [Test]
    public async Task Poll_CompleteCrashedAfterTheFastForward_FinishesTheMerge()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();
        var staging = q.Running!.StagingSha!.Value;
        q.GitHub.MoveTarget("main", staging); // the fast-forward happened, then the process died
        var attempt = (await q.Store.GetAttemptAsync(q.Running!.Id, default))!;
        attempt.ChecksPassed(q.Clock.GetUtcNow());
        await q.Store.SaveAsync(new MergeQueue.Core.Ports.Changes { Attempts = { attempt } }, q.Cause, default);

        await q.Tick();

        q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.Main.Should().Be(staging);
    }
}
