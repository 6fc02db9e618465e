using MergeQueue.Data;
using Microsoft.Extensions.Options;
using Quartz;

namespace MergeQueue.Service.Jobs;

/// <summary>
/// The hourly purge of handled deliveries and event_log rows older than
/// <c>MergeQueue:Retention:MaxAge</c> (<see cref="RetentionPurge"/> says what is kept).
/// </summary>
[DisallowConcurrentExecution]
public sealed class RetentionJob(RetentionPurge purge, TimeProvider clock, IOptions<ServiceOptions> options, ILogger<RetentionJob> logger) : IJob
{
    public const string Name = "retention";
    public static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken = default)
    {
        var maxAge = options.Value.Retention.MaxAge;
        var purged = await purge.PurgeAsync(clock.GetUtcNow() - maxAge, cancellationToken);
        ServiceMetrics.Purged.WithLabels("webhook_delivery").Inc(purged.Deliveries);
        ServiceMetrics.Purged.WithLabels("event_log").Inc(purged.Events);
        ServiceMetrics.Purged.WithLabels("notification").Inc(purged.Notifications);
        ServiceMetrics.Purged.WithLabels("runner_job").Inc(purged.RunnerJobs);
        if (purged.Deliveries + purged.Events + purged.Notifications + purged.RunnerJobs > 0)
            logger.LogInformation("Retention: purged {Deliveries} deliveries, {Events} event log rows, {Notifications} notifications and {RunnerJobs} runner jobs older than {MaxAge}",
                purged.Deliveries, purged.Events, purged.Notifications, purged.RunnerJobs, maxAge);
    }
}
