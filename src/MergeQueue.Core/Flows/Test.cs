using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Test (seed 003): a check reported on a commit. If it is a TESTING attempt's staging commit,
    /// read all its checks from GitHub (so lost or reordered webhooks do not matter) and decide:
    /// any required check failed → bisect (or fail a lone PR); all passed → SUCCESS and Complete.
    /// </summary>
    public Task TestAsync(RepoId repo, CommitSha sha, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var attempt = (await store.GetActiveAttemptsAsync(repo, ct))
                .FirstOrDefault(a => a.State == MergeAttemptState.Testing && a.StagingSha == sha);
            var config = await configs.GetAsync(repo, ct);
            if (attempt is null || config is null) return;
            await TestAttemptAsync(attempt, config, cause, ct);
        }, ct);

    private async Task TestAttemptAsync(MergeAttempt attempt, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var checks = (await github.GetChecksAsync(attempt.Repo, attempt.StagingSha!.Value, ct))
            .GroupBy(c => c.Context, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last().State, StringComparer.Ordinal);
        var failed = config.RequiredChecks.Where(c => checks.GetValueOrDefault(c) == CheckState.Failure).ToArray();
        var passed = config.RequiredChecks.All(c => checks.TryGetValue(c, out var s) && s == CheckState.Success);
        if (failed.Length == 0 && !passed) return; // still running

        var members = await MembersAsync(attempt, ct);
        if (passed)
        {
            attempt.ChecksPassed(Now);
            await SaveAsync(new Changes { Attempts = { attempt } }, cause, ct);
            await CompleteAttemptAsync(attempt, members, config, cause, ct);
            return;
        }

        var reason = Messages.ChecksFailed(failed);
        attempt.ChecksFailed(reason, Now);
        var changes = new Changes { Attempts = { attempt } };
        changes.PullRequests.AddRange(members);
        if (members.Count == 1)
        {
            members[0].Fail(reason, Now);
        }
        else if (members.Count > 1)
        {
            var (first, second) = Bisection.Halve(members);
            foreach (var half in new[] { first, second })
            {
                var id = await store.NextAttemptIdAsync(ct);
                changes.Attempts.Add(MergeAttempt.Create(id, attempt.Queue, MergeAttemptState.Split, attempt.Id, Messages.SplitBisect(attempt.Id), Now));
                foreach (var pr in half) pr.Split(id, Messages.SplitBisect(attempt.Id), Now);
            }
        }
        await SaveAsync(changes, cause, ct);
        await DeleteAttemptBranchesAsync(attempt, config, ct);
        await ReportAllAsync(members, ct);
        await ConstructAsync(attempt.Queue, cause, ct);
    }

    /// <summary>The PRs an attempt holds, in queue order.</summary>
    private async Task<IReadOnlyList<PullRequest>> MembersAsync(MergeAttempt attempt, CancellationToken ct) =>
        (await store.GetActivePullRequestsAsync(attempt.Repo, ct))
            .Where(p => p.AttemptId == attempt.Id)
            .OrderBy(p => -p.Priority).ThenBy(p => p.QueuedAt ?? p.StateChangedAt).ThenBy(p => p.Number)
            .ToArray();
}
