using MergeQueue.Core;
using MergeQueue.Core.Approval;
using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.Service.Jobs;
using MergeQueue.Service.Repositories;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Quartz;

namespace MergeQueue.Service.Dashboard;

public sealed record ServiceHealth(string Database, InboxHealth Inbox, DateTimeOffset? LastPoll, DateTimeOffset? NextPoll, TimeSpan PollInterval)
{
    public bool Healthy => Database == "Healthy" && Inbox.Unprocessed < 100;
}

public sealed record TargetSummary(string Target, int Queued, int Waiting, IReadOnlyList<AttemptRecord> Running, QueueFreeze? Freeze, int Merged24h, int Failed24h);

public sealed record RepoSummary(RepoId Repo, bool? Managed, IReadOnlyList<TargetSummary> Targets);

public sealed record OverviewModel(DateTimeOffset Now, ServiceHealth Health, IReadOnlyList<RepoSummary> Repositories);

/// <summary>One line of a queue: its place in batching order (null while not queued) and why it waits.</summary>
public sealed record QueueEntry(int? Position, PullRequest PullRequest, TimeSpan Age, string Why);

/// <summary>Checks of a commit as the queue last read them (<see cref="ReadAt"/>), or why there are none to show.</summary>
public sealed record CheckList(IReadOnlyList<Check> Checks, string? Error, DateTimeOffset? ReadAt = null);

/// <param name="Jobs">The built-in runner's jobs on the staging commit (their pages hold the logs), also once the attempt ended.</param>
public sealed record AttemptView(AttemptRecord Attempt, IReadOnlyList<int> PullRequests, CheckList? Checks, IReadOnlyList<RunnerJob>? Jobs = null);

public sealed record TargetView(string Target, QueueFreeze? Freeze, string Decision, IReadOnlyList<QueueEntry> Queue, IReadOnlyList<AttemptView> Running)
{
    /// <summary>When the next batch may start, while the queue waits for batch_delay.</summary>
    public DateTimeOffset? BatchStartsAt { get; init; }
}

public sealed record RepoModel(DateTimeOffset Now, RepoId Repo, RepoConfig? Config, IReadOnlyList<TargetView> Targets,
    IReadOnlyList<PullRequestRecord> RecentFinished, IReadOnlyList<AttemptView> RecentAttempts);

/// <summary>A state change and the GitHub calls made under the same cause.</summary>
public sealed record TimelineItem(EventLogRecord Change, IReadOnlyList<EventLogRecord> Effects);

public sealed record PullModel(DateTimeOffset Now, RepoId Repo, int Number, IReadOnlyList<PullRequestRecord> Requests,
    IReadOnlyList<TimelineItem> Timeline, IReadOnlyList<AttemptView> Attempts, IReadOnlyList<string> WhyNotMerging);

public sealed record DeliveryModel(WebhookDelivery Delivery, IReadOnlyList<EventLogRecord> Caused);

/// <summary>
/// Builds the dashboard's page models from the database, the config cache, the scheduler and what the
/// queue last read from GitHub (<see cref="GitHubReads"/>): a page view never calls GitHub.
/// </summary>
public sealed class DashboardReader(
    DashboardQueries queries,
    IQueueStore store,
    WebhookInbox inbox,
    RepoConfigCache configs,
    PermissionCache permissions,
    GitHubReads reads,
    RunnerJobStore runnerJobs,
    HealthCheckService health,
    ISchedulerFactory schedulers,
    TimeProvider clock,
    Microsoft.Extensions.Options.IOptions<ServiceOptions> options,
    ILogger<DashboardReader> logger)
{
    public DateTimeOffset Now => clock.GetUtcNow();

    public async Task<ServiceHealth> HealthAsync(CancellationToken ct)
    {
        var report = await health.CheckHealthAsync(ct);
        DateTimeOffset? last = null, next = null;
        try
        {
            var scheduler = await schedulers.GetScheduler(ct);
            var trigger = (await scheduler.GetTriggersOfJob(new JobKey(PollJob.Name), ct)).FirstOrDefault();
            last = trigger?.PreviousFireTimeUtc;
            next = trigger?.NextFireTimeUtc;
        }
        catch (SchedulerException e)
        {
            logger.LogDebug(e, "The scheduler could not say when the poller runs");
        }
        return new ServiceHealth(report.Status.ToString(), await queries.InboxHealthAsync(Now.AddDays(-1), ct), last, next, options.Value.Poller.Interval);
    }

    public async Task<IReadOnlyList<RepoId>> RepositoriesAsync(CancellationToken ct)
    {
        var fromTables = await queries.RepositoriesAsync(ct);
        return fromTables.Concat(configs.Known.Keys).Distinct()
            .OrderBy(r => r.Owner, StringComparer.OrdinalIgnoreCase).ThenBy(r => r.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    public async Task<OverviewModel> OverviewAsync(CancellationToken ct)
    {
        var now = Now;
        var repos = await RepositoriesAsync(ct);
        var active = await queries.ActivePullRequestsAsync(null, ct);
        var attempts = await queries.ActiveAttemptsAsync(null, ct);
        var outcomes = await queries.OutcomesSinceAsync(now.AddDays(-1), ct);
        var known = configs.Known;
        var summaries = new List<RepoSummary>();
        foreach (var repo in repos)
        {
            known.TryGetValue(repo, out var config);
            var targets = (config?.TargetBranches ?? [])
                .Concat(active.Where(p => p.Repo == repo).Select(p => p.Target))
                .Concat(attempts.Where(a => a.Repo == repo).Select(a => a.Target))
                .Concat(outcomes.Where(o => o.Repo == repo).Select(o => o.Target))
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            var rows = new List<TargetSummary>();
            foreach (var target in targets)
            {
                var prs = active.Where(p => p.Repo == repo && p.Target == target).ToList();
                int Count(string state) => outcomes.Where(o => o.Repo == repo && o.Target == target && o.State == state).Sum(o => o.Count);
                rows.Add(new TargetSummary(target,
                    prs.Count(p => p.State == nameof(PullRequestState.Queued)),
                    prs.Count(p => p.State == nameof(PullRequestState.Requested)),
                    attempts.Where(a => a.Repo == repo && a.Target == target).ToList(),
                    await store.GetFreezeAsync(new QueueId(repo, target), ct),
                    Count(nameof(PullRequestState.Merged)),
                    Count(nameof(PullRequestState.Failed)) + Count(nameof(PullRequestState.TimedOut))));
            }
            summaries.Add(new RepoSummary(repo, known.TryGetValue(repo, out var c) ? c is not null : null, rows));
        }
        return new OverviewModel(now, await HealthAsync(ct), summaries);
    }

    public async Task<RepoModel> RepositoryAsync(RepoId repo, CancellationToken ct)
    {
        var now = Now;
        configs.Known.TryGetValue(repo, out var config);
        var prs = await store.GetActivePullRequestsAsync(repo, ct);
        var attempts = await store.GetActiveAttemptsAsync(repo, ct);
        var records = await queries.ActiveAttemptsAsync(repo, ct);
        var recentAttempts = await queries.RecentAttemptsAsync(repo, 15, ct);
        var members = await queries.AttemptMembersAsync(records.Concat(recentAttempts).Select(a => a.Id), ct);
        var targets = (config?.TargetBranches ?? []).Concat(prs.Select(p => p.Target)).Concat(attempts.Select(a => a.Queue.Target))
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);

        var views = new List<TargetView>();
        foreach (var target in targets)
        {
            var freeze = await store.GetFreezeAsync(new QueueId(repo, target), ct);
            var queuePrs = prs.Where(p => p.Target == target).ToList();
            var queueAttempts = attempts.Where(a => a.Queue.Target == target).ToList();
            // Without the config (not loaded since the last start) the planner cannot run; a freeze is known anyway.
            var queue = new QueueId(repo, target);
            var effective = config is null ? null : await BatchPolicy.EffectiveAsync(store, queue, config, ct);
            var decision = effective is not null
                ? QueuePlanner.Next(new QueueState(queuePrs, queueAttempts, effective, now, freeze is not null, Landed: await store.GetLastLandedAsync(queue, ct)))
                : freeze is not null ? new QueueDecision.Wait("frozen") : null;
            var ordered = QueuePlanner.Ordered(queuePrs);
            var entries = new List<QueueEntry>();
            for (var i = 0; i < ordered.Count; i++)
                entries.Add(new QueueEntry(i + 1, ordered[i], now - (ordered[i].QueuedAt ?? ordered[i].StateChangedAt), WhyQueued(i, ordered[i], decision, effective)));
            foreach (var pr in queuePrs.Where(p => p.State != PullRequestState.Queued).OrderBy(p => p.State).ThenBy(p => p.RequestedAt))
                entries.Add(new QueueEntry(null, pr, now - pr.RequestedAt, WhyActive(pr)));

            var running = new List<AttemptView>();
            // In line order: each attempt after the one it is built on.
            foreach (var attempt in records.Where(a => a.Target == target).OrderBy(a => Depth(a, queueAttempts)).ThenBy(a => a.Id))
                running.Add(new AttemptView(attempt, members[attempt.Id].ToList(), attempt.StagingSha is null ? null : Checks(repo, attempt.StagingSha)));
            views.Add(new TargetView(target, freeze, Describe(decision, effective), entries, running) { BatchStartsAt = (decision as QueueDecision.Wait)?.Until });
        }

        return new RepoModel(now, repo, config, views, await queries.RecentFinishedAsync(repo, 20, ct),
            recentAttempts.Select(a => new AttemptView(a, members[a.Id].ToList(), null)).ToList());
    }

    public async Task<PullModel> PullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        var requests = await queries.PullRequestHistoryAsync(repo, number, ct);
        var attemptIds = await queries.AttemptsOfPullRequestAsync(repo, number, ct);
        var log = (await queries.SearchEventsAsync(new AuditFilter { Repo = repo, PullRequest = number, Limit = 1000 }, ct))
            // Flake retries of its attempts, with why: the PR's own state does not change there.
            .Concat(await queries.SearchEventsAsync(new AuditFilter { Repo = repo, Attempts = attemptIds, Trigger = "Retry", Limit = 1000 }, ct));
        var timeline = new List<TimelineItem>();
        var effectsByCause = new Dictionary<string, IReadOnlyList<EventLogRecord>>(StringComparer.Ordinal);
        foreach (var change in log.Where(e => e.Kind == "transition").OrderBy(e => e.Id))
        {
            IReadOnlyList<EventLogRecord> effects = [];
            if (change.Cause.Id is { } causeId)
            {
                if (!effectsByCause.TryGetValue(causeId, out var caused))
                    effectsByCause[causeId] = caused = (await queries.CausedByAsync(causeId, ct)).Where(e => e.Kind == "github" && e.Repo == repo).ToList();
                // Shown once, with the first change of that cause.
                if (timeline.All(t => t.Change.Cause.Id != causeId)) effects = caused;
            }
            timeline.Add(new TimelineItem(change, effects));
        }

        var attemptRows = await queries.AttemptsAsync(attemptIds, ct);
        var members = await queries.AttemptMembersAsync(attemptIds, ct);
        var attempts = new List<AttemptView>();
        foreach (var a in attemptRows)
        {
            var live = a.State is nameof(MergeAttemptState.Testing) or nameof(MergeAttemptState.Success);
            // A failed attempt's checks are no longer read, but its runner jobs' logs say why it failed.
            IReadOnlyList<RunnerJob> jobs = a.StagingSha is null ? [] : await runnerJobs.ForCommitAsync(repo, new CommitSha(a.StagingSha), ct);
            attempts.Add(new AttemptView(a, members[a.Id].ToList(), live && a.StagingSha is not null ? Checks(repo, a.StagingSha) : null, jobs));
        }

        return new PullModel(Now, repo, number, requests, timeline, attempts, await WhyNotMergingAsync(repo, requests, attemptRows, ct));
    }

    public async Task<DeliveryModel?> DeliveryAsync(string deliveryId, CancellationToken ct)
    {
        var delivery = await inbox.GetAsync(deliveryId, ct);
        return delivery is null ? null : new DeliveryModel(delivery, await queries.CausedByAsync(deliveryId, ct));
    }

    /// <summary>Why the PR's latest request has not merged, from what the store knows now.</summary>
    private async Task<IReadOnlyList<string>> WhyNotMergingAsync(RepoId repo, IReadOnlyList<PullRequestRecord> requests, IReadOnlyList<AttemptRecord> attempts, CancellationToken ct)
    {
        var latest = requests.LastOrDefault();
        if (latest is null) return ["The queue has never been asked to merge it: comment `@mergequeue merge` (or `r+`) on the pull request."];
        var reasons = new List<string>();
        switch (latest.State)
        {
            case nameof(PullRequestState.Merged):
                return [$"It merged{(latest.MergedSha is null ? "" : $" as {Short(latest.MergedSha)}")} at {Format(latest.StateChangedAt)}."];
            case nameof(PullRequestState.Failed) or nameof(PullRequestState.Cancelled) or nameof(PullRequestState.TimedOut):
                reasons.Add($"Its last request ended {latest.State} at {Format(latest.StateChangedAt)}: {latest.Reason ?? "no reason recorded"}.");
                reasons.Add("It merges only after a new request (`@mergequeue merge`, or `retry` after a failure).");
                return reasons;
            case nameof(PullRequestState.Requested):
                reasons.AddRange(await ExplainAsync(repo, latest, null, ct)
                    ?? [$"It is requested but not yet ready: {latest.Reason ?? "the queue has not checked it yet"}."]);
                return reasons;
            case nameof(PullRequestState.Queued):
                var model = await RepositoryAsync(repo, ct);
                var target = model.Targets.FirstOrDefault(t => t.Queue.Any(q => q.PullRequest.Number == latest.Number));
                var entry = target?.Queue.First(q => q.PullRequest.Number == latest.Number);
                var explained = await ExplainAsync(repo, latest, target, ct);
                if (explained is null)
                    reasons.Add(entry is null ? "It is queued." : $"It is queued at position {entry.Position} for {latest.Target}: {entry.Why}.");
                else
                {
                    reasons.AddRange(explained);
                    // Core covers the position, batch delay and freeze; a running attempt or a full batch only the planner knows.
                    if (entry is not null && target!.BatchStartsAt is null && target.Freeze is null) reasons.Add($"The queue: {entry.Why}.");
                }
                if (entry?.Position is { } place && target?.Freeze is null && await EtaAsync(repo, latest.Target, place, ct) is { } eta)
                    reasons.Add($"Estimated to merge in {eta.Text} (between {Minutes(eta.Low)} and {Minutes(eta.High)}).");
                return reasons;
            case nameof(PullRequestState.Merging) or nameof(PullRequestState.Split):
                var attempt = attempts.FirstOrDefault(a => a.Id == latest.Attempt);
                reasons.Add(attempt is null
                    ? $"It is {latest.State.ToLowerInvariant()}."
                    : $"It is in attempt {attempt.Id}, {attempt.State}{(attempt.State == nameof(MergeAttemptState.Testing) ? ": waiting for the required checks on the staging commit" : "")}.");
                break;
        }
        var freeze = await store.GetFreezeAsync(new QueueId(repo, latest.Target), ct);
        if (freeze is not null) reasons.Add($"{latest.Target} is frozen by {freeze.FrozenBy} since {Format(freeze.FrozenAt)}{(freeze.Reason is null ? "" : $": {freeze.Reason}")}.");
        return reasons;
    }

    /// <summary>Core's ETA for a queued PR at this place, from the target's recent runs; null without history or config.</summary>
    private async Task<EtaEstimate?> EtaAsync(RepoId repo, string target, int position, CancellationToken ct)
    {
        if (!configs.Known.TryGetValue(repo, out var config) || config is null) return null;
        var queue = new QueueId(repo, target);
        var runs = await store.GetRecentRunDurationsAsync(queue, Eta.History, ct);
        var inFlight = (await store.GetActiveAttemptsAsync(repo, ct)).Count(a => a.Target == target && a.IsInFlight);
        return Eta.ForQueued(runs, position, config.MaxBatchSize, inFlight, config.ParallelAttempts);
    }

    private static string Minutes(TimeSpan d) => $"{Math.Max(1, Math.Round(d.TotalMinutes)):0} min";

    /// <summary>
    /// Core's full "why is it not merging" (<see cref="Readiness.Explain"/>) for an active request, with
    /// the PR, reviews, pre-checks and commits as the queue last read them from GitHub; null when the
    /// repository's config is not loaded (the caller falls back to the stored reason).
    /// </summary>
    private async Task<IReadOnlyList<string>?> ExplainAsync(RepoId repo, PullRequestRecord latest, TargetView? queue, CancellationToken ct)
    {
        if (!configs.Known.TryGetValue(repo, out var config) || config is null) return null;
        var number = RecordingGitHub.Key(latest.Number);
        var info = reads.Find<PullRequestInfo>(RecordingGitHub.PullRead, repo, number);
        var position = queue?.Queue.FirstOrDefault(q => q.PullRequest.Number == latest.Number)?.Position;
        var result = Readiness.Explain(new ReadinessFacts
        {
            Config = config,
            PullRequest = info?.Value,
            Reviews = config.RequiredApprovals > 0 && reads.Find<IReadOnlyList<Review>>(RecordingGitHub.ReviewsRead, repo, number)?.Value is { } reviews
                ? permissions.WithKnownPermissions(repo, reviews)
                : null,
            HeadChecks = info is { } pr && config.PreChecks.Count > 0 ? reads.Find<IReadOnlyList<Check>>(RecordingGitHub.ChecksRead, repo, pr.Value.HeadSha.Value)?.Value : null,
            Commits = config.CommitMessagePattern is not null ? reads.Find<IReadOnlyList<CommitInfo>>(RecordingGitHub.CommitsRead, repo, number)?.Value : null,
            Freeze = await store.GetFreezeAsync(new QueueId(repo, latest.Target), ct),
            QueuePosition = position is { } p ? (p, queue!.Queue.Count(q => q.Position is not null)) : null,
            BatchStartsAt = queue?.BatchStartsAt,
        });
        var lines = result.Full.ToList();
        lines.Add(info is { } read
            ? $"From GitHub as the queue last read it at {Format(read.At)}."
            : "The queue has not read this pull request from GitHub since it started: approvals, pre-checks and rules show once it has.");
        return lines;
    }

    private static string WhyQueued(int index, PullRequest pr, QueueDecision? decision, RepoConfig? config) => decision switch
    {
        _ when pr.Held => pr.Reason ?? "held back",
        QueueDecision.Wait { Why: "frozen" } => "the target is frozen: no new attempt starts",
        QueueDecision.Wait { Until: { } at } => $"batch delay: the next batch starts at {Format(at)}",
        QueueDecision.Wait wait => $"waits: {wait.Why}",
        QueueDecision.Start { Split: { } split } => $"waits for split attempt {split.Id} to be built first",
        QueueDecision.Start start when start.PullRequests.Any(p => p.Number == pr.Number) => "goes into the next batch",
        QueueDecision.Start => $"behind a full batch (max_batch_size {config?.MaxBatchSize})",
        null => pr.Reason ?? "queued (the repository's config is not loaded yet)",
        _ => pr.Reason ?? "queued",
    };

    /// <summary>How many attempts in flight this one is stacked on: 0 for the head of a line.</summary>
    private static int Depth(AttemptRecord record, IReadOnlyCollection<MergeAttempt> attempts)
    {
        var depth = 0;
        var ahead = attempts.FirstOrDefault(a => a.Id.Value == record.Id)?.AheadId;
        while (ahead is { } id && attempts.FirstOrDefault(a => a.Id == id) is { } a)
        {
            depth++;
            ahead = a.AheadId;
        }
        return depth;
    }

    private static string WhyActive(PullRequest pr) => pr.State switch
    {
        PullRequestState.Requested => $"not ready: {pr.Reason ?? "not checked yet"}",
        PullRequestState.Merging => $"in attempt {pr.AttemptId}",
        PullRequestState.Split => $"in split attempt {pr.AttemptId}, waiting to be rebuilt",
        _ => pr.Reason ?? pr.State.ToString(),
    };

    private static string Describe(QueueDecision? decision, RepoConfig? config) => decision switch
    {
        null => "config not loaded yet (it loads with the repository's next delivery)",
        QueueDecision.Wait { Why: "nothing queued" } => "idle: nothing queued",
        QueueDecision.Wait { Why: "frozen" } => "frozen: no new attempt starts",
        QueueDecision.Wait { Until: { } at } => $"next batch at {Format(at)} (batch_delay {config?.BatchDelay})",
        QueueDecision.Wait wait => wait.Why,
        QueueDecision.RemoveEmpty => "retiring an empty split attempt",
        QueueDecision.Abandon abandon => $"next: give up attempt {abandon.Attempt.Id} ({abandon.Reason})",
        QueueDecision.Land land => $"next: land attempt {land.Attempt.Id}",
        QueueDecision.Blame blame => $"next: bisect attempt {blame.Attempt.Id}",
        QueueDecision.Start { Split: { } split } => $"next: build split attempt {split.Id}",
        QueueDecision.Start start => $"next batch: {string.Join(", ", start.PullRequests.Select(p => "#" + p.Number))}",
        _ => decision.GetType().Name,
    };

    private CheckList Checks(RepoId repo, string sha) =>
        reads.Find<IReadOnlyList<Check>>(RecordingGitHub.ChecksRead, repo, sha) is { } read
            ? new CheckList(read.Value, null, read.At)
            : new CheckList([], "The queue has not read these checks from GitHub since it started.");

    /// <summary>
    /// A time from a query string (<c>2026-01-31</c> or <c>2026-01-31T12:00</c>, UTC); null when empty.
    /// False with the reason for text that is no time, or one before 1970 or after 9000: pages step
    /// days and weeks around it, which must stay valid times (<c>to=0001-01-05</c> once threw).
    /// </summary>
    public static bool TryParseTime(string? text, out DateTimeOffset? time, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        time = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (!DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var t))
            error = $"'{text}' is not a time (use e.g. 2026-01-31 or 2026-01-31T12:00).";
        else if (t < DateTimeOffset.UnixEpoch || t.Year >= 9000)
            error = $"'{text}' is out of range: use a time from 1970 to 8999.";
        else
            time = t;
        return error is null;
    }

    public static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + "Z";

    public static string Short(string sha) => sha.Length > 7 ? sha[..7] : sha;

    /// <summary>A runner job's run time, whole seconds (at least 1), so far while it runs; empty before it starts.</summary>
    public static string JobDuration(RunnerJob job) => job.StartedAt is not { } started ? ""
        : Messages.Duration(TimeSpan.FromSeconds(Math.Max(1, Math.Round(((job.FinishedAt ?? DateTimeOffset.UtcNow) - started).TotalSeconds))));

    public static string Age(TimeSpan span) => span.TotalSeconds < 0 ? "0s"
        : span.TotalMinutes < 1 ? $"{(int)span.TotalSeconds}s"
        : span.TotalHours < 1 ? $"{(int)span.TotalMinutes}m"
        : span.TotalDays < 1 ? $"{(int)span.TotalHours}h {span.Minutes}m"
        : $"{(int)span.TotalDays}d {span.Hours}h";
}
