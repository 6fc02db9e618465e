using System.Diagnostics;
using System.Text;
using MergeQueue.Core;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Data;
using MergeQueue.Service.Cluster;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Notifications;

/// <summary>
/// Sends notifications (docs/operations.md, "Notifications") without the flows knowing: it reads
/// event_log past its cursor and queues a message per target in the outbox in the same transaction
/// that moves the cursor, checks targets for being stuck, and delivers due messages, retrying with
/// backoff and logging every try. After a crash it resumes from the cursor and the outbox, so an
/// event is never lost and never queued twice; a message whose send was cut off is sent again (at
/// least once: receivers deduplicate by <c>X-MergeQueue-Delivery</c>). Of instances sharing a database,
/// the one holding the <c>notifier</c> lease does this; another takes over when that one dies.
/// </summary>
public sealed class Notifier(
    NotificationStore outbox,
    ClusterMember member,
    IQueueStore queue,
    IRepoConfigs configs,
    NotificationTargets targets,
    FlowOptions flowOptions,
    IOptions<ServiceOptions> options,
    TimeProvider clock,
    ILogger<Notifier> logger) : BackgroundService
{
    /// <summary>The lease of the one instance that notifies.</summary>
    public const string Lease = "notifier";

    /// <summary>Event log rows read per round.</summary>
    private const int ReadBatch = 200;

    private readonly HttpClient _http = new() { Timeout = options.Value.Notifications.Timeout };
    private DateTimeOffset _nextStuckCheck = DateTimeOffset.MinValue;

    private ServiceOptions.NotificationOptions Settings => options.Value.Notifications;

    /// <summary>Delivery times and retry waits are real time, even when the queue's clock is not (tests fake it).</summary>
    private static DateTimeOffset RealNow => TimeProvider.System.GetUtcNow();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await member.TryLeaseAsync(Lease, stoppingToken)) await RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The database or a repository's config could not be read: the cursor did not move, so the next round tries again.
                logger.LogError(e, "Notifications: a round failed; trying again");
            }
            await Task.Delay(Settings.PollInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>One round: queue what the event log announces, check for stuck targets when due, send what is due.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        await CollectAsync(ct);
        if (RealNow >= _nextStuckCheck)
        {
            await CheckStuckAsync(ct);
            _nextStuckCheck = RealNow + Settings.StuckCheckInterval;
        }
        await SendDueAsync(ct);
    }

    /// <summary>Queues a message per target for every event past the cursor, and moves the cursor, in one transaction.</summary>
    private async Task CollectAsync(CancellationToken ct)
    {
        while (true)
        {
            var (events, upTo) = await outbox.ReadEventsAsync(ReadBatch, ct);
            if (upTo is null) return;
            var queued = new List<NewNotification>();
            foreach (var row in events)
            {
                var config = await configs.GetAsync(row.Repo, ct);
                var to = targets.For(row.Repo, config?.Notify);
                if (to.IsEmpty || await ToEventAsync(row, ct) is not { } notification) continue;
                queued.AddRange(notification.ToNotifications($"event_log:{row.Id}", to, flowOptions.PublicUrl));
            }
            await outbox.EnqueueAsync(queued, upTo, RealNow, ct);
            if (events.Count < ReadBatch) return;
        }
    }

    private async Task<NotificationEvent?> ToEventAsync(EventLogRecord row, CancellationToken ct)
    {
        switch (row.Kind)
        {
            case "freeze":
                return new NotificationEvent(NotificationEvent.Frozen, row.Repo, row.To, [], null, row.Reason, row.Cause.Actor, null, row.At);
            case "unfreeze":
                return new NotificationEvent(NotificationEvent.Unfrozen, row.Repo, row.From, [], null, null, row.Cause.Actor, null, row.At);
        }
        if (row.PullRequest is not { } number) return null;
        var name = row.To switch
        {
            nameof(PullRequestState.Merged) => NotificationEvent.Merged,
            // A PR whose attempt timed out fails with the attempt's timeout as its reason: announced as timed out too.
            nameof(PullRequestState.Failed) when row.Reason?.StartsWith("Timed out", StringComparison.Ordinal) == true => NotificationEvent.TimedOut,
            nameof(PullRequestState.Failed) => NotificationEvent.Failed,
            nameof(PullRequestState.TimedOut) => NotificationEvent.TimedOut,
            _ => null,
        };
        if (name is null) return null;
        var pull = await outbox.GetPullAsync(row.Repo, number, ct);
        return new NotificationEvent(name, row.Repo, pull?.Target, [new NotifiedPull(number, pull?.Title)], row.Attempt?.Value, row.Reason,
            row.Cause.Actor, name == NotificationEvent.Merged ? pull?.MergedSha : null, row.At);
    }

    /// <summary>
    /// A target is stuck when PRs wait (queued or under test) and nothing merged into it for its
    /// repository's <c>notify.stuck_after</c>, counted from the later of the last merge and the
    /// moment the oldest waiting PR was queued. One message per episode: a merge, or the queue
    /// emptying, ends it. Measured on the queue's clock, like the timeouts.
    /// </summary>
    private async Task CheckStuckAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var announced = await outbox.StuckAsync(ct);
        var waiting = (await queue.GetActivePullRequestsAsync(null, ct))
            .Where(p => p.State is PullRequestState.Queued or PullRequestState.Merging or PullRequestState.Split)
            .GroupBy(p => (p.Repo, p.Target))
            .ToList();
        foreach (var group in waiting)
        {
            var (repo, target) = group.Key;
            var config = await configs.GetAsync(repo, ct);
            if (config?.Notify.StuckAfter is not { } after) continue;
            var to = targets.For(repo, config.Notify);
            if (to.IsEmpty) continue;
            var lastMerge = await outbox.LastMergeAtAsync(repo, target, ct);
            var oldest = group.Min(p => p.QueuedAt ?? p.RequestedAt);
            var since = lastMerge is { } m && m > oldest ? m : oldest;
            if (now - since < after) continue;
            if (announced.Any(a => a.Repo == repo && a.Target == target && a.LastMergeAt == lastMerge)) continue;
            var pulls = group.OrderBy(p => p.QueuedAt ?? p.RequestedAt).Select(p => new NotifiedPull(p.Number, p.Title)).ToArray();
            var reason = $"nothing merged for {Messages.Duration(now - since)}";
            var stuck = new NotificationEvent(NotificationEvent.Stuck, repo, target, pulls, null, reason, null, null, now, after);
            var key = $"stuck:{repo}:{target}:{since.ToUnixTimeMilliseconds()}";
            await outbox.MarkStuckAsync(repo, target, lastMerge, RealNow, [.. stuck.ToNotifications(key, to, flowOptions.PublicUrl)], ct);
            logger.LogWarning("{Repo} {Target} is stuck: nothing merged since {Since} while {Count} PR(s) wait", repo, target, since, pulls.Length);
        }
        foreach (var (repo, target, _) in announced.Where(a => !waiting.Any(g => g.Key.Repo == a.Repo && g.Key.Target == a.Target)))
            await outbox.ClearStuckAsync(repo, target, ct);
    }

    private async Task SendDueAsync(CancellationToken ct)
    {
        var due = await outbox.DueAsync(RealNow, 50, ct);
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (n, token) => await SendAsync(n, token));
    }

    private async Task SendAsync(Notification n, CancellationToken ct)
    {
        var started = RealNow;
        var watch = Stopwatch.StartNew();
        int? status = null;
        string? error = null;
        var (url, secret) = Endpoint(n);
        if (url is null)
            error = $"the {n.Channel} target '{n.TargetName}' is no longer in MergeQueue:Notifications";
        else
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(n.Payload, Encoding.UTF8, "application/json") };
            request.Headers.UserAgent.ParseAdd("MergeQueue-Notifier");
            if (n.Channel == "webhook")
            {
                request.Headers.Add(NotificationEvent.SignatureHeader, NotificationEvent.Sign(secret!, n.Payload));
                request.Headers.Add(NotificationEvent.EventHeader, n.Event);
                request.Headers.Add(NotificationEvent.DeliveryHeader, n.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            try
            {
                using var response = await _http.SendAsync(request, ct);
                status = (int)response.StatusCode;
                if (!response.IsSuccessStatusCode)
                {
                    var body = await response.Content.ReadAsStringAsync(ct);
                    error = $"HTTP {status}{(body.Length == 0 ? "" : ": " + (body.Length > 200 ? body[..200] : body))}";
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                error = e is TaskCanceledException ? $"no answer within {Settings.Timeout}" : e.Message;
            }
        }
        var delivered = error is null;
        var tries = n.Attempts + 1;
        DateTimeOffset? retryAt = delivered || tries >= Settings.MaxAttempts || url is null ? null : RealNow + Backoff(tries);
        await outbox.RecordAttemptAsync(new NotificationAttempt(n.Id, started, status, error, (int)watch.ElapsedMilliseconds), delivered, retryAt, CancellationToken.None);
        var outcome = delivered ? "delivered" : retryAt is null ? "dead" : "retry";
        ServiceMetrics.NotificationTries.WithLabels(n.Channel, outcome).Inc();
        if (!delivered)
            logger.Log(retryAt is null ? LogLevel.Error : LogLevel.Warning, "Notification {Id} ({Event} of {Repo}) to {Channel} '{Target}' failed on try {Try}: {Error}; {Next}",
                n.Id, n.Event, n.Repo, n.Channel, n.TargetName, tries, error, retryAt is null ? "given up" : $"retry at {retryAt:O}");
    }

    private TimeSpan Backoff(int tries)
    {
        var delay = Settings.RetryDelay * Math.Pow(2, Math.Min(tries - 1, 20));
        return delay < Settings.MaxRetryDelay ? delay : Settings.MaxRetryDelay;
    }

    private (string? Url, string? Secret) Endpoint(Notification n)
    {
        if (n.Channel == "webhook")
            return Settings.Webhooks.FirstOrDefault(w => string.Equals(w.Name, n.TargetName, StringComparison.OrdinalIgnoreCase)) is { } w ? (w.Url, w.Secret) : (null, null);
        return Settings.Slack.FirstOrDefault(s => string.Equals(s.Name, n.TargetName, StringComparison.OrdinalIgnoreCase)) is { } s ? (s.Url, null) : (null, null);
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }
}
