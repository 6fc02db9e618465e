using System.Text.Json;
using MergeQueue.Core.Ports;
using MergeQueue.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Quartz;

namespace MergeQueue.Service.Cluster;

/// <summary>
/// What lets several instances share one database (docs/operations.md, "Scaling out"): membership and
/// leases, the repository lock in the database, data protection keys every instance can read, and
/// (PostgreSQL) Quartz's clustered job store, so the poll runs once per interval across the cluster.
/// </summary>
public static class ClusterSetup
{
    public static void AddCluster(this IServiceCollection services, ServiceOptions options)
    {
        services.AddSingleton(sp => new ClusterStore(sp.GetRequiredService<Database>(), TimeProvider.System));
        services.AddSingleton<ClusterMember>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterMember>());
        services.AddSingleton<IRepoLocks>(sp => sp.GetRequiredService<Database>() is PostgresDatabase postgres
            ? new PostgresRepoLocks(postgres)
            : new InProcessRepoLocks());

        services.AddDataProtection().SetApplicationName("MergeQueue");
        // Without a webhook secret (setup mode) there is nothing to encrypt the keys with: ASP.NET's default store.
        if (options.GitHub.WebhookSecret is { Length: > 0 } secret)
            services.AddSingleton<IConfigureOptions<KeyManagementOptions>>(sp => new ConfigureOptions<KeyManagementOptions>(o =>
                o.XmlRepository = new DatabaseKeyRepository(sp.GetRequiredService<Database>(), secret, TimeProvider.System,
                    sp.GetRequiredService<ILogger<DatabaseKeyRepository>>())));
    }

    /// <summary>With PostgreSQL, Quartz keeps its schedule there and the instances share it (clustered); with SQLite, in memory.</summary>
    public static void UseClusteredStore(this IQuartzBuilder quartz, ServiceOptions options, string connectionString)
    {
        if (!options.Database.Provider.Equals("postgres", StringComparison.OrdinalIgnoreCase)) return;
        quartz.ConfigureScheduler(o =>
        {
            o.InstanceName = "mergequeue"; // the cluster: every instance's scheduler has this name
            o.InstanceId = options.Cluster.InstanceId!;
        });
        quartz.UsePersistentStore(store =>
        {
            store.UsePostgres(connectionString);
            store.UseSystemTextJsonSerializer();
            store.UseClustering(c =>
            {
                c.CheckinInterval = options.Cluster.Heartbeat;
                c.CheckinMisfireThreshold = options.Cluster.LeaseTimeout;
            });
            // Quartz creates its qrtz_* tables when missing (ServiceHost.MigrateAsync lets one instance at a time do it).
            store.ProvisionSchema();
        });
    }

    /// <summary>
    /// <c>/healthz</c>: the database check, this instance's id, and its view of the cluster (every live
    /// instance, and how many leases and locks each holds; no repository names, as it answers anyone).
    /// </summary>
    public static async Task WriteHealthAsync(HttpContext http, HealthReport report)
    {
        var member = http.RequestServices.GetRequiredService<ClusterMember>();
        var database = http.RequestServices.GetRequiredService<Database>();
        object? cluster = null;
        if (report.Status == HealthStatus.Healthy)
        {
            try
            {
                var leases = await member.LeasesAsync(http.RequestAborted);
                var locks = await member.LocksAsync(http.RequestAborted);
                cluster = (await member.LiveInstancesAsync(http.RequestAborted)).Select(i => new
                {
                    id = i.Id,
                    host = i.Host,
                    startedAt = i.StartedAt,
                    heartbeatAt = i.HeartbeatAt,
                    leases = leases.Count(l => l.Holder == i.Id),
                    locks = locks.Count(l => l.Holder == i.Id),
                }).ToList();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                cluster = $"unavailable: {e.GetType().Name}";
            }
        }
        http.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(http.Response.Body, new
        {
            status = report.Status.ToString(),
            instance = member.InstanceId,
            provider = database.Provider,
            instances = cluster,
        }, cancellationToken: http.RequestAborted);
    }
}
