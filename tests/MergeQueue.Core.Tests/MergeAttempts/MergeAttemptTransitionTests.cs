using MergeQueue.Core.MergeAttempts;

namespace MergeQueue.Core.Tests.MergeAttempts;

public class MergeAttemptTransitionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);

    private static MergeAttempt In(MergeAttemptState state) =>
        new(new AttemptId(1), new QueueId(new RepoId("o", "r"), "main"), state, T0) { StagingSha = new CommitSha("5a5a5a5"), Version = 1 };

    private static void Fire(MergeAttempt a, string trigger, DateTimeOffset at)
    {
        switch (trigger)
        {
            case "Construct": a.Construct(at); break;
            case "Rebuild": a.Rebuild("crash", at); break;
            case "Built": a.Built(new CommitSha("ba5e000"), new CommitSha("57a9000"), at); break;
            case "ChecksPassed": a.ChecksPassed(at); break;
            case "ChecksFailed": a.ChecksFailed("ci failed", at); break;
            case "Retry": a.Retry(new CommitSha("7e7e7e7"), "network error", at); break;
            case "Blame": a.Blame("ci failed", at); break;
            case "Abandon": a.Abandon("ahead failed", at); break;
            case "BatchChanged": a.BatchChanged("left", at); break;
            case "Completed": a.Completed(at); break;
            case "TargetMoved": a.TargetMoved("moved", at); break;
            case "Empty": a.Empty("empty", at); break;
            case "TimeOut": a.TimeOut("timed out", at); break;
            default: throw new ArgumentException(trigger);
        }
    }

    private static readonly string[] Triggers =
        ["Construct", "Rebuild", "Built", "ChecksPassed", "ChecksFailed", "Retry", "Blame", "BatchChanged", "Completed", "TargetMoved", "Abandon", "Empty", "TimeOut"];

    // The spec: every permitted (state, trigger) and where it leads. Everything else is refused.
    private static readonly Dictionary<(MergeAttemptState, string), MergeAttemptState> Permitted = new()
    {
        [(MergeAttemptState.Split, "Construct")] = MergeAttemptState.Constructing,
        [(MergeAttemptState.Split, "Empty")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Split, "TimeOut")] = MergeAttemptState.TimedOut,
        [(MergeAttemptState.Constructing, "Rebuild")] = MergeAttemptState.Constructing,
        [(MergeAttemptState.Constructing, "Built")] = MergeAttemptState.Testing,
        [(MergeAttemptState.Constructing, "BatchChanged")] = MergeAttemptState.Split,
        [(MergeAttemptState.Constructing, "Empty")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Constructing, "Abandon")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Constructing, "TargetMoved")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Constructing, "TimeOut")] = MergeAttemptState.TimedOut,
        [(MergeAttemptState.Testing, "ChecksPassed")] = MergeAttemptState.Success,
        [(MergeAttemptState.Testing, "ChecksFailed")] = MergeAttemptState.Red,
        [(MergeAttemptState.Testing, "Retry")] = MergeAttemptState.Testing,
        [(MergeAttemptState.Testing, "Completed")] = MergeAttemptState.Merged,
        [(MergeAttemptState.Testing, "BatchChanged")] = MergeAttemptState.Split,
        [(MergeAttemptState.Testing, "TargetMoved")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Testing, "Abandon")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Testing, "TimeOut")] = MergeAttemptState.TimedOut,
        [(MergeAttemptState.Success, "Completed")] = MergeAttemptState.Merged,
        [(MergeAttemptState.Success, "TargetMoved")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Success, "Abandon")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Success, "BatchChanged")] = MergeAttemptState.Split,
        [(MergeAttemptState.Success, "TimeOut")] = MergeAttemptState.TimedOut,
        [(MergeAttemptState.Red, "Blame")] = MergeAttemptState.Failed,
        [(MergeAttemptState.Red, "Abandon")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Red, "TargetMoved")] = MergeAttemptState.Abandoned,
        [(MergeAttemptState.Red, "BatchChanged")] = MergeAttemptState.Split,
        [(MergeAttemptState.Red, "TimeOut")] = MergeAttemptState.TimedOut,
    };

    private static IEnumerable<TestCaseData> AllPairs() =>
        from state in Enum.GetValues<MergeAttemptState>()
        from trigger in Triggers
        let key = (state, trigger)
        select new TestCaseData(state, trigger, Permitted.TryGetValue(key, out var to) ? to.ToString() : "refused")
            .SetName($"Transition_{state}_{trigger}_{(Permitted.ContainsKey(key) ? to.ToString() : "Refused")}");

    [TestCaseSource(nameof(AllPairs))]
    public void Transition_FromStateOnTrigger_GoesWhereTheSpecSays(MergeAttemptState from, string trigger, string expected)
    {
        var attempt = In(from);
        var at = T0.AddMinutes(5);
        var fire = () => Fire(attempt, trigger, at);
        if (expected == "refused")
        {
            fire.Should().Throw<InvalidTransitionException>();
            attempt.State.Should().Be(from);
            attempt.Transitions.Should().BeEmpty();
            return;
        }
        fire();
        attempt.State.ToString().Should().Be(expected);
        attempt.Transitions.Should().ContainSingle().Which.From.Should().Be(from.ToString());
        attempt.StateChangedAt.Should().Be(at, "every transition, including a rebuild or a flake retry, restarts the state's timeout");
    }

    [Test]
    public void Built_RecordsBaseAndStagingCommits()
    {
        var attempt = In(MergeAttemptState.Constructing);
        attempt.Built(new CommitSha("ba5e000"), new CommitSha("57a9000"), T0);
        attempt.BaseSha.Should().Be(new CommitSha("ba5e000"));
        attempt.StagingSha.Should().Be(new CommitSha("57a9000"));
    }

    [Test]
    public void Retry_PutsTheNewStagingCommitInPlaceAndCountsTheRetry()
    {
        var attempt = In(MergeAttemptState.Testing);
        attempt.Retry(new CommitSha("7e7e7e7"), "ci failed like a flake", T0.AddMinutes(30));
        attempt.Retry(new CommitSha("8e8e8e8"), "ci failed like a flake", T0.AddMinutes(60));

        attempt.StagingSha.Should().Be(new CommitSha("8e8e8e8"));
        attempt.FlakeRetries.Should().Be(2);
        attempt.Transitions.Select(t => t.Trigger).Should().Equal("Retry", "Retry");
    }

    [Test]
    public void Construct_ForgetsWhatASplitAttemptWasBuiltOnBefore()
    {
        var attempt = In(MergeAttemptState.Split);
        attempt.AheadId = new AttemptId(9);
        attempt.BaseSha = new CommitSha("ba5e000");

        attempt.Construct(T0);

        (attempt.AheadId, attempt.BaseSha, attempt.StagingSha).Should().Be((null, null, null));
    }

    [Test]
    public void Create_LogsTheCreationAsATransitionFromNone()
    {
        var attempt = MergeAttempt.Create(new AttemptId(5), new QueueId(new RepoId("o", "r"), "main"), MergeAttemptState.Split, new AttemptId(4), "bisect", T0);
        attempt.ParentId.Should().Be(new AttemptId(4));
        attempt.Transitions.Should().ContainSingle().Which.Should().Be(new Transition("None", "Split", "Create", "bisect"));
    }
}
