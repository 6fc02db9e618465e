using MergeQueue.Core;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MergeQueue.Service;

/// <summary>OpenTelemetry traces, exported over OTLP only when an endpoint is configured (docs/operations.md, "Traces").</summary>
public static class TracingSetup
{
    /// <summary>The standard OpenTelemetry variable; the exporter also reads its siblings (protocol, headers, timeout).</summary>
    public const string EndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static IServiceCollection AddTracing(this IServiceCollection services, IConfiguration configuration)
    {
        // Without an endpoint nothing listens to the source, and starting a span costs a null check.
        if (string.IsNullOrWhiteSpace(configuration[EndpointSetting])) return services;
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName: "mergequeue", serviceVersion: typeof(TracingSetup).Assembly.GetName().Version?.ToString()))
            .WithTracing(t => t.AddSource(Tracing.SourceName).AddOtlpExporter());
        return services;
    }
}
