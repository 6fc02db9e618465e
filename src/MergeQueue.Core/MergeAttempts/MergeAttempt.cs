using Stateless;
using Stateless.Graph;

namespace MergeQueue.Core.MergeAttempts;

/// <summary>
/// A merge attempt's life (seed 003's <c>merge_attempt</c> table): CONSTRUCTING, TESTING, SUCCESS and
/// SPLIT are the seed's; RED is a failed run waiting for the attempts ahead of it before it is blamed
/// (speculative attempts); the seed deletes finished attempts, we keep them in a terminal state.
/// </summary>
public enum MergeAttemptState { Constructing, Testing, Success, Red, Split, Merged, Failed, Abandoned, TimedOut }

/// <summary>One batch of pull requests built on one target commit and tested on one staging commit.</summary>
public sealed class MergeAttempt
{
    private enum Trigger { Construct, Rebuild, Built, ChecksPassed, ChecksFailed, Retry, Blame, BatchChanged, Completed, TargetMoved, Abandon, Empty, TimeOut }

    /// <summary>Built on the first transition: rows that are only read never pay for it.</summary>
    private StateMachine<MergeAttemptState, Trigger>? _fsm;
    private readonly List<Transition> _transitions = [];
    private DateTimeOffset _now;

    public MergeAttempt(AttemptId id, QueueId queue, MergeAttemptState state, DateTimeOffset now)
    {
        Id = id;
        Queue = queue;
        State = state;
        CreatedAt = now;
        StateChangedAt = now;
    }

    private StateMachine<MergeAttemptState, Trigger> Machine
    {
        get
        {
            if (_fsm is not null) return _fsm;
            _fsm = new StateMachine<MergeAttemptState, Trigger>(() => State, s => State = s);
            Configure(_fsm);
            _fsm.OnTransitioned(t =>
            {
                if (t.Source != t.Destination || t.Trigger is Trigger.Rebuild or Trigger.Retry) StateChangedAt = _now;
            });
            _fsm.OnUnhandledTrigger((s, t) => throw new InvalidTransitionException($"attempt {Id}", s.ToString(), t.ToString()));
            return _fsm;
        }
    }

    /// <summary>A new attempt, its creation logged as a transition from None.</summary>
    public static MergeAttempt Create(AttemptId id, QueueId queue, MergeAttemptState state, AttemptId? parent, string? reason, DateTimeOffset now)
    {
        var attempt = new MergeAttempt(id, queue, state, now) { ParentId = parent, Reason = reason };
        attempt._transitions.Add(new Transition("None", state.ToString(), "Create", reason));
        return attempt;
    }

    private static void Configure(StateMachine<MergeAttemptState, Trigger> m)
    {
        m.Configure(MergeAttemptState.Split)
            .Permit(Trigger.Construct, MergeAttemptState.Constructing)   // Construct picks a split attempt first
            .Permit(Trigger.Empty, MergeAttemptState.Abandoned)          // no PRs left: the seed deletes it
            .Permit(Trigger.TimeOut, MergeAttemptState.TimedOut);

        m.Configure(MergeAttemptState.Constructing)
            .PermitReentry(Trigger.Rebuild)                              // found after a crash: branches are disposable
            .Permit(Trigger.Built, MergeAttemptState.Testing)            // staging branch holds the batch
            .Permit(Trigger.BatchChanged, MergeAttemptState.Split)       // a PR left (Cancel)
            .Permit(Trigger.Empty, MergeAttemptState.Abandoned)          // every PR conflicted or left
            .Permit(Trigger.Abandon, MergeAttemptState.Abandoned)        // the attempt it stacks on failed or left
            .Permit(Trigger.TargetMoved, MergeAttemptState.Abandoned)
            .Permit(Trigger.TimeOut, MergeAttemptState.TimedOut);

        m.Configure(MergeAttemptState.Testing)
            .Permit(Trigger.ChecksPassed, MergeAttemptState.Success)     // Test: all required checks green
            .Permit(Trigger.ChecksFailed, MergeAttemptState.Red)         // Test: a required check failed, not a flake
            .PermitReentry(Trigger.Retry)                                // Test: a flake, rebuilt on the same tree
            .Permit(Trigger.Completed, MergeAttemptState.Merged)         // Complete: landed inside a later attempt that passed
            .Permit(Trigger.BatchChanged, MergeAttemptState.Split)       // Cancel: the rest is rebuilt
            .Permit(Trigger.TargetMoved, MergeAttemptState.Abandoned)    // tested on a stale target: requeue
            .Permit(Trigger.Abandon, MergeAttemptState.Abandoned)        // the attempt it stacks on failed or left
            .Permit(Trigger.TimeOut, MergeAttemptState.TimedOut);

        m.Configure(MergeAttemptState.Success)
            .Permit(Trigger.Completed, MergeAttemptState.Merged)         // Complete: target fast-forwarded
            .Permit(Trigger.TargetMoved, MergeAttemptState.Abandoned)    // Complete: fast-forward refused
            .Permit(Trigger.Abandon, MergeAttemptState.Abandoned)
            .Permit(Trigger.BatchChanged, MergeAttemptState.Split)
            .Permit(Trigger.TimeOut, MergeAttemptState.TimedOut);

        m.Configure(MergeAttemptState.Red)
            .Permit(Trigger.Blame, MergeAttemptState.Failed)             // every attempt ahead passed: bisect or fail the lone PR
            .Permit(Trigger.Abandon, MergeAttemptState.Abandoned)        // an attempt ahead failed: its PRs may be the cause
            .Permit(Trigger.TargetMoved, MergeAttemptState.Abandoned)
            .Permit(Trigger.BatchChanged, MergeAttemptState.Split)
            .Permit(Trigger.TimeOut, MergeAttemptState.TimedOut);
    }

    /// <summary>The machine as a Mermaid state diagram (docs/ keeps a copy; a test keeps them equal).</summary>
    public static string ToMermaid()
    {
        var state = MergeAttemptState.Constructing;
        var m = new StateMachine<MergeAttemptState, Trigger>(() => state, s => state = s);
        Configure(m);
        return MermaidGraph.Format(m.GetInfo());
    }

    public AttemptId Id { get; }
    public QueueId Queue { get; }
    public RepoId Repo => Queue.Repo;
    public string Target => Queue.Target;
    public MergeAttemptState State { get; private set; }
    /// <summary>The target commit the batch was built on (so later attempts can stack on this one's staging commit).</summary>
    public CommitSha? BaseSha { get; set; }
    /// <summary>The commit under test on the staging branch.</summary>
    public CommitSha? StagingSha { get; set; }
    /// <summary>The attempt this one was split from (bisection and conflicts), for history.</summary>
    public AttemptId? ParentId { get; set; }
    /// <summary>
    /// The attempt ahead whose staging commit this one is built on (speculative attempts); null when it
    /// is built on the target itself. It can land only once the attempt ahead has landed or passed.
    /// </summary>
    public AttemptId? AheadId { get; set; }
    /// <summary>How many times its staging run was rebuilt on the same tree after a flake.</summary>
    public int FlakeRetries { get; set; }
    /// <summary>
    /// The checks this attempt must pass when they were read from the target's branch protection as it
    /// started (<c>required_checks: from_branch_protection</c>); null: the config's <c>required_checks</c>.
    /// </summary>
    public IReadOnlyList<string>? RequiredChecks { get; set; }

    /// <summary>What this attempt's staging commit must pass.</summary>
    public IReadOnlyList<string> RequiredChecksUnder(Config.RepoConfig config) => RequiredChecks ?? config.RequiredChecks;
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset StateChangedAt { get; set; }
    public string? Reason { get; set; }
    public int Version { get; set; }

    public bool IsActive => IsInFlight || State == MergeAttemptState.Split;

    /// <summary>Built or being built, and not settled: it holds a place in the line of attempts.</summary>
    public bool IsInFlight => State is MergeAttemptState.Constructing or MergeAttemptState.Testing or MergeAttemptState.Success or MergeAttemptState.Red;

    public IReadOnlyList<Transition> Transitions => _transitions;
    public void ClearTransitions() => _transitions.Clear();

    /// <summary>A split attempt is built again: whatever it was built on and as before is gone.</summary>
    public void Construct(DateTimeOffset now)
    {
        Fire(now, Trigger.Construct, null);
        (BaseSha, StagingSha, AheadId) = (null, null, null);
    }
    public void Rebuild(string reason, DateTimeOffset now) => Fire(now, Trigger.Rebuild, reason);

    public void Built(CommitSha baseSha, CommitSha stagingSha, DateTimeOffset now)
    {
        Fire(now, Trigger.Built, $"staging {stagingSha.Short} on {baseSha.Short}");
        BaseSha = baseSha;
        StagingSha = stagingSha;
    }

    public void ChecksPassed(DateTimeOffset now) => Fire(now, Trigger.ChecksPassed, null);
    public void ChecksFailed(string reason, DateTimeOffset now) => Fire(now, Trigger.ChecksFailed, reason);

    /// <summary>A flake: the staging branch now holds <paramref name="stagingSha"/>, a new commit with the same tree and parents.</summary>
    public void Retry(CommitSha stagingSha, string reason, DateTimeOffset now)
    {
        Fire(now, Trigger.Retry, reason);
        StagingSha = stagingSha;
        FlakeRetries++;
    }

    public void Blame(string reason, DateTimeOffset now) => Fire(now, Trigger.Blame, reason);
    public void Abandon(string reason, DateTimeOffset now) => Fire(now, Trigger.Abandon, reason);
    public void BatchChanged(string reason, DateTimeOffset now) => Fire(now, Trigger.BatchChanged, reason);
    public void Completed(DateTimeOffset now, string? reason = null) => Fire(now, Trigger.Completed, reason);
    public void TargetMoved(string reason, DateTimeOffset now) => Fire(now, Trigger.TargetMoved, reason);
    public void Empty(string reason, DateTimeOffset now) => Fire(now, Trigger.Empty, reason);
    public void TimeOut(string reason, DateTimeOffset now) => Fire(now, Trigger.TimeOut, reason);

    private void Fire(DateTimeOffset now, Trigger trigger, string? reason)
    {
        var from = State;
        _now = now;
        Machine.Fire(trigger);
        Reason = reason;
        _transitions.Add(new Transition(from.ToString(), State.ToString(), trigger.ToString(), reason));
    }
}
