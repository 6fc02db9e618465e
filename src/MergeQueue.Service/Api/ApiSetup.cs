using System.Threading.RateLimiting;
using MergeQueue.Data;

namespace MergeQueue.Service.Api;

/// <summary>
/// The REST API's plumbing: keys and switches, problem details, the per-key rate limiter and the
/// OpenAPI document. The endpoints are in <see cref="ApiEndpoints"/>.
/// </summary>
public static class ApiSetup
{
    public const string Prefix = "/api/v1";

    public static IServiceCollection AddApi(this IServiceCollection services, ServiceOptions.ApiOptions options)
    {
        services.AddSingleton(sp => new ApiKeyStore(sp.GetRequiredService<Database>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ApiKeyAuthenticator>();
        services.AddSingleton<RepoSwitches>();
        services.AddSingleton<EnabledRepoConfigs>();
        services.AddProblemDetails();
        services.AddOpenApi();
        var perMinute = options.RequestsPerMinute;
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            // Only /api/v1 is limited (but for the runner API), per key (a hash of the presented key, so unknown keys share nothing with real ones).
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                // Runner keys are not limited: a runner's heartbeats and log lines must get through (a wrong key is still blocked by the failed-attempts limit).
                if (!context.Request.Path.StartsWithSegments(Prefix) || context.Request.Path.StartsWithSegments(Prefix + "/runner")) return RateLimitPartition.GetNoLimiter("");
                var key = ApiKeyAuthenticator.BearerKey(context.Request);
                var partition = key is null ? "anonymous:" + context.Connection.RemoteIpAddress : "key:" + ApiKeyStore.Hash(key);
                return RateLimitPartition.GetFixedWindowLimiter(partition, _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = perMinute,
                    Window = TimeSpan.FromMinutes(1),
                    QueueLimit = 0,
                });
            });
            o.OnRejected = async (context, ct) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                        detail: $"At most {perMinute} requests a minute per key; retry in {seconds} s.")
                    .ExecuteAsync(context.HttpContext);
            };
        });
        return services;
    }

    /// <summary>Rate limiting, problem details for bare error statuses under /api/v1, the endpoints and <c>/openapi/v1.json</c>.</summary>
    public static WebApplication UseApi(this WebApplication app)
    {
        app.UseRateLimiter();
        // A 404 for an unknown path, a 405, or an error without a body becomes problem details, under /api/v1 only.
        app.UseWhen(context => context.Request.Path.StartsWithSegments(Prefix), branch =>
        {
            branch.UseExceptionHandler();
            branch.UseStatusCodePages();
        });
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapApiEndpoints();
        return app;
    }
}
