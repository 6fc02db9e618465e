using MergeQueue.Core.Config;
using MergeQueue.Core.Flows;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

/// <summary>Freeze, try, merge rules and priorities through the flows.</summary>
public class CommandFlowTests
{
    [Test]
    public async Task Freeze_QueuedPrs_StartNoAttemptSayWhyAndGoOnAfterUnfreeze()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);

        (await q.Flows.FreezeAsync(q.Repo, n, "carol", "release day", q.Cause, default)).Accepted.Should().BeTrue();
        await q.StartBatch();

        q.Running.Should().BeNull("a frozen target starts no attempt");
        q.Pr(n).State.Should().Be(PullRequestState.Queued);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Description.Should().Be("Queued: position 1; main is frozen by carol: release day");
        (await q.Store.GetFreezeAsync(q.Queue, default)).Should().Match<QueueFreeze>(f => f.FrozenBy == "carol" && f.Reason == "release day");

        (await q.Flows.UnfreezeAsync(q.Repo, n, q.Cause, default)).Accepted.Should().BeTrue();
        q.Running.Should().NotBeNull("unfreezing starts the due batch at once");
        await q.FinishCi();
        q.Pr(n).State.Should().Be(PullRequestState.Merged);
    }

    [Test]
    public async Task Freeze_WhileAnAttemptRuns_LetsItFinish()
    {
        var q = new QueueTester();
        var a = q.OpenPr();
        await q.ApproveAndMerge(a);
        await q.StartBatch();
        var b = q.OpenPr();
        await q.ApproveAndMerge(b);

        await q.Flows.FreezeAsync(q.Repo, b, "carol", null, q.Cause, default);
        await q.FinishCi();
        await q.StartBatch();

        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Queued);
        q.Running.Should().BeNull();
        q.GitHub.Statuses[q.Pr(b).HeadSha].Description.Should().Be("Queued: position 1; main is frozen by carol");
    }

    [Test]
    public async Task Unfreeze_NotFrozen_IsRefused()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        (await q.Flows.UnfreezeAsync(q.Repo, n, q.Cause, default)).Should().Be(Flows_Refused("main is not frozen"));
    }

    [Test]
    public async Task Try_GreenChecks_ReportsSuccessAndNeverMovesTheTarget()
    {
        var q = new QueueTester();
        var n = q.OpenPr("try.txt");
        var main = q.Main;

        (await q.Flows.TryAsync(q.Repo, n, "bob", q.Cause, default)).Accepted.Should().BeTrue();
        var trySha = q.GitHub.Branches["mergequeue/try/" + n];
        q.GitHub.TreeOf(trySha).Should().ContainKey("try.txt");
        q.GitHub.ParentsOf(trySha).Should().Equal(main, q.GitHub.PullRequests[n].HeadSha);
        q.GitHub.TryStatuses[q.GitHub.PullRequests[n].HeadSha].State.Should().Be(StatusState.Pending);
        q.GitHub.Branches.Keys.Should().NotContain(b => b.Contains("/tmp/", StringComparison.Ordinal));

        q.GitHub.Checks[trySha] = [new Check("ci", CheckState.Success, null, null)];
        await q.Flows.TestTryAsync(q.Repo, trySha, q.Cause, default);

        q.GitHub.TryStatuses[q.GitHub.PullRequests[n].HeadSha].Should().Be((StatusState.Success, $"Try passed on {trySha.Short}"));
        q.Main.Should().Be(main);
        q.GitHub.TargetMoves.Should().BeEmpty();
        q.GitHub.Statuses.Should().NotContainKey(q.GitHub.PullRequests[n].HeadSha, "try never touches the mergequeue status");
        q.GitHub.Branches.Should().NotContainKey("mergequeue/try/" + n);
        q.GitHub.Comments.Should().BeEmpty();
    }

    [Test]
    public async Task Try_SquashStrategy_BuildsWithTheConfiguredStrategy()
    {
        var q = new QueueTester { Config = new RepoConfig { Strategy = MergeStrategy.Squash } };
        var n = q.OpenPr("squashed.txt");
        var main = q.Main;

        await q.Flows.TryAsync(q.Repo, n, "bob", q.Cause, default);

        var trySha = q.GitHub.Branches["mergequeue/try/" + n];
        q.GitHub.ParentsOf(trySha).Should().Equal(main);
        q.GitHub.TreeOf(trySha).Should().ContainKey("squashed.txt");
        q.Main.Should().Be(main);
    }

    [Test]
    public async Task Try_RedChecksWithComments_ReportsFailureAndComments()
    {
        var q = new QueueTester { Config = new RepoConfig { Comments = true } };
        var n = q.OpenPr("FAIL");
        await q.Flows.TryAsync(q.Repo, n, "bob", q.Cause, default);
        var trySha = q.GitHub.Branches["mergequeue/try/" + n];

        q.GitHub.Checks[trySha] = [new Check("ci", CheckState.Failure, null, null)];
        await q.Tick(); // the poller settles a try whose webhook was lost

        q.GitHub.TryStatuses[q.GitHub.PullRequests[n].HeadSha].Should().Be((StatusState.Failure, "Try failed: ci"));
        q.GitHub.Comments.Should().Equal((n, "Try failed: ci"));
    }

    [Test]
    public async Task Outcome_WithComments_IsCommentedOnce_AndNotWithoutThem()
    {
        var quiet = new QueueTester();
        var n = quiet.OpenPr();
        await quiet.ApproveAndMerge(n);
        await quiet.RunUntilIdle();
        quiet.Pr(n).State.Should().Be(PullRequestState.Merged);
        quiet.GitHub.Comments.Should().BeEmpty("comments: false is the default: statuses only");

        var chatty = new QueueTester { Config = new RepoConfig { Comments = true, BatchDelay = TimeSpan.FromMinutes(1) } };
        var m = chatty.OpenPr();
        await chatty.ApproveAndMerge(m);
        await chatty.RunUntilIdle();
        chatty.GitHub.Comments.Should().Equal((m, $"Merged in {chatty.Main}"));
    }

    [Test]
    public async Task Try_Again_ReplacesTheRunningTry()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.Flows.TryAsync(q.Repo, n, "bob", q.Cause, default);
        var first = q.GitHub.Branches["mergequeue/try/" + n];
        var oldHead = q.GitHub.PullRequests[n].HeadSha;
        var newHead = q.Push(n);
        await q.Flows.TryAsync(q.Repo, n, "bob", q.Cause, default);
        var second = q.GitHub.Branches["mergequeue/try/" + n];

        second.Should().NotBe(first);
        q.GitHub.TryStatuses[oldHead].Should().Be((StatusState.Error, "Try replaced by a newer try"));
        q.GitHub.Checks[first] = [new Check("ci", CheckState.Failure, null, null)];
        await q.Flows.TestTryAsync(q.Repo, first, q.Cause, default);
        q.GitHub.TryStatuses[newHead].State.Should().Be(StatusState.Pending, "the replaced try's result is ignored");
    }

    [Test]
    public async Task Try_ConflictWithTarget_FailsAtOnce()
    {
        var q = new QueueTester();
        var n = q.OpenPr("README", "mine");
        q.GitHub.MoveTarget("main", q.GitHub.Commit(q.Main, new Dictionary<string, string> { ["README"] = "theirs" }, "hotfix"));

        await q.Flows.TryAsync(q.Repo, n, "bob", q.Cause, default);

        q.GitHub.TryStatuses[q.GitHub.PullRequests[n].HeadSha].Should().Be((StatusState.Failure, "Try: merge conflict with main"));
        q.GitHub.Branches.Keys.Should().NotContain(b => b.StartsWith("mergequeue/", StringComparison.Ordinal));
    }

    [Test]
    public async Task Request_DeniedAuthor_FailsWithTheRule()
    {
        var q = new QueueTester { Config = new RepoConfig { DeniedAuthors = ["alice"], BatchDelay = TimeSpan.FromMinutes(1) } };
        var n = q.OpenPr();
        q.Approve(n);

        (await q.Merge(n)).Accepted.Should().BeTrue();

        q.Pr(n).State.Should().Be(PullRequestState.Failed);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Should().Be((StatusState.Failure, "Rule failed: author alice is in denied_authors"));
    }

    [Test]
    public async Task Request_ApprovedOnlyByReadOnlyUser_WaitsUntilAWriterApproves()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        q.Approve(n, by: "mallory"); // read permission only

        (await q.Merge(n)).Accepted.Should().BeTrue();

        q.Pr(n).State.Should().Be(PullRequestState.Requested);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Description.Should()
            .Be("Requested, waiting for 1 more approving review (1 required); not counted, no write permission: mallory");

        q.Approve(n, by: "bob");
        await q.Flows.InitiateAsync(q.Repo, n, q.Cause, default);

        q.Pr(n).State.Should().Be(PullRequestState.Queued);
    }

    [TestCase(-1, true, Description = "pushed the second before the comment")]
    [TestCase(0, true, Description = "the same second counts as before: GitHub's timestamps are whole seconds")]
    [TestCase(1, false, Description = "pushed after the comment was written")]
    public async Task Request_HeadPushedAfterTheComment_IsRefusedAndChangesNothing(int pushedSecondsAfter, bool accepted)
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        var written = q.Clock.GetUtcNow();
        var head = q.Push(n);
        q.GitHub.PushedAt[head] = written.AddSeconds(pushedSecondsAfter);
        q.Approve(n);

        var merge = await q.Flows.RequestAsync(q.Repo, n, new MergeRequest("maintainer") { WrittenAt = written }, q.Cause, default);
        var tryBuild = await q.Flows.TryAsync(q.Repo, n, "maintainer", q.Cause, default, written);

        merge.Accepted.Should().Be(accepted);
        tryBuild.Accepted.Should().Be(accepted);
        if (accepted) return;
        merge.Message.Should().Be(Messages.RefusedPushedAfterCommand(head));
        q.Store.AllPullRequests().Should().BeEmpty();
        q.GitHub.Statuses.Should().BeEmpty();
        q.GitHub.Branches.Keys.Should().NotContain(b => b.StartsWith("mergequeue/", StringComparison.Ordinal));
    }

    [Test]
    public async Task Request_ForAnApprovedCommitNoLongerTheHead_IsRefused_ForTheHeadItIs_Queued()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        var approved = q.GitHub.PullRequests[n].HeadSha;
        q.Approve(n);
        var head = q.Push(n);
        q.Approve(n);

        var stale = await q.Flows.RequestAsync(q.Repo, n, new MergeRequest("bob") { Head = approved }, q.Cause, default);
        stale.Should().Be(FlowResult.Refused(Messages.RefusedNotApprovedHead(approved, head)));
        q.Store.AllPullRequests().Should().BeEmpty();

        (await q.Flows.RequestAsync(q.Repo, n, new MergeRequest("bob") { Head = head }, q.Cause, default)).Accepted.Should().BeTrue();
        q.Pr(n).State.Should().Be(PullRequestState.Queued);
        q.Pr(n).HeadSha.Should().Be(head);
    }

    [Test]
    public async Task Request_MissingRequiredLabel_WaitsUntilItIsAdded()
    {
        var q = new QueueTester { Config = new RepoConfig { RequiredLabels = ["qa-ok"], BatchDelay = TimeSpan.FromMinutes(1) } };
        var n = q.OpenPr();
        q.Approve(n);
        await q.Merge(n);
        q.Pr(n).State.Should().Be(PullRequestState.Requested);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Description.Should().Be("Requested, missing required label qa-ok");

        q.GitHub.PullRequests[n] = q.GitHub.PullRequests[n] with { Labels = ["qa-ok"] };
        await q.Flows.InitiateAsync(q.Repo, n, q.Cause, default);

        q.Pr(n).State.Should().Be(PullRequestState.Queued);
    }

    [Test]
    public async Task Construct_BlockingLabelAddedWhileQueued_HoldsThePrBackAndBatchesTheRest()
    {
        var q = new QueueTester();
        var a = q.OpenPr();
        var b = q.OpenPr();
        await q.ApproveAndMerge(a, b);
        q.GitHub.PullRequests[a] = q.GitHub.PullRequests[a] with { Labels = ["do-not-merge"] };

        await q.StartBatch();

        q.Pr(a).State.Should().Be(PullRequestState.Queued);
        q.GitHub.Statuses[q.Pr(a).HeadSha].Description.Should().Be("Queued, held back: blocked by label do-not-merge");
        q.Pr(b).State.Should().Be(PullRequestState.Merging);
        await q.Tick(); // Construct runs while b's attempt is busy: a stays held, its description does not flap
        q.GitHub.Statuses[q.Pr(a).HeadSha].Description.Should().Be("Queued, held back: blocked by label do-not-merge");
        await q.FinishCi();
        q.Pr(b).State.Should().Be(PullRequestState.Merged);

        q.GitHub.PullRequests[a] = q.GitHub.PullRequests[a] with { Labels = [] };
        await q.Flows.InitiateAsync(q.Repo, a, q.Cause, default); // the unlabeled webhook
        q.Running.Should().NotBeNull();
        await q.FinishCi();
        q.Pr(a).State.Should().Be(PullRequestState.Merged);
    }

    [Test]
    public async Task Construct_RuleBrokenSinceQueued_FailsThePrAndKeepsItOutOfTheBatch()
    {
        var q = new QueueTester();
        var a = q.OpenPr();
        var b = q.OpenPr();
        await q.ApproveAndMerge(a, b);
        q.GitHub.PullRequests[a] = q.GitHub.PullRequests[a] with { ChangedLines = 5000 };
        q.Config = q.Config with { MaxChangedLines = 1000 };

        await q.StartBatch();

        q.Pr(a).State.Should().Be(PullRequestState.Failed);
        q.GitHub.Statuses[q.Pr(a).HeadSha].Should().Be((StatusState.Failure, "Rule failed: 5000 changed lines, more than max_changed_lines 1000"));
        await q.FinishCi();
        q.Pr(b).State.Should().Be(PullRequestState.Merged);
        q.MainTree.Should().NotContainKey($"file{a}.txt");
    }

    [Test]
    public async Task Request_CommitMessagePattern_ReadsEveryPrCommit()
    {
        var q = new QueueTester { Config = new RepoConfig { CommitMessagePattern = "^PR ", BatchDelay = TimeSpan.FromMinutes(1) } };
        var ok = q.OpenPr();
        var bad = q.OpenPr();
        q.Push(bad); // its second commit's message is "more"
        await q.ApproveAndMerge(ok, bad);

        q.Pr(ok).State.Should().Be(PullRequestState.Queued);
        q.Pr(bad).State.Should().Be(PullRequestState.Failed);
        q.Pr(bad).Reason.Should().StartWith("Rule failed: commit ").And.EndWith(" does not match commit_message_pattern ^PR ");
    }

    [Test]
    public async Task Retry_AfterAFailure_RequestsAgainWithTheSamePriorityAndTarget()
    {
        var q = new QueueTester { Config = new RepoConfig { TargetBranches = ["main", "release"], BatchDelay = TimeSpan.FromMinutes(1) } };
        q.GitHub.Branches["release"] = q.Main;
        var n = q.OpenPr("FAIL");
        q.Approve(n);
        await q.Merge(n, priority: 7, branch: "release");
        await q.RunUntilIdle();
        q.Pr(n).State.Should().Be(PullRequestState.Failed);

        (await q.Flows.RetryAsync(q.Repo, n, "bob", q.Cause, default)).Accepted.Should().BeTrue();

        q.Pr(n).Should().Match<PullRequest>(p => p.IsActive && p.Priority == 7 && p.Target == "release" && p.RequestedBy == "bob");
        q.Store.AllPullRequests().Count(p => p.Number == n).Should().Be(2, "the failed request stays as history");
    }

    [Test]
    public async Task Priorities_HigherFirst_AndChangeableWhileQueued()
    {
        var q = new QueueTester { Config = new RepoConfig { MaxBatchSize = 1, BatchDelay = TimeSpan.FromMinutes(1) } };
        var low = q.OpenPr();
        var high = q.OpenPr();
        var bumped = q.OpenPr();
        q.Approve(low);
        q.Approve(high);
        q.Approve(bumped);
        await q.Merge(low);
        await q.Merge(high, priority: 5);
        await q.Merge(bumped);
        (await q.Merge(bumped, priority: 10)).Message.Should().Be("priority set to 10");

        var order = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            await q.StartBatch();
            order.Add(q.Store.AllPullRequests().Single(p => p.State == PullRequestState.Merging).Number);
            await q.FinishCi();
        }

        order.Should().Equal(bumped, high, low);
        q.Store.AllAttempts().Should().OnlyContain(a => a.State == MergeAttemptState.Merged);
    }

    private static Core.Flows.FlowResult Flows_Refused(string reason) => Core.Flows.FlowResult.Refused(reason);
}
