using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using Microsoft.Extensions.Logging;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Poll (seed 003): on a timer, time out whatever sat too long in a state, then run each state's
    /// flow again (Initiate, Test, then one Advance step per target that lands, blames and
    /// constructs), so a lost webhook costs one interval, not a PR. An attempt found CONSTRUCTING was
    /// orphaned by a crash (construction holds the repository lock) and is rebuilt from scratch on
    /// what it stacked on, if that is still in flight. A tick reads only what can change: the
    /// attempts and the PRs they hold, rows past their timeout, requests still waiting to be ready,
    /// and a target's queued PRs only where the planner's decision is theirs (a batch to start) or
    /// their descriptions are out of date; PRs queued behind a busy line cost nothing.
    /// </summary>
    public async Task PollAsync(Cause cause, CancellationToken ct)
    {
        var queues = await store.GetActiveQueuesAsync(ct);
        var repos = queues.Select(q => q.Repo)
            .Concat((await store.GetRunningTriesAsync(null, ct)).Select(t => t.Repo))
            .Distinct()
            .ToArray();
        foreach (var repo in repos)
        {
            try
            {
                // A target that comes up meanwhile does so through a flow that advances it.
                var targets = queues.Where(q => q.Repo == repo).Select(q => q.Target).ToArray();
                await Locked(repo, () => PollRepositoryAsync(repo, targets, cause, ct), ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One repository's trouble (GitHub down for it, a bad config) must not stop the others.
                logger.LogError(e, "Poll of {Repo} failed", repo);
            }
        }
    }

    private async Task PollRepositoryAsync(RepoId repo, IReadOnlyList<string> targets, Cause cause, CancellationToken ct)
    {
        var config = await configs.GetAsync(repo, ct);
        if (config is null) return;
        var timedOut = await TimeOutAsync(repo, config, cause, ct);
        await PollTriesAsync(repo, config, ct);

        foreach (var pr in await RequestedAsync(repo, ct))
            await InitiateLockedAsync(repo, pr.Number, cause, ct);

        var attempts = await store.GetActiveAttemptsAsync(repo, ct);
        foreach (var attempt in attempts)
        {
            // Earlier steps of this tick may have moved it on: read it again.
            var current = await store.GetAttemptAsync(attempt.Id, ct);
            if (current is null || !current.IsActive) continue;
            if (current.State == MergeAttemptState.Testing)
            {
                await TestAttemptAsync(current, config, cause, ct);
            }
            else if (current.State == MergeAttemptState.Constructing)
            {
                var ahead = current.AheadId is { } id ? await store.GetAttemptAsync(id, ct) : null;
                if (current.AheadId is not null && ahead is not { IsInFlight: true, StagingSha: not null }) continue; // Advance gives it up
                var members = await MembersAsync(current, ct);
                current.Rebuild(Messages.RebuildingAfterCrash, Now);
                await SaveAsync(new Changes { Attempts = { current } }, cause, ct);
                await BuildAsync(current, members, ahead?.StagingSha, config, cause, ct);
            }
        }

        // A PR that timed out left a gap in its queue: the PRs behind it move up.
        foreach (var target in targets)
            await AdvanceAsync(new QueueId(repo, target), cause, ct, quiet: !timedOut.Contains(target));
    }

    /// <summary>
    /// Poll's timeouts: a timed-out attempt takes its PRs with it, and a timed-out PR its attempt. Only
    /// the rows past their limit are read, and the PRs of the attempts that end. Returns the targets
    /// where a PR timed out.
    /// </summary>
    private async Task<IReadOnlySet<string>> TimeOutAsync(RepoId repo, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var t = config.Timeouts;
        var attempts = await store.GetActiveAttemptsAsync(repo, ct);
        TimeSpan AttemptLimit(MergeAttempt attempt) => attempt.State switch
        {
            MergeAttemptState.Constructing => t.Constructing,
            MergeAttemptState.Testing or MergeAttemptState.Red => t.Testing,
            MergeAttemptState.Success => t.Success,
            _ => t.Split,
        };
        var limits = new Dictionary<PullRequestState, TimeSpan>
        {
            [PullRequestState.Requested] = t.Requested,
            [PullRequestState.Queued] = t.Queued,
            [PullRequestState.Merging] = t.Merging,
            [PullRequestState.Split] = t.Split,
        };
        var overdue = await store.GetPullRequestsInStatesAsync(repo, limits.ToDictionary(l => l.Key, l => Now - l.Value), ct);
        var overdueAttempts = attempts.Where(a => Now - a.StateChangedAt > AttemptLimit(a)).Select(a => a.Id);
        var ending = overdueAttempts.Concat(overdue.Where(p => p.AttemptId is not null).Select(p => p.AttemptId!.Value)).ToHashSet();
        if (ending.Count == 0 && overdue.Count == 0) return new HashSet<string>();
        // One instance per row: a PR both overdue and in an ending attempt is changed (and saved) once.
        var prs = overdue.Concat(await store.GetAttemptMembersAsync(ending, ct)).DistinctBy(p => p.Id).OrderBy(p => p.Id).ToArray();
        var changes = new Changes();
        var ended = new List<MergeAttempt>();

        void EndAttempt(MergeAttempt attempt, string reason)
        {
            if (!attempt.IsActive) return;
            attempt.TimeOut(reason, Now);
            changes.Attempts.Add(attempt);
            ended.Add(attempt);
            foreach (var pr in prs.Where(p => p.AttemptId == attempt.Id && p.IsActive))
            {
                pr.TimeOut(reason, Now);
                changes.PullRequests.Add(pr);
            }
        }

        foreach (var attempt in attempts)
        {
            var limit = AttemptLimit(attempt);
            if (Now - attempt.StateChangedAt > limit)
                EndAttempt(attempt, Messages.AttemptTimedOut(attempt.Id, attempt.State.ToString().ToUpperInvariant(), limit));
        }

        foreach (var pr in prs.Where(p => p.IsActive))
        {
            var limit = limits[pr.State];
            if (Now - pr.StateChangedAt <= limit) continue;
            var reason = Messages.TimedOut(pr.State.ToString().ToUpperInvariant(), limit);
            var attempt = attempts.FirstOrDefault(a => a.Id == pr.AttemptId);
            if (attempt is not null) EndAttempt(attempt, reason);
            if (!pr.IsActive) continue;
            pr.TimeOut(reason, Now);
            changes.PullRequests.Add(pr);
        }

        if (changes.IsEmpty) return new HashSet<string>();
        await SaveAsync(changes, cause, ct);
        foreach (var attempt in ended) await DeleteAttemptBranchesAsync(attempt, config, ct);
        await ReportAllAsync(changes.PullRequests, ct);
        return changes.PullRequests.Select(p => p.Target).ToHashSet(StringComparer.Ordinal);
    }
}
