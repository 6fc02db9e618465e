using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Strategies;
using Microsoft.Extensions.Logging;

namespace MergeQueue.Core.Flows;

public sealed partial class MergeQueueFlows
{
    /// <summary>The commit status context of try builds, on the PR's head (CONTRACT §5).</summary>
    public const string TryStatusContext = "mergequeue-try";

    /// <summary>
    /// <c>try</c>: builds the PR's merge into its target on <c>{prefix}/try/{number}</c> with the
    /// configured strategy (through <see cref="StrategyExecutor"/> and a tmp branch, as a batch of
    /// one, so CI runs once, on the finished commit) and reports the try commit's
    /// <c>required_checks</c> on the PR's <c>mergequeue-try</c> status. Never touches the target or
    /// the queue. A new try replaces a running one: its branch is reset and the old result ignored.
    /// </summary>
    public Task<FlowResult> TryAsync(RepoId repo, int number, string actor, Cause cause, CancellationToken ct, DateTimeOffset? writtenAt = null) =>
        Locked(repo, async () =>
        {
            var config = await configs.GetAsync(repo, ct);
            if (config is null) return FlowResult.Refused(Messages.RefusedNotManaged);
            var info = await github.GetPullRequestAsync(repo, number, ct);
            if (info is null) return FlowResult.Refused(Messages.RefusedNotFound);
            if (!info.Open) return FlowResult.Refused(Messages.RefusedClosed);
            if (!config.IsTarget(info.BaseRef)) return FlowResult.Refused(Messages.RefusedNotTarget(info.BaseRef));
            if (await HeadIsNotTheRequestedAsync(repo, info, null, writtenAt, ct) is { } moved) return FlowResult.Refused(moved);

            var previous = await store.GetTryAsync(repo, number, ct);
            if (previous is { State: TryState.Running } && previous.HeadSha != info.HeadSha)
                await SetTryStatusAsync(repo, previous.HeadSha, StatusState.Error, Messages.TryReplaced, ct);

            var baseSha = await github.GetBranchAsync(repo, info.BaseRef, ct)
                ?? throw new InvalidOperationException($"{repo} has no branch {info.BaseRef}");
            // The same code path as a batch of one, with the configured strategy, output on the try branch.
            var result = await new StrategyExecutor(github, logger).BuildAsync(
                repo, StrategyPlan.For(config.Strategy), baseSha, $"{config.BranchPrefix}/tmp/try/{number}", config.TryBranch(number),
                [new BatchMember(number, info.Title, info.HeadSha, [])], ct);

            if (result.Head is not { } trySha)
            {
                var skipped = result.Skipped.FirstOrDefault();
                var why = skipped is { Kind: SkipKind.Refused, Reason: { } refusal } ? $"Try: {refusal}" : Messages.TryConflict(info.BaseRef);
                var conflict = new TryBuild(repo, number, info.BaseRef, info.HeadSha, null, TryState.Failed, actor, Now, Messages.Status(why));
                await store.SaveTryAsync(conflict, ct);
                await DeleteBranchQuietlyAsync(repo, config.TryBranch(number), ct);
                await ReportTryAsync(conflict, config, ct);
                return FlowResult.Ok(conflict.Reason!);
            }

            var build = new TryBuild(repo, number, info.BaseRef, info.HeadSha, trySha, TryState.Running, actor, Now, Messages.TryRunning(trySha, info.BaseRef));
            await store.SaveTryAsync(build, ct);
            await SaveAsync(new Changes { Events = { new EventLogEntry(Now, repo, number, null, "try", null, trySha.Value, build.Reason, cause) } }, cause, ct);
            await ReportTryAsync(build, config, ct);
            // The try commit may already carry its checks (nothing to merge: it is the target's head).
            await TestTryBuildAsync(build, config, ct);
            return FlowResult.Ok(build.Reason!);
        }, ct);

    /// <summary>
    /// A check reported on a commit: if it is a running try's commit, read all its checks through
    /// the API (as Test does for staging commits) and settle the try when they are decided.
    /// </summary>
    public Task TestTryAsync(RepoId repo, CommitSha sha, Cause cause, CancellationToken ct) =>
        Locked(repo, async () =>
        {
            var build = (await store.GetRunningTriesAsync(repo, ct)).FirstOrDefault(t => t.TrySha == sha);
            if (build is null) return;
            var config = await configs.GetAsync(repo, ct);
            if (config is null) return;
            await TestTryBuildAsync(build, config, ct);
        }, ct);

    /// <summary>Poll's share of try builds: settle those whose webhooks were lost, time out those CI never answered.</summary>
    private async Task PollTriesAsync(RepoId repo, RepoConfig config, CancellationToken ct)
    {
        foreach (var build in await store.GetRunningTriesAsync(repo, ct))
        {
            if (await TestTryBuildAsync(build, config, ct)) continue;
            if (Now - build.StartedAt <= config.Timeouts.Testing) continue;
            var timedOut = build with { State = TryState.Failed, Reason = Messages.TryTimedOut(config.Timeouts.Testing) };
            await store.SaveTryAsync(timedOut, ct);
            await DeleteBranchQuietlyAsync(repo, config.TryBranch(build.Number), ct);
            await ReportTryAsync(timedOut, config, ct);
        }
    }

    /// <summary>Decides a running try from its commit's checks; false while they are still running.</summary>
    private async Task<bool> TestTryBuildAsync(TryBuild build, RepoConfig config, CancellationToken ct)
    {
        var checks = (await github.GetChecksAsync(build.Repo, build.TrySha!.Value, ct))
            .GroupBy(c => c.Context, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Last().State, StringComparer.Ordinal);
        var required = await RequiredChecksAsync(build.Repo, build.Target, config, ct);
        var failed = required.Where(c => checks.GetValueOrDefault(c) == CheckState.Failure).ToArray();
        var passed = (required.Count > 0 || config.AllowNoChecks) && required.All(c => checks.TryGetValue(c, out var s) && s == CheckState.Success);
        if (failed.Length == 0 && !passed) return false;

        // A newer try may have replaced this one while its checks were read: only the current row counts.
        var current = await store.GetTryAsync(build.Repo, build.Number, ct);
        if (current is null || current.State != TryState.Running || current.TrySha != build.TrySha) return true;
        var done = passed
            ? build with { State = TryState.Passed, Reason = Messages.TryPassed(build.TrySha!.Value) }
            : build with { State = TryState.Failed, Reason = Messages.TryFailed(failed) };
        await store.SaveTryAsync(done, ct);
        await DeleteBranchQuietlyAsync(build.Repo, config.TryBranch(build.Number), ct);
        await ReportTryAsync(done, config, ct);
        return true;
    }

    private async Task ReportTryAsync(TryBuild build, RepoConfig config, CancellationToken ct)
    {
        var state = build.State switch
        {
            TryState.Running => StatusState.Pending,
            TryState.Passed => StatusState.Success,
            _ => StatusState.Failure,
        };
        await SetTryStatusAsync(build.Repo, build.HeadSha, state, build.Reason ?? build.State.ToString(), ct);
        if (!config.Comments || build.State == TryState.Running) return;
        try
        {
            await github.CommentAsync(build.Repo, build.Number, build.Reason ?? build.State.ToString(), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not comment the try result on {Repo}#{Number}", build.Repo, build.Number);
        }
    }

    private async Task SetTryStatusAsync(RepoId repo, CommitSha head, StatusState state, string description, CancellationToken ct)
    {
        try
        {
            await github.SetStatusAsync(repo, head, TryStatusContext, state, Messages.Status(description), null, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The try's state is saved; Poll does not repost, but the next try or result will.
            logger.LogWarning(e, "Could not post the try status on {Repo} {Sha}", repo, head);
        }
    }
}
