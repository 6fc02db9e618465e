using Stateless;
using Stateless.Graph;

namespace MergeQueue.Core.PullRequests;

/// <summary>
/// A pull request's life in the queue (seed 003's <c>pull_request</c> table). REQUESTED, QUEUED,
/// MERGING and SPLIT are the seed's states; where the seed deletes the row we end in a terminal
/// state instead, kept with its reason for history.
/// </summary>
public enum PullRequestState { Requested, Queued, Merging, Split, Merged, Failed, Cancelled, TimedOut }

/// <summary>A request to merge one pull request into one target branch.</summary>
public sealed class PullRequest
{
    private enum Trigger { Initiate, Batch, Split, Requeue, Merged, Fail, Cancel, TimeOut, Reprioritize }

    /// <summary>The state machine, built on the first transition: rows that are only read (most are) never pay for it.</summary>
    private (StateMachine<PullRequestState, Trigger> Machine, StateMachine<PullRequestState, Trigger>.TriggerWithParameters<AttemptId> Batch,
        StateMachine<PullRequestState, Trigger>.TriggerWithParameters<AttemptId> Split)? _fsm;
    private readonly List<Transition> _transitions = [];

    public PullRequest(RepoId repo, int number, string target, CommitSha headSha, PullRequestState state, DateTimeOffset now)
    {
        Repo = repo;
        Number = number;
        Target = target;
        HeadSha = headSha;
        State = state;
        RequestedAt = now;
        StateChangedAt = now;
    }

    private (StateMachine<PullRequestState, Trigger> Machine, StateMachine<PullRequestState, Trigger>.TriggerWithParameters<AttemptId> Batch,
        StateMachine<PullRequestState, Trigger>.TriggerWithParameters<AttemptId> Split) Fsm
    {
        get
        {
            if (_fsm is { } built) return built;
            var machine = new StateMachine<PullRequestState, Trigger>(() => State, s => State = s);
            var batch = machine.SetTriggerParameters<AttemptId>(Trigger.Batch);
            var split = machine.SetTriggerParameters<AttemptId>(Trigger.Split);
            Configure(machine, batch, split, this);
            machine.OnUnhandledTrigger((s, t) => throw new InvalidTransitionException($"PR #{Number}", s.ToString(), t.ToString()));
            _fsm = (machine, batch, split);
            return _fsm.Value;
        }
    }

    private static void Configure(
        StateMachine<PullRequestState, Trigger> m,
        StateMachine<PullRequestState, Trigger>.TriggerWithParameters<AttemptId> batch,
        StateMachine<PullRequestState, Trigger>.TriggerWithParameters<AttemptId> split,
        PullRequest? pr)
    {
        m.Configure(PullRequestState.Requested)
            .Permit(Trigger.Initiate, PullRequestState.Queued)          // Initiate: ready at its commit
            .PermitReentry(Trigger.Reprioritize)
            .Permit(Trigger.Fail, PullRequestState.Failed)
            .Permit(Trigger.Cancel, PullRequestState.Cancelled)
            .Permit(Trigger.TimeOut, PullRequestState.TimedOut);

        m.Configure(PullRequestState.Queued)
            .Permit(Trigger.Batch, PullRequestState.Merging)            // Construct: taken into an attempt
            .PermitReentry(Trigger.Reprioritize)
            .Permit(Trigger.Fail, PullRequestState.Failed)              // a rule failed at Construct
            .Permit(Trigger.Cancel, PullRequestState.Cancelled)
            .Permit(Trigger.TimeOut, PullRequestState.TimedOut);

        m.Configure(PullRequestState.Merging)
            .Permit(Trigger.Split, PullRequestState.Split)              // conflict, bisection, or a batch-mate left
            .Permit(Trigger.Requeue, PullRequestState.Queued)           // Complete: the target moved under the attempt
            .Permit(Trigger.Merged, PullRequestState.Merged)            // Complete: the target fast-forwarded
            .Permit(Trigger.Fail, PullRequestState.Failed)              // lone conflict or lone test failure
            .Permit(Trigger.Cancel, PullRequestState.Cancelled)
            .Permit(Trigger.TimeOut, PullRequestState.TimedOut);

        m.Configure(PullRequestState.Split)
            .Permit(Trigger.Batch, PullRequestState.Merging)            // Construct: its split attempt is built
            .Permit(Trigger.Requeue, PullRequestState.Queued)
            .Permit(Trigger.Fail, PullRequestState.Failed)
            .Permit(Trigger.Cancel, PullRequestState.Cancelled)
            .Permit(Trigger.TimeOut, PullRequestState.TimedOut);

        if (pr is null) return;
        m.Configure(PullRequestState.Merging).OnEntryFrom(batch, a => pr.AttemptId = a);
        m.Configure(PullRequestState.Split).OnEntryFrom(split, a => pr.AttemptId = a);
        m.Configure(PullRequestState.Queued).OnEntry(() => pr.AttemptId = null);
        foreach (var terminal in new[] { PullRequestState.Merged, PullRequestState.Failed, PullRequestState.Cancelled, PullRequestState.TimedOut })
            m.Configure(terminal).OnEntry(() => pr.AttemptId = null);
        m.OnTransitioned(t =>
        {
            if (t.Source != t.Destination) pr.StateChangedAt = pr._now;
        });
    }

    /// <summary>The machine as a Mermaid state diagram (docs/ keeps a copy; a test keeps them equal).</summary>
    public static string ToMermaid()
    {
        PullRequestState state = PullRequestState.Requested;
        var m = new StateMachine<PullRequestState, Trigger>(() => state, s => state = s);
        Configure(m, m.SetTriggerParameters<AttemptId>(Trigger.Batch), m.SetTriggerParameters<AttemptId>(Trigger.Split), null);
        return MermaidGraph.Format(m.GetInfo());
    }

    /// <summary>Row id in the store; 0 until first saved.</summary>
    public long Id { get; set; }
    public RepoId Repo { get; }
    public int Number { get; }
    /// <summary>The branch it merges into: the PR's base, or the <c>branch=</c> of the merge command.</summary>
    public string Target { get; set; }
    /// <summary>The commit that was requested; a push to the PR cancels the request.</summary>
    public CommitSha HeadSha { get; set; }
    public PullRequestState State { get; private set; }
    public AttemptId? AttemptId { get; private set; }
    /// <summary>Higher goes first (the <c>p=</c> of the merge command).</summary>
    public int Priority { get; private set; }
    public DateTimeOffset RequestedAt { get; set; }
    /// <summary>When it entered its current state: the seed's <c>timestamp</c>, which Poll's timeouts read.</summary>
    public DateTimeOffset StateChangedAt { get; set; }
    /// <summary>When it became QUEUED (batch_delay counts from here; FIFO order within a priority).</summary>
    public DateTimeOffset? QueuedAt { get; set; }
    public string? RequestedBy { get; set; }
    public string? Title { get; set; }
    public string? Author { get; set; }
    /// <summary>Why it is in its state: what it waits for while active, the outcome's reason when done.</summary>
    public string? Reason { get; set; }
    /// <summary>The target commit it merged as (terminal Merged only).</summary>
    public CommitSha? MergedSha { get; set; }
    /// <summary>
    /// The commit that carries it in its attempt's staging history, for strategies that rewrite its
    /// commits (squash, batch-squash, cherry-pick): Complete reports <c>Merged as</c> it and closes
    /// the PR. Null for merge and octopus, whose history holds the PR head itself.
    /// </summary>
    public CommitSha? LandedSha { get; set; }
    /// <summary>
    /// Queued but held back by a rule that may clear (a blocking label, made draft) when Construct last
    /// looked; <see cref="Reason"/> says why. Construct looks again each time it plans a batch.
    /// </summary>
    public bool Held { get; set; }
    /// <summary>Optimistic concurrency: the store refuses a save whose version is stale.</summary>
    public int Version { get; set; }

    public bool IsActive => State is PullRequestState.Requested or PullRequestState.Queued or PullRequestState.Merging or PullRequestState.Split;

    /// <summary>State changes since the entity was loaded; the store writes them to event_log.</summary>
    public IReadOnlyList<Transition> Transitions => _transitions;
    public void ClearTransitions() => _transitions.Clear();

    private DateTimeOffset _now;

    public void Initiate(DateTimeOffset now)
    {
        Fire(now, Trigger.Initiate, null, () => Fsm.Machine.Fire(Trigger.Initiate));
        QueuedAt ??= now;
    }

    public void Batch(AttemptId attempt, DateTimeOffset now)
    {
        Fire(now, Trigger.Batch, $"attempt {attempt}", () => Fsm.Machine.Fire(Fsm.Batch, attempt));
        Held = false;
    }
    public void Split(AttemptId attempt, string reason, DateTimeOffset now) => Fire(now, Trigger.Split, reason, () => Fsm.Machine.Fire(Fsm.Split, attempt));
    public void Requeue(string reason, DateTimeOffset now) => Fire(now, Trigger.Requeue, reason, () => Fsm.Machine.Fire(Trigger.Requeue));
    public void MarkMerged(CommitSha mergedSha, string reason, DateTimeOffset now)
    {
        Fire(now, Trigger.Merged, reason, () => Fsm.Machine.Fire(Trigger.Merged));
        MergedSha = mergedSha;
    }

    public void Fail(string reason, DateTimeOffset now) => Fire(now, Trigger.Fail, reason, () => Fsm.Machine.Fire(Trigger.Fail));
    public void Cancel(string reason, DateTimeOffset now) => Fire(now, Trigger.Cancel, reason, () => Fsm.Machine.Fire(Trigger.Cancel));
    public void TimeOut(string reason, DateTimeOffset now) => Fire(now, Trigger.TimeOut, reason, () => Fsm.Machine.Fire(Trigger.TimeOut));

    /// <summary>Repeating <c>merge p=N</c> changes the priority instead of erroring (a departure from the seed).</summary>
    public void Reprioritize(int priority, DateTimeOffset now) =>
        Fire(now, Trigger.Reprioritize, $"priority {Priority} → {priority}", () => { Fsm.Machine.Fire(Trigger.Reprioritize); Priority = priority; });

    /// <summary>A new request (seed 003's Request), REQUESTED, its creation logged as a transition from None.</summary>
    public static PullRequest Create(RepoId repo, int number, string target, CommitSha headSha, int priority, DateTimeOffset now)
    {
        var pr = new PullRequest(repo, number, target, headSha, PullRequestState.Requested, now) { Priority = priority };
        pr._transitions.Add(new Transition("None", nameof(PullRequestState.Requested), "Request", null));
        return pr;
    }

    /// <summary>Rebuilds a pull request read from the store, in whatever state it was saved.</summary>
    public static PullRequest Restore(
        long id, RepoId repo, int number, string target, CommitSha headSha, PullRequestState state,
        AttemptId? attemptId, int priority, DateTimeOffset requestedAt, DateTimeOffset stateChangedAt,
        DateTimeOffset? queuedAt, string? requestedBy, string? title, string? author, string? reason,
        CommitSha? mergedSha, int version) =>
        new(repo, number, target, headSha, state, requestedAt)
        {
            Id = id,
            AttemptId = attemptId,
            Priority = priority,
            StateChangedAt = stateChangedAt,
            QueuedAt = queuedAt,
            RequestedBy = requestedBy,
            Title = title,
            Author = author,
            Reason = reason,
            MergedSha = mergedSha,
            Version = version,
        };

    public bool CanFire(string trigger) => Enum.TryParse<Trigger>(trigger, out var t) && Fsm.Machine.CanFire(t);

    private void Fire(DateTimeOffset now, Trigger trigger, string? reason, Action fire)
    {
        var from = State;
        _now = now;
        fire();
        Reason = reason;
        _transitions.Add(new Transition(from.ToString(), State.ToString(), trigger.ToString(), reason));
    }
}
