using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Rules;

namespace MergeQueue.Core.Approval;

/// <summary>
/// Everything known about a pull request when asking why it is not merging. Only
/// <see cref="Config"/> is required: a flow passes what it has read (a queued PR's description
/// needs only the queue facts; Request needs the PR, its reviews and checks), the dashboard all of it.
/// </summary>
public sealed record ReadinessFacts
{
    public required RepoConfig Config { get; init; }
    /// <summary>The PR as GitHub shows it now; null skips the checks on the PR itself.</summary>
    public PullRequestInfo? PullRequest { get; init; }
    /// <summary>Reviews; null when <c>required_approvals</c> is 0 (not read).</summary>
    public IReadOnlyList<Review>? Reviews { get; init; }
    /// <summary>Checks on the PR head; null when there are no <c>pre_checks</c> (not read).</summary>
    public IReadOnlyList<Check>? HeadChecks { get; init; }
    /// <summary>The PR's commits; null when there is no <c>commit_message_pattern</c> (not read).</summary>
    public IReadOnlyList<CommitInfo>? Commits { get; init; }
    /// <summary>The target's freeze, if frozen.</summary>
    public QueueFreeze? Freeze { get; init; }
    /// <summary>Position (1 = next) and length of the queue, when the PR is queued.</summary>
    public (int Position, int Length)? QueuePosition { get; init; }
    /// <summary>When the next batch may start, if the queue waits for <c>batch_delay</c>.</summary>
    public DateTimeOffset? BatchStartsAt { get; init; }
}

/// <summary>Why a PR is not merging yet: every blocker, in the order a person should deal with them.</summary>
public sealed record ReadinessResult(IReadOnlyList<Blocker> Blockers, ApprovalResult? Approval)
{
    /// <summary>The PR's place in the queue, when it is queued.</summary>
    public int? QueuePosition { get; init; }

    /// <summary>Nothing about the PR itself stops it from being queued (the queue's own state may still hold it).</summary>
    public bool Ready => !Blockers.Any(b => b.AboutThePullRequest);

    /// <summary>A rule failed that waiting cannot fix: the request fails.</summary>
    public bool Failed => Blockers.Any(b => b.Fails);

    /// <summary>The first failed rule, when <see cref="Failed"/>.</summary>
    public Blocker? FailedRule => Blockers.FirstOrDefault(b => b.Fails);

    /// <summary>What it waits for, one text per blocker about the PR.</summary>
    public IReadOnlyList<string> WaitingFor => Blockers.Where(b => b.AboutThePullRequest).Select(b => b.Text).ToArray();

    /// <summary>The blockers about the PR in one line (what the REQUESTED status says after "Requested, ").</summary>
    public string Summary => WaitingFor.Count == 0 ? "ready" : string.Join("; ", WaitingFor);

    /// <summary>
    /// The short form for the <c>mergequeue</c> status description (at most 140 characters):
    /// a failed rule, else what a requested PR waits for, else its place in the queue.
    /// </summary>
    public string Short
    {
        get
        {
            if (FailedRule is { } failed) return Messages.RuleFailed(failed.Text);
            if (!Ready) return Messages.Requested(Summary);
            var frozen = Blockers.FirstOrDefault(b => b.Kind == BlockerKind.FrozenTarget);
            var position = Blockers.FirstOrDefault(b => b.Kind == BlockerKind.QueuePosition);
            var waiting = Blockers.Any(b => b.Kind == BlockerKind.BatchDelay);
            if (position is null || QueuePosition is not { } place) return Messages.Status(frozen?.Text ?? "ready");
            // The status leaves out the queue's length: it would change for every queued PR whenever one joins.
            var text = Messages.QueuedAt(place);
            if (frozen is not null) return Messages.Status($"{text}; {frozen.Text}");
            return waiting ? Messages.Status($"{text}, waiting for the batch delay") : text;
        }
    }

    /// <summary>The full explanation, one line per blocker (the dashboard's "why is my PR not merging").</summary>
    public IReadOnlyList<string> Full => Blockers.Count == 0 ? ["ready to merge"] : Blockers.Select(b => b.Fails ? $"failed: {b.Text}" : b.Text).ToArray();
}

/// <summary>
/// "Why is my PR not merging?" in one place: seed 003's "ready" (non-draft, approved at the commit,
/// pre-checks green at the commit), the merge rules, and the queue's own state (frozen target,
/// position, batch delay). The status descriptions use <see cref="ReadinessResult.Short"/>, the
/// dashboard <see cref="ReadinessResult.Full"/>.
/// </summary>
public static class Readiness
{
    public static ReadinessResult Explain(ReadinessFacts facts)
    {
        var config = facts.Config;
        var blockers = new List<Blocker>();
        ApprovalResult? approval = null;
        if (facts.PullRequest is { } pr)
        {
            var rules = MergeRules.Check(pr, facts.Commits, config);
            // Failed rules first: nothing else matters once the request cannot succeed.
            blockers.AddRange(rules.Where(r => r.Fails));
            blockers.AddRange(rules.Where(r => r.Kind == BlockerKind.Draft));

            approval = ApprovalRule.Evaluate(facts.Reviews ?? [], pr.HeadSha, config.RequiredApprovals);
            if (approval.ChangesRequestedBy.Count > 0)
                blockers.Add(new Blocker(BlockerKind.ChangesRequested, Messages.WaitingChangesRequested(approval.ChangesRequestedBy)));
            else if (!approval.Approved)
                blockers.Add(new Blocker(BlockerKind.Approvals, Messages.WaitingApprovals(approval.Missing, config.RequiredApprovals, approval.ApprovedBy, approval.NotCounted)));

            var checks = (facts.HeadChecks ?? []).GroupBy(c => c.Context, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
            foreach (var context in config.PreChecks)
            {
                if (!checks.TryGetValue(context, out var check)) blockers.Add(new Blocker(BlockerKind.PreCheck, Messages.WaitingPreCheckMissing(context)));
                else if (check.State == CheckState.Failure) blockers.Add(new Blocker(BlockerKind.PreCheck, Messages.WaitingPreCheckFailed(context)));
                else if (check.State == CheckState.Pending) blockers.Add(new Blocker(BlockerKind.PreCheck, Messages.WaitingPreCheckPending(context)));
            }
            blockers.AddRange(rules.Where(r => !r.Fails && r.Kind != BlockerKind.Draft));
        }
        if (facts.Freeze is { } freeze)
            blockers.Add(new Blocker(BlockerKind.FrozenTarget, Messages.Frozen(freeze.Queue.Target, freeze.FrozenBy, freeze.Reason)));
        if (facts.QueuePosition is { } position)
            blockers.Add(new Blocker(BlockerKind.QueuePosition, Messages.Queued(position.Position, position.Length)));
        if (facts.BatchStartsAt is { } at)
            blockers.Add(new Blocker(BlockerKind.BatchDelay, Messages.WaitingBatchDelay(at)));
        return new ReadinessResult(blockers, approval) { QueuePosition = facts.QueuePosition?.Position };
    }

    /// <summary>Seed 003's "ready" with the merge rules, for a REQUESTED PR.</summary>
    public static ReadinessResult Evaluate(PullRequestInfo pr, IEnumerable<Review> reviews, IEnumerable<Check> headChecks, RepoConfig config, IReadOnlyList<CommitInfo>? commits = null) =>
        Explain(new ReadinessFacts { Config = config, PullRequest = pr, Reviews = reviews.ToArray(), HeadChecks = headChecks.ToArray(), Commits = commits });
}
