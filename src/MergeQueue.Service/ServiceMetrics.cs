using Prometheus;

namespace MergeQueue.Service;

/// <summary>
/// The Prometheus metrics at <c>/metrics</c>. Every label takes values from a fixed set or from
/// the repositories and target branches the queue manages: never free text, never a login.
/// </summary>
public static class ServiceMetrics
{
    private static readonly HashSet<string> Events =
        ["ping", "pull_request", "pull_request_review", "issue_comment", "status", "check_run", "check_suite", "push", "installation", "installation_repositories"];

    /// <summary>The event label: the events the queue handles, anything else "other" (the header is the sender's text).</summary>
    public static string EventLabel(string name) => Events.Contains(name) ? name : "other";

    /// <summary>
    /// The outcome label of a delivery: accepted, duplicate, handled, ignored, refused, rejected,
    /// failed, retried or dead. The stored outcome says more ("merge: accepted (…)", "ignored: …"), in words
    /// that would make a new series each.
    /// </summary>
    public static string OutcomeLabel(string outcome) => outcome switch
    {
        "accepted" or "duplicate" or "rejected" or "failed" or "retried" or "dead" => outcome,
        _ when outcome.StartsWith("ignored", StringComparison.Ordinal) || outcome == "no command" => "ignored",
        _ when outcome.StartsWith("refused", StringComparison.Ordinal) => "refused",
        _ when outcome.StartsWith("failed", StringComparison.Ordinal) => "failed",
        _ => "handled",
    };

    public static readonly Counter Deliveries = Metrics.CreateCounter(
        "mergequeue_webhook_deliveries_total", "Webhook deliveries by event and outcome (accepted, duplicate; then handled, ignored, refused, rejected, failed, retried or dead).",
        "event", "outcome");


    public static readonly Counter Attempts = Metrics.CreateCounter(
        "mergequeue_attempts_total", "Merge attempts that ended, by outcome.", "outcome");

    public static readonly Counter Merges = Metrics.CreateCounter(
        "mergequeue_merged_pull_requests_total", "Pull requests merged by the queue.");

    public static readonly Counter PullRequestOutcomes = Metrics.CreateCounter(
        "mergequeue_pull_request_outcomes_total", "Requests that ended, by outcome.", "outcome");

    public static readonly Gauge QueueLength = Metrics.CreateGauge(
        "mergequeue_queue_length", "Active pull requests per repository and target branch.", "repository", "target");

    public static readonly Counter GitHubCalls = Metrics.CreateCounter(
        "mergequeue_github_calls_total", "Calls to GitHub's API (after retries), by operation and result.", "operation", "result");

    public static readonly Counter GitHubRetries = Metrics.CreateCounter(
        "mergequeue_github_retries_total", "Retried requests to GitHub (5xx, rate limits, timeouts), by operation.", "operation");

    public static readonly Counter PollTicks = Metrics.CreateCounter(
        "mergequeue_poll_ticks_total", "Poller runs.");

    public static readonly Counter Purged = Metrics.CreateCounter(
        "mergequeue_retention_purged_rows_total", "Rows the retention job deleted, by table (webhook_delivery, event_log, notification).", "table");

    public static readonly Counter NotificationTries = Metrics.CreateCounter(
        "mergequeue_notification_tries_total", "Notification delivery tries, by channel (webhook, slack) and outcome (delivered, retry, dead).", "channel", "outcome");
}
