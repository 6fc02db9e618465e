using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.PullRequests;

public class PullRequestTransitionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);

    private static PullRequest In(PullRequestState state) => PullRequest.Restore(
        1, new RepoId("o", "r"), 7, "main", new CommitSha("abc1234"), state,
        state is PullRequestState.Merging or PullRequestState.Split ? new AttemptId(3) : null,
        0, T0, T0, null, "alice", "t", "alice", null, null, 1);

    private static void Fire(PullRequest pr, string trigger, DateTimeOffset at)
    {
        switch (trigger)
        {
            case "Initiate": pr.Initiate(at); break;
            case "Batch": pr.Batch(new AttemptId(9), at); break;
            case "Split": pr.Split(new AttemptId(9), "split", at); break;
            case "Requeue": pr.Requeue("moved", at); break;
            case "Merged": pr.MarkMerged(new CommitSha("fff0000"), "merged", at); break;
            case "Fail": pr.Fail("failed", at); break;
            case "Cancel": pr.Cancel("cancelled", at); break;
            case "TimeOut": pr.TimeOut("timed out", at); break;
            case "Reprioritize": pr.Reprioritize(5, at); break;
            default: throw new ArgumentException(trigger);
        }
    }

    // Every state × every trigger: the allowed ones and where they lead; "refused" otherwise.
    [TestCase(PullRequestState.Requested, "Initiate", "Queued")]
    [TestCase(PullRequestState.Requested, "Batch", "refused")]
    [TestCase(PullRequestState.Requested, "Split", "refused")]
    [TestCase(PullRequestState.Requested, "Requeue", "refused")]
    [TestCase(PullRequestState.Requested, "Merged", "refused")]
    [TestCase(PullRequestState.Requested, "Fail", "Failed")]
    [TestCase(PullRequestState.Requested, "Cancel", "Cancelled")]
    [TestCase(PullRequestState.Requested, "TimeOut", "TimedOut")]
    [TestCase(PullRequestState.Requested, "Reprioritize", "Requested")]
    [TestCase(PullRequestState.Queued, "Initiate", "refused")]
    [TestCase(PullRequestState.Queued, "Batch", "Merging")]
    [TestCase(PullRequestState.Queued, "Split", "refused")]
    [TestCase(PullRequestState.Queued, "Requeue", "refused")]
    [TestCase(PullRequestState.Queued, "Merged", "refused")]
    [TestCase(PullRequestState.Queued, "Fail", "Failed")]
    [TestCase(PullRequestState.Queued, "Cancel", "Cancelled")]
    [TestCase(PullRequestState.Queued, "TimeOut", "TimedOut")]
    [TestCase(PullRequestState.Queued, "Reprioritize", "Queued")]
    [TestCase(PullRequestState.Merging, "Initiate", "refused")]
    [TestCase(PullRequestState.Merging, "Batch", "refused")]
    [TestCase(PullRequestState.Merging, "Split", "Split")]
    [TestCase(PullRequestState.Merging, "Requeue", "Queued")]
    [TestCase(PullRequestState.Merging, "Merged", "Merged")]
    [TestCase(PullRequestState.Merging, "Fail", "Failed")]
    [TestCase(PullRequestState.Merging, "Cancel", "Cancelled")]
    [TestCase(PullRequestState.Merging, "TimeOut", "TimedOut")]
    [TestCase(PullRequestState.Merging, "Reprioritize", "refused")]
    [TestCase(PullRequestState.Split, "Initiate", "refused")]
    [TestCase(PullRequestState.Split, "Batch", "Merging")]
    [TestCase(PullRequestState.Split, "Split", "refused")]
    [TestCase(PullRequestState.Split, "Requeue", "Queued")]
    [TestCase(PullRequestState.Split, "Merged", "refused")]
    [TestCase(PullRequestState.Split, "Fail", "Failed")]
    [TestCase(PullRequestState.Split, "Cancel", "Cancelled")]
    [TestCase(PullRequestState.Split, "TimeOut", "TimedOut")]
    [TestCase(PullRequestState.Split, "Reprioritize", "refused")]
    [TestCase(PullRequestState.Merged, "Cancel", "refused")]
    [TestCase(PullRequestState.Merged, "Initiate", "refused")]
    [TestCase(PullRequestState.Failed, "Initiate", "refused")]
    [TestCase(PullRequestState.Failed, "Cancel", "refused")]
    [TestCase(PullRequestState.Cancelled, "Batch", "refused")]
    [TestCase(PullRequestState.Cancelled, "TimeOut", "refused")]
    [TestCase(PullRequestState.TimedOut, "Requeue", "refused")]
    [TestCase(PullRequestState.TimedOut, "Merged", "refused")]
    public void Transition_FromStateOnTrigger_GoesWhereTheSpecSays(PullRequestState from, string trigger, string expected)
    {
        var pr = In(from);
        var at = T0.AddMinutes(5);
        var fire = () => Fire(pr, trigger, at);

        if (expected == "refused")
        {
            fire.Should().Throw<InvalidTransitionException>().Which.Trigger.Should().Be(trigger);
            pr.State.Should().Be(from);
            pr.Transitions.Should().BeEmpty();
            return;
        }

        fire();
        pr.State.ToString().Should().Be(expected);
        pr.Transitions.Should().ContainSingle().Which.Should().Be(new Transition(from.ToString(), expected, trigger, pr.Reason));
        if (expected != from.ToString()) pr.StateChangedAt.Should().Be(at);
    }

    [Test]
    public void Batch_FromQueued_RecordsTheAttempt()
    {
        var pr = In(PullRequestState.Queued);
        pr.Batch(new AttemptId(42), T0);
        pr.AttemptId.Should().Be(new AttemptId(42));
    }

    [Test]
    public void Requeue_FromMerging_DropsTheAttemptAndKeepsItsPlace()
    {
        var pr = In(PullRequestState.Merging);
        pr.QueuedAt = T0.AddMinutes(-30);
        pr.Requeue("target moved", T0);
        pr.State.Should().Be(PullRequestState.Queued);
        pr.AttemptId.Should().BeNull();
        pr.QueuedAt.Should().Be(T0.AddMinutes(-30));
    }

    [Test]
    public void Reprioritize_WhileQueued_DoesNotRestartTheTimeoutClock()
    {
        var pr = In(PullRequestState.Queued);
        pr.Reprioritize(3, T0.AddHours(2));
        pr.Priority.Should().Be(3);
        pr.StateChangedAt.Should().Be(T0);
    }

    [Test]
    public void TerminalStates_ClearTheAttempt()
    {
        var pr = In(PullRequestState.Merging);
        pr.MarkMerged(new CommitSha("fff0000"), "merged", T0);
        pr.AttemptId.Should().BeNull();
        pr.IsActive.Should().BeFalse();
        pr.MergedSha.Should().Be(new CommitSha("fff0000"));
    }
}
