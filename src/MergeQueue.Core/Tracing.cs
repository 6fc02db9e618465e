using System.Diagnostics;

namespace MergeQueue.Core;

/// <summary>
/// The one <see cref="ActivitySource"/> of the service (OpenTelemetry traces: docs/operations.md).
/// A BCL type, so Core stays free of I/O packages; with no listener (no OTLP endpoint) starting an
/// activity costs a null check. Spans carry ids and names only, never payloads, tokens or secrets.
/// </summary>
public static class Tracing
{
    public const string SourceName = "MergeQueue";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Starts a span that begins a trace of its own, whatever <see cref="Activity.Current"/> is.</summary>
    public static Activity? StartRoot(string name, ActivityKind kind = ActivityKind.Internal)
    {
        // Only this async flow's Activity.Current is cleared: the caller's is restored when the async method returns.
        Activity.Current = null;
        return Source.StartActivity(name, kind);
    }
}
