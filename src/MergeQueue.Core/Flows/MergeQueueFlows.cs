using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using MergeQueue.Core.Approval;
using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;
using Microsoft.Extensions.Logging;

namespace MergeQueue.Core.Flows;

/// <summary>Settings of the running service that the flows need.</summary>
public sealed record FlowOptions
{
    /// <summary>Base of the dashboard links put on statuses (<c>MergeQueue:PublicUrl</c>).</summary>
    public string PublicUrl { get; init; } = "http://127.0.0.1:5000";
    /// <summary>The commit status context the queue reports on each PR head (CONTRACT §5).</summary>
    public const string StatusContext = "mergequeue";
}

/// <summary>
/// The merging flow of seed 003: Request, Initiate, Construct, Test, Complete, Cancel and Poll, one
/// file each. Every public entry point takes its repository's lock once, applies its event (loads
/// rows, fires transitions, saves them with their event log in one transaction, acts on GitHub),
/// then runs one <see cref="AdvanceAsync"/> step: <see cref="Queue.QueuePlanner"/> decides what the
/// queue does next and the flows carry it out. Flows of one repository run one at a time.
/// </summary>
public sealed partial class MergeQueueFlows(
    IGitHub github,
    IQueueStore store,
    IRepoConfigs configs,
    TimeProvider clock,
    FlowOptions options,
    ILogger<MergeQueueFlows> logger,
    PermissionCache? permissionCache = null,
    IRepoLocks? repoLocks = null)
{
    /// <summary>Who may do what; the host shares its cache with the webhook handler.</summary>
    private readonly PermissionCache _permissions = permissionCache ?? new PermissionCache(github, clock);
    private readonly IRepoLocks _locks = repoLocks ?? new InProcessRepoLocks();
    /// <summary>What this entry point already read from GitHub: a PR and its reviews are read once per step.</summary>
    private readonly AsyncLocal<Dictionary<(string Kind, RepoId Repo, int Number), object?>?> _reads = new();
    /// <summary>The last <c>mergequeue</c> status posted per PR head: one that would say the same again is not posted.</summary>
    private readonly ConcurrentDictionary<(RepoId Repo, CommitSha Head), (StatusState State, string Description)> _posted = new();

    private DateTimeOffset Now => clock.GetUtcNow();

    /// <summary>
    /// Runs one entry point with the repository's lock held, in a span named after it (the wait for
    /// the lock included). Code under the lock never takes it again.
    /// </summary>
    private async Task<T> Locked<T>(RepoId repo, Func<Task<T>> flow, CancellationToken ct, [CallerMemberName] string entryPoint = "")
    {
        using var activity = Tracing.Source.StartActivity("flow " + (entryPoint.EndsWith("Async", StringComparison.Ordinal) ? entryPoint[..^5] : entryPoint));
        activity?.SetTag("mergequeue.repository", repo.ToString());
        await using var held = await _locks.AcquireAsync(repo, ct);
        _reads.Value = [];
        try
        {
            return await flow();
        }
        finally
        {
            _reads.Value = null;
        }
    }

    private async Task<T> ReadOnceAsync<T>(string kind, RepoId repo, int number, Func<Task<T>> read)
    {
        var reads = _reads.Value;
        if (reads is not null && reads.TryGetValue((kind, repo, number), out var known)) return (T)known!;
        var value = await read();
        if (reads is not null) reads[(kind, repo, number)] = value;
        return value;
    }

    private Task<PullRequestInfo?> ReadPullRequestAsync(RepoId repo, int number, CancellationToken ct) =>
        ReadOnceAsync("pull", repo, number, () => github.GetPullRequestAsync(repo, number, ct));

    /// <summary>The PR's reviews with their authors' permission: only those by writers count.</summary>
    private Task<IReadOnlyList<Review>> ReadReviewsAsync(RepoId repo, int number, CancellationToken ct) =>
        ReadOnceAsync("reviews", repo, number, async () => await _permissions.WithPermissionsAsync(repo, await github.GetReviewsAsync(repo, number, ct), ct));

    private Task Locked(RepoId repo, Func<Task> flow, CancellationToken ct, [CallerMemberName] string entryPoint = "") =>
        Locked(repo, async () => { await flow(); return true; }, ct, entryPoint);

    /// <summary>Saves the rows with their event log, and logs each transition.</summary>
    private async Task SaveAsync(Changes changes, Cause cause, CancellationToken ct)
    {
        if (changes.IsEmpty) return;
        // A row listed twice would be written twice and fail its own version check.
        var distinct = new Changes();
        distinct.PullRequests.AddRange(changes.PullRequests.Distinct());
        distinct.Attempts.AddRange(changes.Attempts.Distinct());
        distinct.Events.AddRange(changes.Events);
        changes = distinct;
        foreach (var pr in changes.PullRequests)
            foreach (var t in pr.Transitions)
                logger.LogInformation("PR {Repo}#{Number}: {From} → {To} ({Trigger}) {Reason} [cause {CauseKind} {CauseId}]",
                    pr.Repo, pr.Number, t.From, t.To, t.Trigger, t.Reason, cause.Kind, cause.Id);
        foreach (var a in changes.Attempts)
            foreach (var t in a.Transitions)
                logger.LogInformation("Attempt {Attempt} ({Queue}): {From} → {To} ({Trigger}) {Reason} [cause {CauseKind} {CauseId}]",
                    a.Id, a.Queue, t.From, t.To, t.Trigger, t.Reason, cause.Kind, cause.Id);
        await store.SaveAsync(changes, cause, ct);
    }

    private string TargetUrl(PullRequest pr) => $"{options.PublicUrl.TrimEnd('/')}/repos/{pr.Repo.Owner}/{pr.Repo.Name}/pulls/{pr.Number}";

    /// <summary>Posts the <c>mergequeue</c> status that says where the PR stands (CONTRACT §5).</summary>
    private async Task ReportAsync(PullRequest pr, CancellationToken ct)
    {
        var (state, description) = pr.State switch
        {
            PullRequestState.Merged => (StatusState.Success, pr.Reason ?? Messages.MergedIn(pr.MergedSha ?? pr.HeadSha)),
            PullRequestState.Failed or PullRequestState.Cancelled or PullRequestState.TimedOut => (StatusState.Failure, pr.Reason ?? pr.State.ToString()),
            _ => (StatusState.Pending, pr.Reason ?? pr.State.ToString()),
        };
        var text = Messages.Status(description);
        if (_posted.TryGetValue((pr.Repo, pr.HeadSha), out var last) && last == (state, text)) return;
        try
        {
            await github.SetStatusAsync(pr.Repo, pr.HeadSha, FlowOptions.StatusContext, state, text, TargetUrl(pr), ct);
            // A finished request posts nothing more on this head (a new request of it starts afresh).
            if (pr.IsActive) _posted[(pr.Repo, pr.HeadSha)] = (state, text);
            else _posted.TryRemove((pr.Repo, pr.HeadSha), out _);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The state is saved; a lost status is repaired by the next report, never worth failing the flow.
            logger.LogWarning(e, "Could not post the status of {Repo}#{Number}", pr.Repo, pr.Number);
        }
        await ReportCheckRunAsync(pr, text, ct);
        // Only outcomes are worth a comment, and only where the repository asked for comments.
        if (pr.IsActive || (await configs.GetAsync(pr.Repo, ct))?.Comments != true) return;
        try
        {
            await github.CommentAsync(pr.Repo, pr.Number, Messages.Status(description), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not comment the outcome on {Repo}#{Number}", pr.Repo, pr.Number);
        }
    }

    /// <summary>
    /// The <c>mergequeue</c> check run beside the status (GitHub Apps only; the adapter skips it for a
    /// token): its title is the status's text, its summary why the PR is where it is, its attempt and
    /// the staging commit under test.
    /// </summary>
    private async Task ReportCheckRunAsync(PullRequest pr, string text, CancellationToken ct)
    {
        CheckRunConclusion? conclusion = pr.State switch
        {
            PullRequestState.Merged => CheckRunConclusion.Success,
            PullRequestState.Cancelled => CheckRunConclusion.Cancelled,
            PullRequestState.Failed or PullRequestState.TimedOut => CheckRunConclusion.Failure,
            _ => null,
        };
        var attempt = pr.AttemptId is { } id && pr.IsActive ? await store.GetAttemptAsync(id, ct) : null;
        var summary = Messages.CheckRunSummary(pr.State.ToString(), pr.Reason ?? text, attempt?.Id, attempt?.StagingSha);
        try
        {
            await github.ReportCheckRunAsync(pr.Repo, pr.HeadSha, FlowOptions.StatusContext, new CheckRunReport(text, summary, conclusion, TargetUrl(pr)), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not report the check run of {Repo}#{Number}", pr.Repo, pr.Number);
        }
    }

    private async Task ReportAllAsync(IEnumerable<PullRequest> prs, CancellationToken ct)
    {
        foreach (var pr in prs) await ReportAsync(pr, ct);
    }

    /// <summary>The target's active PRs: the whole queue.</summary>
    private async Task<IReadOnlyList<PullRequest>> LoadQueueAsync(QueueId queue, CancellationToken ct) =>
        (await store.GetActivePullRequestsAsync(queue.Repo, ct)).Where(p => p.Target == queue.Target).ToArray();

    /// <summary>The target's active attempts and the PRs they hold: what the planner needs while the line is busy.</summary>
    private async Task<(IReadOnlyList<PullRequest> Members, IReadOnlyList<MergeAttempt> Attempts)> LoadLineAsync(QueueId queue, CancellationToken ct)
    {
        var attempts = (await store.GetActiveAttemptsAsync(queue.Repo, ct)).Where(a => a.Target == queue.Target).ToArray();
        return (await store.GetAttemptMembersAsync(attempts.Select(a => a.Id).ToArray(), ct), attempts);
    }

    /// <summary>
    /// Whether the first queued PR does not say what <see cref="ReportPositionsAsync"/> would write now.
    /// Every change to a queue is followed by a refresh of its positions, so the others are out of date
    /// only when the first is: time alone changes them all alike (the batch delay runs out).
    /// </summary>
    private async Task<bool> PositionsOutdatedAsync(QueueId queue, RepoConfig config, QueueFreeze? freeze, int inFlight, CancellationToken ct)
    {
        if (await store.GetQueueHeadAsync(queue, ct) is not { } head) return false;
        var runs = await store.GetRecentRunDurationsAsync(queue, Eta.History, ct);
        // The short form leaves out the queue's length, so the first PR's text needs none.
        return head.First.Reason != PositionText(config, freeze, 1, 1, BatchStartsAt(config, head.OldestQueuedAt), runs, inFlight);
    }

    /// <summary>When the batch delay of a queue whose oldest PR waits since <paramref name="oldest"/> runs out; null once it has.</summary>
    private DateTimeOffset? BatchStartsAt(RepoConfig config, DateTimeOffset oldest) =>
        Now - oldest < config.BatchDelay ? oldest + config.BatchDelay : null;

    /// <summary>A queued PR's description: <see cref="Readiness.Explain"/>'s short form with its place and, unless the target is frozen, the ETA.</summary>
    private static string PositionText(RepoConfig config, QueueFreeze? freeze, int position, int length, DateTimeOffset? batchAt, IReadOnlyList<TimeSpan> runs, int inFlight)
    {
        var text = Readiness.Explain(new ReadinessFacts
        {
            Config = config,
            Freeze = freeze,
            QueuePosition = (position, length),
            BatchStartsAt = batchAt,
        }).Short;
        // A frozen target has no ETA worth stating.
        return freeze is null ? Messages.WithEta(text, Eta.ForQueued(runs, position, config.MaxBatchSize, inFlight, config.ParallelAttempts)) : text;
    }

    /// <summary>
    /// Refreshes queued PRs' descriptions (they move as the queue does) with
    /// <see cref="Readiness.Explain"/>'s short form: position, batch delay, frozen target. PRs held
    /// back (this step's <paramref name="held"/>, or still <see cref="PullRequest.Held"/> from an
    /// earlier one until a batch takes them) say why instead. Only changed rows are saved and reported.
    /// </summary>
    private async Task ReportPositionsAsync(QueueId queue, RepoConfig config, Cause cause, CancellationToken ct,
        QueueFreeze? freeze, IReadOnlyDictionary<int, string> held)
    {
        var queued = QueuePlanner.Ordered(await LoadQueueAsync(queue, ct));
        var runs = await store.GetRecentRunDurationsAsync(queue, Eta.History, ct);
        var inFlight = (await store.GetActiveAttemptsAsync(queue.Repo, ct)).Count(a => a.Target == queue.Target && a.IsInFlight);
        var ordered = queued.Where(p => !held.ContainsKey(p.Number) && !p.Held).ToArray();
        var batchAt = BatchStartsAt(config, ordered.Length == 0 ? Now : ordered.Min(p => p.QueuedAt ?? p.StateChangedAt));
        var changes = new Changes();
        for (var i = 0; i < ordered.Length; i++)
        {
            var text = PositionText(config, freeze, i + 1, ordered.Length, batchAt, runs, inFlight);
            if (ordered[i].Reason == text) continue;
            ordered[i].Reason = text;
            changes.PullRequests.Add(ordered[i]);
        }
        foreach (var pr in queued.Where(p => held.TryGetValue(p.Number, out var why) && (!p.Held || p.Reason != why)))
        {
            pr.Held = true;
            pr.Reason = held[pr.Number];
            changes.PullRequests.Add(pr);
        }
        if (changes.IsEmpty) return;
        try
        {
            await store.SaveAsync(changes, cause, ct);
        }
        catch (ConcurrencyConflictException)
        {
            return; // someone else moved the queue; they report
        }
        await ReportAllAsync(changes.PullRequests, ct);
    }

    private async Task DeleteBranchQuietlyAsync(RepoId repo, string branch, CancellationToken ct)
    {
        try
        {
            await github.DeleteBranchAsync(repo, branch, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not delete {Repo} branch {Branch}", repo, branch);
        }
    }

    /// <summary>Deletes an ended attempt's branches: CI stops on them and a late result finds no attempt.</summary>
    private async Task DeleteAttemptBranchesAsync(MergeAttempt attempt, RepoConfig config, CancellationToken ct)
    {
        // tmp exists only while a build runs, or after a crash in one.
        if (attempt.StagingSha is null)
            await DeleteBranchQuietlyAsync(attempt.Repo, config.TmpBranch(attempt.Target, attempt.Id), ct);
        await DeleteBranchQuietlyAsync(attempt.Repo, config.StagingBranch(attempt.Target, attempt.Id), ct);
    }
}
