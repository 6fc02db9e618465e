using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>
    /// Test (seed 003): a check reported on a commit. If it is the staging commit of an attempt in
    /// flight, read all its checks from GitHub (so lost or reordered webhooks do not matter) and
    /// judge them (<see cref="QueuePlanner.Judge"/>): all required checks passed → SUCCESS; a
    /// failure that reads like a flake, with retries left → rebuilt on the same tree and tested
    /// again; any other failure → RED. Then one Advance step lands, blames or abandons as needed.
    /// A result for an attempt no longer in flight (abandoned, superseded) is ignored.
    /// </summary>
    public Task TestAsync(RepoId repo, CommitSha sha, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var attempt = (await store.GetActiveAttemptsAsync(repo, ct))
                .FirstOrDefault(a => a.State == MergeAttemptState.Testing && a.StagingSha == sha);
            var config = await configs.GetAsync(repo, ct);
            if (attempt is null || config is null) return;
            await TestAttemptAsync(attempt, config, cause, ct);
            await AdvanceAsync(attempt.Queue, cause, ct);
        }, ct);

    private async Task TestAttemptAsync(MergeAttempt attempt, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var checks = await github.GetChecksAsync(attempt.Repo, attempt.StagingSha!.Value, ct);
        var (verdict, failed) = QueuePlanner.Judge(checks, config, attempt);
        switch (verdict)
        {
            case Verdict.Passed:
                attempt.ChecksPassed(Now);
                await SaveAsync(new Changes { Attempts = { attempt } }, cause, ct);
                break;
            case Verdict.Failed:
                attempt.ChecksFailed(Messages.ChecksFailed(failed), Now);
                await SaveAsync(new Changes { Attempts = { attempt } }, cause, ct);
                break;
            case Verdict.Flaky:
                await RetryFlakeAsync(attempt, failed, checks, config, cause, ct);
                break;
        }
    }

    /// <summary>
    /// A flake (seed 001): a new commit with the staging commit's tree and parents goes to the same
    /// staging branch, so CI runs again on the same content. Attempts stacked on the old commit stay:
    /// it has the same parents, so they still fast-forward from the target.
    /// </summary>
    private async Task RetryFlakeAsync(MergeAttempt attempt, IReadOnlyList<string> failed, IReadOnlyList<Check> checks, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var staging = await github.GetCommitAsync(attempt.Repo, attempt.StagingSha!.Value, ct);
        var again = await github.CreateCommitAsync(attempt.Repo, staging.TreeSha, staging.Parents, staging.Message, ct);
        await github.ResetBranchAsync(attempt.Repo, config.StagingBranch(attempt.Target, attempt.Id), again, ct);
        var why = checks.LastOrDefault(c => failed.Contains(c.Context) && c.State == CheckState.Failure)?.Description;
        attempt.Retry(again, Messages.FlakeRetry(string.Join(", ", failed), why), Now);
        var members = await MembersAsync(attempt, ct);
        foreach (var pr in members) pr.Reason = Messages.TestingAgain(attempt.Id, attempt.FlakeRetries, why ?? "flake");
        var changes = new Changes { Attempts = { attempt } };
        changes.PullRequests.AddRange(members);
        await SaveAsync(changes, cause, ct);
        await ReportAllAsync(members, ct);
    }

    /// <summary>
    /// Seed 003's failed test, once every attempt ahead has passed: a batch of one fails its PR, a
    /// larger batch splits into two halves, SPLIT attempts the planner builds next (both at once
    /// with <c>bisect: concurrent</c>, the second on the first).
    /// </summary>
    private async Task BlameAsync(MergeAttempt attempt, RepoConfig config, Cause cause, CancellationToken ct)
    {
        var reason = attempt.Reason ?? Messages.ChecksFailed(attempt.RequiredChecksUnder(config));
        var members = await MembersAsync(attempt, ct);
        attempt.Blame(reason, Now);
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
    }

    /// <summary>The PRs an attempt holds, in queue order.</summary>
    private async Task<IReadOnlyList<PullRequest>> MembersAsync(MergeAttempt attempt, CancellationToken ct) =>
        (await store.GetAttemptMembersAsync([attempt.Id], ct))
            .OrderBy(p => -p.Priority).ThenBy(p => p.QueuedAt ?? p.StateChangedAt).ThenBy(p => p.Number)
            .ToArray();
}
