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
    /// what it stacked on, if that is still in flight.
    /// </summary>
    public async Task PollAsync(Cause cause, CancellationToken ct)
    {
        var repos = (await store.GetActivePullRequestsAsync(null, ct)).Select(p => p.Repo)
            .Concat((await store.GetActiveAttemptsAsync(null, ct)).Select(a => a.Repo))
            .Concat((await store.GetRunningTriesAsync(null, ct)).Select(t => t.Repo))
            .Distinct()
            .ToArray();
        foreach (var repo in repos)
        {
            try
            {
                await Locked(repo, () => PollRepositoryAsync(repo, cause, ct), ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One repository's trouble (GitHub down for it, a bad config) must not stop the others.
                logger.LogError(e, "Poll of {Repo} failed", repo);
            }
        }
    }

    private async Task PollRepositoryAsync(RepoId repo, Cause cause, CancellationToken ct)
    {
        var config = await configs.GetAsync(repo, ct);
        if (config is null) return;
        await TimeOutAsync(repo, config, cause, ct);
        await PollTriesAsync(repo, config, ct);

        foreach (var pr in (await store.GetActivePullRequestsAsync(repo, ct)).Where(p => p.State == PullRequestState.Requested))
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

        var targets = (await store.GetActivePullRequestsAsync(repo, ct)).Select(p => p.Target)
            .Concat((await store.GetActiveAttemptsAsync(repo, ct)).Select(a => a.Target))
            .Distinct(StringComparer.Ordinal);
        foreach (var target in targets)
            await AdvanceAsync(new QueueId(repo, target), cause, ct);
    }

    /// <summary>Poll's timeouts: a timed-out attempt takes its PRs with it, and a timed-out PR its attempt.</summary>
    private async Task TimeOutAsync(RepoId repo, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var t = config.Timeouts;
        var prs = await store.GetActivePullRequestsAsync(repo, ct);
        var attempts = await store.GetActiveAttemptsAsync(repo, ct);
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
            var limit = attempt.State switch
            {
                MergeAttemptState.Constructing => t.Constructing,
                MergeAttemptState.Testing or MergeAttemptState.Red => t.Testing,
                MergeAttemptState.Success => t.Success,
                _ => t.Split,
            };
            if (Now - attempt.StateChangedAt > limit)
                EndAttempt(attempt, Messages.AttemptTimedOut(attempt.Id, attempt.State.ToString().ToUpperInvariant(), limit));
        }

        foreach (var pr in prs.Where(p => p.IsActive))
        {
            var limit = pr.State switch
            {
                PullRequestState.Requested => t.Requested,
                PullRequestState.Queued => t.Queued,
                PullRequestState.Merging => t.Merging,
                _ => t.Split,
            };
            if (Now - pr.StateChangedAt <= limit) continue;
            var reason = Messages.TimedOut(pr.State.ToString().ToUpperInvariant(), limit);
            var attempt = attempts.FirstOrDefault(a => a.Id == pr.AttemptId);
            if (attempt is not null) EndAttempt(attempt, reason);
            if (!pr.IsActive) continue;
            pr.TimeOut(reason, Now);
            changes.PullRequests.Add(pr);
        }

        if (changes.IsEmpty) return;
        await SaveAsync(changes, cause, ct);
        foreach (var attempt in ended) await DeleteAttemptBranchesAsync(attempt, config, ct);
        await ReportAllAsync(changes.PullRequests, ct);
    }
}
