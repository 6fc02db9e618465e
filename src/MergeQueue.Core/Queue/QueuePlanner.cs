using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Queue;

/// <summary>One queue as the planner sees it: its active rows, the config and the time.</summary>
/// <param name="Skip">PRs this step already found must wait (held back): left out of new batches.</param>
/// <param name="Landed">The queue's last fast-forward of the target, when it made any.</param>
public sealed record QueueState(
    IReadOnlyCollection<PullRequest> PullRequests,
    IReadOnlyCollection<MergeAttempt> Attempts,
    RepoConfig Config,
    DateTimeOffset Now,
    bool Frozen = false,
    IReadOnlySet<int>? Skip = null,
    Landing? Landed = null);

/// <summary>What the queue does next; the flows carry it out through the ports.</summary>
public abstract record QueueDecision
{
    /// <summary>Nothing to do until something happens, or until <see cref="Until"/> (the batch delay).</summary>
    public sealed record Wait(string Why, DateTimeOffset? Until = null) : QueueDecision;

    /// <summary>A split attempt left without PRs: retire it.</summary>
    public sealed record RemoveEmpty(MergeAttempt Attempt) : QueueDecision;

    /// <summary>
    /// The attempt stacks on one that failed, left the line, or landed on another commit: give it up
    /// and queue its PRs again (at their old place).
    /// </summary>
    public sealed record Abandon(MergeAttempt Attempt, string Reason) : QueueDecision;

    /// <summary>
    /// Complete: fast-forward the target to <see cref="Attempt"/>'s staging commit, which passed.
    /// <see cref="Covered"/> are the attempts ahead of it, still testing: its commit holds theirs, so
    /// they land with it.
    /// </summary>
    public sealed record Land(MergeAttempt Attempt, IReadOnlyList<MergeAttempt> Covered) : QueueDecision;

    /// <summary>A red attempt with nothing ahead of it: its own PRs are to blame (bisect, or fail the lone PR).</summary>
    public sealed record Blame(MergeAttempt Attempt) : QueueDecision;

    /// <summary>
    /// Construct: build an attempt of these PRs (a waiting split attempt, or a new batch when
    /// <see cref="Split"/> is null) on <see cref="Ahead"/>'s staging commit, or on the target.
    /// </summary>
    public sealed record Start(MergeAttempt? Split, IReadOnlyList<PullRequest> PullRequests, MergeAttempt? Ahead) : QueueDecision;
}

/// <summary>What a staging run's checks say.</summary>
public enum Verdict { Pending, Passed, Failed, Flaky }

/// <summary>
/// The queue's one decision maker: a pure function of the queue's rows, the config and the time.
/// Attempts stand in a line per target: each in flight is built on the target (the head of a
/// line) or on the staging commit of the attempt ahead of it (<see cref="MergeAttempt.AheadId"/>),
/// at most <c>parallel_attempts</c> at once. Rules, first that applies wins:
/// <list type="number">
/// <item>a split attempt without PRs is removed;</item>
/// <item>an attempt whose attempt ahead is red or no longer in flight is abandoned;</item>
/// <item>the deepest attempt that passed, with nothing red ahead of it, lands (Complete);</item>
/// <item>a red attempt at the head of a line is blamed;</item>
/// <item>while fewer than <c>parallel_attempts</c> are in flight and the target is not frozen: a
///   waiting split attempt starts (with <c>bisect: serial</c> only when nothing else is in flight;
///   with <c>concurrent</c> both halves run at once, whatever <c>parallel_attempts</c> says),
///   else a batch of queued PRs (priority, then FIFO; at most <c>max_batch_size</c>) once the oldest
///   has waited <c>batch_delay</c> or <c>batch_min_size</c> PRs wait, stacked on the last attempt in line.</item>
/// </list>
/// </summary>
public static class QueuePlanner
{
    public static QueueDecision Next(QueueState state) => ForLine(state) ?? Batch(state);

    /// <summary>
    /// The rules as far as the attempts and the PRs they hold decide them: null when the decision is
    /// the queued PRs' (a batch, or a wait for one). While the line is busy (every slot taken, a
    /// bisection to wait for, a frozen target) the queued PRs cannot change what happens, so a caller
    /// need not read them; <see cref="QueueState.PullRequests"/> may then hold only the attempts' PRs.
    /// </summary>
    public static QueueDecision? ForLine(QueueState state)
    {
        var config = state.Config;
        var attempts = state.Attempts.OrderBy(a => a.Id.Value).ToArray();
        var inFlight = attempts.Where(a => a.IsInFlight).ToArray();
        var byId = inFlight.ToDictionary(a => a.Id);

        foreach (var split in attempts.Where(a => a.State == MergeAttemptState.Split))
            if (!Members(state, split).Any()) return new QueueDecision.RemoveEmpty(split);

        foreach (var a in inFlight)
        {
            if (a.AheadId is not { } aheadId) continue;
            if (!byId.TryGetValue(aheadId, out var ahead)) return new QueueDecision.Abandon(a, Messages.AbandonedAheadLeft(aheadId));
            if (ahead.State == MergeAttemptState.Red) return new QueueDecision.Abandon(a, Messages.AbandonedAheadFailed(aheadId));
        }

        foreach (var head in inFlight.Where(a => a.AheadId is null))
        {
            var line = Line(head, inFlight);
            if (IsStale(head, state))
            {
                // Built on a target that has moved on (another line landed): it can never land, but its
                // verdict still counts. Red: its own PRs are to blame (it stood on a commit that had passed).
                // Passed: its PRs are good; they go back to the front of the queue to land on the new target.
                if (head.State == MergeAttemptState.Red) return new QueueDecision.Blame(head);
                if (head.State == MergeAttemptState.Success) return new QueueDecision.Abandon(head, Messages.PassedOnOldTarget(head.Id));
                continue;
            }
            var reds = line.TakeWhile(a => a.State != MergeAttemptState.Red).Count();
            var landing = line.Take(reds).LastOrDefault(a => a.State == MergeAttemptState.Success);
            if (landing is not null)
                return new QueueDecision.Land(landing, line.TakeWhile(a => a != landing).ToArray());
            if (head.State == MergeAttemptState.Red) return new QueueDecision.Blame(head);
        }

        if (state.Frozen) return new QueueDecision.Wait("frozen");
        var waitingSplit = attempts.FirstOrDefault(a => a.State == MergeAttemptState.Split);
        // Concurrent bisection tests both halves at once, even where only one attempt may be in flight otherwise.
        var slots = waitingSplit is not null && config.Bisect == BisectMode.Concurrent ? Math.Max(2, config.ParallelAttempts) : config.ParallelAttempts;
        if (inFlight.Length >= slots) return new QueueDecision.Wait($"{inFlight.Length} of {slots} attempts in flight");

        if (waitingSplit is not null)
        {
            if (config.Bisect == BisectMode.Serial && inFlight.Length > 0) return new QueueDecision.Wait($"split attempt {waitingSplit.Id} waits for the line to clear");
            // The second half stacks on the first while that one is still the tip of its line; otherwise a half starts a line of its own.
            var sibling = inFlight.LastOrDefault(a => a.ParentId == waitingSplit.ParentId && a.State is MergeAttemptState.Testing or MergeAttemptState.Success
                                                      && inFlight.All(b => b.AheadId != a.Id));
            if (config.Bisect == BisectMode.Concurrent && sibling is not null) return new QueueDecision.Start(waitingSplit, Members(state, waitingSplit).ToArray(), sibling);
            var lastTip = inFlight.Where(a => inFlight.All(b => b.AheadId != a.Id)).LastOrDefault();
            if (lastTip is not null && !config.BesideBisection && lastTip.State is not (MergeAttemptState.Testing or MergeAttemptState.Success))
                return new QueueDecision.Wait($"attempt {lastTip.Id} is {lastTip.State.ToString().ToUpperInvariant()}");
            return new QueueDecision.Start(waitingSplit, Members(state, waitingSplit).ToArray(), config.BesideBisection ? null : lastTip);
        }

        var (healthy, lines) = Lines(state, inFlight);
        if (healthy is null && lines.Count > 0 && !config.BesideBisection)
        {
            var blocker = lines.SelectMany(l => l).First(a => a.State is not (MergeAttemptState.Testing or MergeAttemptState.Success) || a.ParentId is not null);
            return new QueueDecision.Wait(blocker.ParentId is not null && blocker.State is MergeAttemptState.Testing
                ? $"bisecting in attempt {blocker.Id}" : $"attempt {blocker.Id} is {blocker.State.ToString().ToUpperInvariant()}");
        }
        return null;
    }

    /// <summary>The last rule, once <see cref="ForLine"/> has left the decision to the queued PRs: a batch, or a wait for one.</summary>
    private static QueueDecision Batch(QueueState state)
    {
        var config = state.Config;
        var queued = Ordered(state.PullRequests).Where(p => state.Skip?.Contains(p.Number) != true).ToArray();
        if (queued.Length == 0) return new QueueDecision.Wait("nothing queued");
        var oldest = queued.Min(p => p.QueuedAt ?? p.StateChangedAt);
        var enough = config.BatchMinSize > 0 && queued.Length >= config.BatchMinSize;
        if (state.Now - oldest < config.BatchDelay && !enough) return new QueueDecision.Wait("batch delay", oldest + config.BatchDelay);
        var inFlight = state.Attempts.Where(a => a.IsInFlight).OrderBy(a => a.Id.Value).ToArray();
        return new QueueDecision.Start(null, queued.Take(config.MaxBatchSize).ToArray(), Lines(state, inFlight).Healthy?[^1]);
    }

    /// <summary>
    /// The lines that can still land, and where a new batch goes: on the tip of the newest one that is
    /// likely to land. A line holding half of a failed batch (it holds the culprit) or a red attempt
    /// would almost surely throw the batch away.
    /// </summary>
    private static (IReadOnlyList<MergeAttempt>? Healthy, IReadOnlyList<IReadOnlyList<MergeAttempt>> Lines) Lines(QueueState state, MergeAttempt[] inFlight)
    {
        var lines = inFlight.Where(a => a.AheadId is null && !IsStale(a, state)).Select(h => Line(h, inFlight)).ToArray();
        var healthy = lines.LastOrDefault(l => l.All(a => a.State is MergeAttemptState.Testing or MergeAttemptState.Success && (a.ParentId is null || a.State == MergeAttemptState.Success)));
        return (healthy, lines);
    }

    /// <summary>A line head built before the last landing, on another commit: it can never fast-forward the target.</summary>
    private static bool IsStale(MergeAttempt head, QueueState state) =>
        state.Landed is { } landed && head.Id.Value < landed.Attempt.Value && head.BaseSha is { } onto && onto != landed.Sha;

    /// <summary>The attempt and those stacked on it, in order.</summary>
    public static IReadOnlyList<MergeAttempt> Line(MergeAttempt head, IReadOnlyCollection<MergeAttempt> inFlight)
    {
        var line = new List<MergeAttempt> { head };
        while (inFlight.FirstOrDefault(a => a.AheadId == line[^1].Id) is { } next) line.Add(next);
        return line;
    }

    /// <summary>
    /// Test: what the staging commit's checks say. A failure is a flake when every failed required
    /// check's description matches one of <c>flaky_patterns</c> (case-insensitive) and the attempt
    /// has retries left; a real failure is never retried.
    /// </summary>
    public static (Verdict Verdict, IReadOnlyList<string> Failed) Judge(IReadOnlyList<Check> checks, RepoConfig config, MergeAttempt attempt)
    {
        var latest = checks.GroupBy(c => c.Context, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        var required = attempt.RequiredChecksUnder(config);
        var failed = required.Where(c => latest.GetValueOrDefault(c)?.State == CheckState.Failure).ToArray();
        if (failed.Length > 0)
        {
            var flaky = attempt.FlakeRetries < config.FlakyRetries
                && failed.All(c => IsFlake(latest[c].Description, config.FlakyPatterns));
            return (flaky ? Verdict.Flaky : Verdict.Failed, failed);
        }
        // Never green on nothing: an attempt without required checks comes only from allow_no_checks.
        var passed = (required.Count > 0 || config.AllowNoChecks) && required.All(c => latest.GetValueOrDefault(c)?.State == CheckState.Success);
        return (passed ? Verdict.Passed : Verdict.Pending, []);
    }

    private static bool IsFlake(string? description, IReadOnlyList<string> patterns) =>
        description is not null && patterns.Any(p => description.Contains(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>The PRs of a split attempt, in queue order.</summary>
    public static IEnumerable<PullRequest> Members(QueueState state, MergeAttempt attempt) =>
        state.PullRequests.Where(p => p.AttemptId == attempt.Id && p.IsActive).OrderBy(QueueOrder);

    /// <summary>Queued PRs in batching order: priority, then FIFO; position 1 goes first.</summary>
    public static IReadOnlyList<PullRequest> Ordered(IEnumerable<PullRequest> pullRequests) =>
        pullRequests.Where(p => p.State == PullRequestState.Queued).OrderBy(QueueOrder).ToArray();

    private static (int, DateTimeOffset, int) QueueOrder(PullRequest p) => (-p.Priority, p.QueuedAt ?? p.StateChangedAt, p.Number);
}
