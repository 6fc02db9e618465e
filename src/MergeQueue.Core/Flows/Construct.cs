using MergeQueue.Core.Approval;
using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;
using MergeQueue.Core.Strategies;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Construct (seed 003) as an entry point: one <see cref="AdvanceAsync"/> step for the target.
    /// <paramref name="now"/> (the API's trigger) starts a batch without waiting for <c>batch_delay</c>.
    /// </summary>
    public Task ConstructAsync(QueueId queue, Cause cause, CancellationToken ct, bool now = false) =>
        Locked(queue.Repo, () => AdvanceAsync(queue, cause, ct, now), ct);

    /// <summary>
    /// One step of the queue: ask <see cref="QueuePlanner"/> what to do next, carry it out, and ask
    /// again until it says wait: remove empty splits, abandon attempts stacked on a failed one,
    /// land (Complete), blame (Test's bisection) and start attempts (Construct). Then refresh the
    /// queued PRs' positions. The queued PRs are read only when the planner's decision is theirs
    /// (<see cref="QueuePlanner.ForLine"/>), or to refresh them. <paramref name="quiet"/> is Poll's
    /// call on a target where nothing changed this tick: unless the planner acts, the positions are
    /// refreshed only when the first queued PR's description is out of date (the batch delay ran out).
    /// The caller holds the repository's lock.
    /// </summary>
    private async Task AdvanceAsync(QueueId queue, Cause cause, CancellationToken ct, bool now = false, bool quiet = false)
    {
        if (await configs.GetAsync(queue.Repo, ct) is not { } repoConfig) return;
        var config = await BatchPolicy.EffectiveAsync(store, queue, repoConfig, ct);
        if (now) config = config with { BatchDelay = TimeSpan.Zero };
        var freeze = await store.GetFreezeAsync(queue, ct);
        var held = new Dictionary<int, string>();
        var inFlight = 0;
        // Each pass settles a row or starts an attempt, so this ends; the bound is a guard.
        for (var pass = 0; pass < 64; pass++)
        {
            var (members, attempts) = await LoadLineAsync(queue, ct);
            inFlight = attempts.Count(a => a.IsInFlight);
            var landed = await store.GetLastLandedAsync(queue, ct);
            var state = new QueueState(members, attempts, config, Now, freeze is not null, held.Keys.ToHashSet(), landed);
            var decision = QueuePlanner.ForLine(state);
            if (decision is null)
            {
                quiet = false;
                decision = QueuePlanner.Next(state with { PullRequests = await LoadQueueAsync(queue, ct) });
            }
            if (decision is QueueDecision.Wait) break;
            quiet = false;
            await (decision switch
            {
                QueueDecision.RemoveEmpty empty => RetireAsync(empty.Attempt, config, cause, ct),
                QueueDecision.Abandon abandon => AbandonAsync(abandon.Attempt, abandon.Reason, config, cause, ct),
                QueueDecision.Land land => CompleteAttemptAsync(land.Attempt, land.Covered, config, cause, ct),
                QueueDecision.Blame blame => BlameAsync(blame.Attempt, config, cause, ct),
                QueueDecision.Start start => StartAsync(queue, start, config, held, cause, ct),
                _ => throw new InvalidOperationException($"unknown decision {decision}"),
            });
        }
        if (quiet && !await PositionsOutdatedAsync(queue, config, freeze, inFlight, ct)) return;
        await ReportPositionsAsync(queue, config, cause, ct, freeze, held);
    }

    private async Task RetireAsync(MergeAttempt attempt, RepoConfig config, Cause cause, CancellationToken ct)
    {
        attempt.Empty(Messages.NoPullRequestsLeft, Now);
        await SaveAsync(new Changes { Attempts = { attempt } }, cause, ct);
        await DeleteAttemptBranchesAsync(attempt, config, ct);
    }

    /// <summary>
    /// Gives up an attempt and queues its PRs again; they keep their place in line. A target moved by
    /// someone else is logged as such (<see cref="MergeAttempt.TargetMoved"/>).
    /// </summary>
    private async Task AbandonAsync(MergeAttempt attempt, string reason, RepoConfig config, Cause cause, CancellationToken ct, bool targetMoved = false)
    {
        var members = await MembersAsync(attempt, ct);
        if (targetMoved) RequeueAll(attempt, members, reason);
        else
        {
            attempt.Abandon(reason, Now);
            foreach (var pr in members) pr.Requeue(reason, Now);
        }
        var changes = new Changes { Attempts = { attempt } };
        changes.PullRequests.AddRange(members);
        await SaveAsync(changes, cause, ct);
        await DeleteAttemptBranchesAsync(attempt, config, ct);
        await ReportAllAsync(members, ct);
    }

    /// <summary>
    /// Construct (seed 003): build the next attempt: a split attempt, or a new batch of queued PRs,
    /// on the staging commit of the attempt ahead (speculative) or on the target. The PRs of a new
    /// batch pass the merge rules again first: one that now fails a rule fails, one closed or pushed
    /// to is cancelled, one that waits (a blocking label added, made draft) stays queued but held
    /// back, and the planner is asked again without them. The batch is merged on the tmp branch, the
    /// result put on the staging branch for CI, and the attempt is TESTING.
    /// </summary>
    private async Task StartAsync(QueueId queue, QueueDecision.Start start, RepoConfig config, Dictionary<int, string> held, Cause cause, CancellationToken ct)
    {
        var required = await RequiredChecksAsync(queue.Repo, queue.Target, config, ct);
        if (required.Count == 0 && !config.AllowNoChecks)
        {
            await RefuseUntestedAsync(queue, start, cause, ct);
            return;
        }
        MergeAttempt attempt;
        if (start.Split is { } split)
        {
            // Split PRs passed the rules when their first batch was built; a split is that attempt continuing.
            attempt = split;
            attempt.Construct(Now);
        }
        else
        {
            if (await RetireOrHoldAsync(start.PullRequests, config, held, cause, ct)) return;
            attempt = MergeAttempt.Create(await store.NextAttemptIdAsync(ct), queue, MergeAttemptState.Constructing, null, null, Now);
        }
        attempt.AheadId = start.Ahead?.Id;
        attempt.RequiredChecks = config.RequiredChecksFromBranchProtection ? required : null;
        foreach (var pr in start.PullRequests) pr.Batch(attempt.Id, Now);
        var changes = new Changes { Attempts = { attempt } };
        changes.PullRequests.AddRange(start.PullRequests);
        await SaveAsync(changes, cause, ct);
        await BuildAsync(attempt, start.PullRequests, start.Ahead?.StagingSha, config, cause, ct);
    }

    /// <summary>
    /// The checks an attempt starting now (or a try build) must pass: <c>required_checks</c>, or with
    /// <c>from_branch_protection</c> the target's branch protection as it is now.
    /// </summary>
    private async Task<IReadOnlyList<string>> RequiredChecksAsync(RepoId repo, string target, RepoConfig config, CancellationToken ct) =>
        config.RequiredChecksFromBranchProtection ? await github.GetRequiredStatusChecksAsync(repo, target, ct) : config.RequiredChecks;

    /// <summary>
    /// The target's branch protection requires no check: starting would merge untested commits, so
    /// the batch fails with the reason instead (a split attempt is retired with it).
    /// </summary>
    private async Task RefuseUntestedAsync(QueueId queue, QueueDecision.Start start, Cause cause, CancellationToken ct)
    {
        var reason = Messages.NoProtectedChecks(queue.Target);
        var changes = new Changes();
        if (start.Split is { } split)
        {
            split.Empty(reason, Now);
            changes.Attempts.Add(split);
        }
        foreach (var pr in start.PullRequests)
        {
            pr.Fail(reason, Now);
            changes.PullRequests.Add(pr);
        }
        await SaveAsync(changes, cause, ct);
        await ReportAllAsync(changes.PullRequests, ct);
    }

    /// <summary>
    /// Construct's second look at the rules, for the PRs of a new batch. Fails those that now break
    /// a rule, cancels those closed or pushed to since they were queued, and notes in
    /// <paramref name="held"/> those that must wait. Returns true when any PR was taken out (the
    /// batch is planned again).
    /// </summary>
    private async Task<bool> RetireOrHoldAsync(IReadOnlyList<PullRequest> batch, RepoConfig config, Dictionary<int, string> held, Cause cause, CancellationToken ct)
    {
        var changes = new Changes();
        foreach (var pr in batch)
        {
            var info = await ReadPullRequestAsync(pr.Repo, pr.Number, ct);
            if (info is null || !info.Open)
            {
                pr.Cancel(Messages.CancelledClosed, Now);
                changes.PullRequests.Add(pr);
                continue;
            }
            if (info.HeadSha != pr.HeadSha)
            {
                pr.Cancel(Messages.CancelledNewCommits, Now);
                changes.PullRequests.Add(pr);
                continue;
            }
            var rules = await EvaluateRulesAsync(pr.Repo, info, config, ct);
            if (rules.Failed)
            {
                pr.Fail(rules.Short, Now);
                changes.PullRequests.Add(pr);
            }
            else if (!rules.Ready)
            {
                held[pr.Number] = Messages.Held(rules.Summary);
            }
        }
        await SaveAsync(changes, cause, ct);
        await ReportAllAsync(changes.PullRequests, ct);
        return changes.PullRequests.Count > 0 || batch.Any(p => held.ContainsKey(p.Number));
    }

    /// <summary>
    /// Builds the attempt's commit with the repository's strategy (<see cref="StrategyPlan"/>, run by
    /// <see cref="StrategyExecutor"/>) on <paramref name="onto"/> (the staging commit of the attempt
    /// ahead) or on the target, and puts it on the staging branch. A PR that conflicts with the
    /// target itself fails, as does one the strategy refuses; one that conflicts only with its
    /// batch-mates goes to a new SPLIT attempt. When no PR could be built the attempt is retired.
    /// </summary>
    private async Task BuildAsync(MergeAttempt attempt, IReadOnlyList<PullRequest> batch, CommitSha? onto, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var repo = attempt.Repo;
        var baseSha = onto ?? await github.GetBranchAsync(repo, attempt.Target, ct)
            ?? throw new InvalidOperationException($"{repo} has no branch {attempt.Target}");
        var members = new List<BatchMember>();
        foreach (var pr in batch)
        {
            var approvers = ApprovalRule.Evaluate(await ReadReviewsAsync(repo, pr.Number, ct), pr.HeadSha, config.RequiredApprovals).ApprovedBy;
            members.Add(new BatchMember(pr.Number, pr.Title, pr.HeadSha, approvers));
        }
        var plan = StrategyPlan.For(config.Strategy);
        var result = await new StrategyExecutor(github, logger).BuildAsync(
            repo, plan, baseSha, config.TmpBranch(attempt.Target, attempt.Id), config.StagingBranch(attempt.Target, attempt.Id), members, ct);

        var byNumber = batch.ToDictionary(p => p.Number);
        var changes = new Changes { Attempts = { attempt } };
        var splitToo = new List<PullRequest>();
        foreach (var skipped in result.Skipped)
        {
            var pr = byNumber[skipped.Number];
            changes.PullRequests.Add(pr);
            if (skipped.Kind == SkipKind.Refused) pr.Fail(skipped.Reason ?? Messages.ConflictWithTarget, Now);
            // Against the bare target the conflict is the PR's own; after batch-mates (or attempts ahead) it may be theirs.
            else if (!skipped.AfterBatchMates && onto is null) pr.Fail(Messages.ConflictWithTarget, Now);
            else splitToo.Add(pr);
        }
        if (splitToo.Count > 0)
        {
            var id = await store.NextAttemptIdAsync(ct);
            var split = MergeAttempt.Create(id, attempt.Queue, MergeAttemptState.Split, attempt.Id, Messages.SplitConflict(attempt.Id), Now);
            foreach (var pr in splitToo) pr.Split(id, Messages.SplitConflict(attempt.Id), Now);
            changes.Attempts.Add(split);
        }

        if (result.Head is not { } head)
        {
            attempt.Empty(Messages.EveryPullRequestConflicted, Now);
            await SaveAsync(changes, cause, ct);
            await ReportAllAsync(changes.PullRequests, ct);
            return;
        }

        attempt.Built(baseSha, head, Now);
        var place = await PlaceInLineAsync(attempt, ct);
        foreach (var landed in result.Merged)
        {
            var pr = byNumber[landed.Number];
            // Set (or cleared) on every build: the strategy may have changed since an earlier attempt.
            pr.LandedSha = plan.ClosesPullRequests ? landed.Sha : null;
            pr.Reason = Messages.Testing(attempt.Id, result.Merged.Count, place);
            changes.PullRequests.Add(pr);
        }
        await SaveAsync(changes, cause, ct);
        await ReportAllAsync(changes.PullRequests, ct);
    }

    /// <summary>1 for the head of the line, 2 for the attempt stacked on it, and so on.</summary>
    private async Task<int> PlaceInLineAsync(MergeAttempt attempt, CancellationToken ct)
    {
        var inFlight = (await store.GetActiveAttemptsAsync(attempt.Repo, ct)).Where(a => a.Target == attempt.Target && a.IsInFlight).ToDictionary(a => a.Id);
        var place = 1;
        for (var ahead = attempt.AheadId; ahead is { } id && inFlight.TryGetValue(id, out var a); ahead = a.AheadId) place++;
        return place;
    }
}
