using MergeQueue.Core.Approval;
using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Rules;

namespace MergeQueue.Core.Tests.Approval;

/// <summary>The one "why is my PR not merging?" function, in its short (status) and full (dashboard) forms.</summary>
public class ReadinessTests
{
    private static readonly CommitSha Head = new("head000");
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly QueueId Main = new(new RepoId("acme", "widgets"), "main");

    private static PullRequestInfo Pr(bool draft = false, params string[] labels) =>
        new(7, "Change", "alice", Head, "feature", "main", true, false, draft, labels) { ChangedLines = 12 };

    private static Review Approval(string by) => new(by, ReviewState.Approved, Head, T0) { AuthorPermission = Permission.Write };

    [Test]
    public void Explain_ApprovedPlainPr_IsReady()
    {
        var result = Readiness.Explain(new ReadinessFacts { Config = new RepoConfig(), PullRequest = Pr(), Reviews = [Approval("bob")] });
        result.Ready.Should().BeTrue();
        result.Failed.Should().BeFalse();
        result.Full.Should().Equal("ready to merge");
    }

    [Test]
    public void Explain_EverythingMissing_ListsEveryReasonAndWhoApproved()
    {
        var config = new RepoConfig { RequiredApprovals = 2, PreChecks = ["lint", "build", "docs"], RequiredLabels = ["qa-ok"] };
        var result = Readiness.Explain(new ReadinessFacts
        {
            Config = config,
            PullRequest = Pr(draft: true, "do-not-merge"),
            Reviews = [Approval("bob")],
            HeadChecks = [new Check("lint", CheckState.Failure, null, null), new Check("build", CheckState.Pending, null, null)],
        });

        result.Ready.Should().BeFalse();
        result.Failed.Should().BeFalse();
        result.Full.Should().Equal(
            "draft: mark it ready for review",
            "waiting for 1 more approving review (2 required, approved by bob)",
            "pre-check lint failed",
            "pre-check build is running",
            "waiting for pre-check docs",
            "missing required label qa-ok",
            "blocked by label do-not-merge");
        result.Short.Should().StartWith("Requested, draft: mark it ready for review; waiting for 1 more approving review");
        result.Short.Length.Should().BeLessThanOrEqualTo(Messages.MaxStatusLength);
    }

    [Test]
    public void Explain_ChangesRequested_NamesWhoRequestedThem()
    {
        var result = Readiness.Explain(new ReadinessFacts
        {
            Config = new RepoConfig(),
            PullRequest = Pr(),
            Reviews = [Approval("bob"), new Review("carol", ReviewState.ChangesRequested, Head, T0) { AuthorPermission = Permission.Admin }],
        });
        result.Short.Should().Be("Requested, changes requested by carol");
    }

    [Test]
    public void Explain_FailedRule_ComesFirstAndFailsTheRequest()
    {
        var config = new RepoConfig { CommitMessagePattern = "^feat: ", RequiredApprovals = 1 };
        var result = Readiness.Explain(new ReadinessFacts
        {
            Config = config,
            PullRequest = Pr(),
            Commits = [new CommitInfo(new CommitSha("abcdef123"), "t", [], "wip", "A", "a@x")],
        });
        result.Failed.Should().BeTrue();
        result.FailedRule!.Kind.Should().Be(BlockerKind.CommitMessage);
        result.Short.Should().Be("Rule failed: commit abcdef1 does not match commit_message_pattern ^feat: ");
        result.Full[0].Should().StartWith("failed: commit abcdef1");
    }

    [Test]
    public void Explain_QueuedBehindOthersWaitingForTheBatchDelay_SaysPositionAndDelay()
    {
        var result = Readiness.Explain(new ReadinessFacts { Config = new RepoConfig(), QueuePosition = (2, 3), BatchStartsAt = T0.AddMinutes(10) });
        result.Ready.Should().BeTrue("queue facts never make a PR unready");
        result.Short.Should().Be("Queued: position 2, waiting for the batch delay");
        result.Full.Should().Equal("Queued: position 2 of 3", "waiting for the batch delay (until 09:10:00 UTC)");
    }

    [Test]
    public void Explain_QueuedOnAFrozenTarget_SaysWhoFrozeItAndWhy()
    {
        var freeze = new QueueFreeze(Main, "carol", T0, "release 2.0 in progress");
        var result = Readiness.Explain(new ReadinessFacts { Config = new RepoConfig(), QueuePosition = (1, 1), Freeze = freeze });
        result.Short.Should().Be("Queued: position 1; main is frozen by carol: release 2.0 in progress");
    }

    [Test]
    public void Explain_LongReasons_ShortFormStaysWithin140Characters()
    {
        var freeze = new QueueFreeze(Main, "carol", T0, new string('x', 300));
        var result = Readiness.Explain(new ReadinessFacts { Config = new RepoConfig(), QueuePosition = (1, 1), Freeze = freeze });
        result.Short.Length.Should().Be(Messages.MaxStatusLength);
        result.Full.Should().Contain(l => l.Contains(new string('x', 300)), "the full form keeps everything");
    }
}
