using Prometheus;

namespace MergeQueue.Service;

/// <summary>The Prometheus metrics at <c>/metrics</c>.</summary>
public static class ServiceMetrics
{
    public static readonly Counter Deliveries = Metrics.CreateCounter(
        "mergequeue_webhook_deliveries_total", "Webhook deliveries by event and outcome (accepted, duplicate, then the processing outcome).",
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
}
