using Dapper;
using MergeQueue.Data;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace MergeQueue.Service;

/// <summary><c>/healthz</c>: the process answers and the database can be read.</summary>
public sealed class DatabaseHealthCheck(Database database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await using var connection = await database.OpenAsync(ct);
            await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations");
            return HealthCheckResult.Healthy();
        }
        catch (Exception e)
        {
            return HealthCheckResult.Unhealthy("database unavailable", e);
        }
    }
}
