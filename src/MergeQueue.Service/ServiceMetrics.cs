using Prometheus;

namespace MergeQueue.Service;

/// <summary>The Prometheus metrics at <c>/metrics</c>.</summary>
public static class ServiceMetrics
{
    public static readonly Counter Deliveries = Metrics.CreateCounter(
        "mergequeue_webhook_deliveries_total", "Webhook deliveries by event and outcome: accepted, duplicate, then handled, rejected, failed, retried or dead.",
        "event", "outcome");

    /// <summary>Events the service handles, and <c>ping</c>: any other name is counted as <c>other</c>, so the labels stay few.</summary>
    private static readonly HashSet<string> KnownEvents =
        ["ping", "pull_request", "pull_request_review", "issue_comment", "status", "check_run", "check_suite", "push", "installation", "installation_repositories"];

    /// <summary>The <c>event</c> label for a delivery's <c>X-GitHub-Event</c>: a fixed set.</summary>
    public static string EventLabel(string eventName) => KnownEvents.Contains(eventName) ? eventName : "other";

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
}
