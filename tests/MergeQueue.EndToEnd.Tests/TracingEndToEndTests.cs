using System.Collections.Concurrent;
using System.Diagnostics;
using MergeQueue.Core;
using MergeQueue.Service;
using MergeQueue.Service.Webhooks;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>Traces (docs/operations.md): one per delivery, with the flows and GitHub calls it caused.</summary>
[CancelAfter(120_000)]
public class TracingEndToEndTests
{
    /// <summary>Records the service's spans in this process, as an OpenTelemetry SDK would sample them.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly ActivityListener _listener;

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == Tracing.SourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = Spans.Add,
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public ConcurrentBag<Activity> Spans { get; } = [];

        public void Dispose() => _listener.Dispose();
    }

    private static async Task<string> LastDeliveryIdAsync(ServiceTester t, string eventName)
    {
        await using var connection = new SqliteConnection($"Data Source={t.DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT delivery_id FROM webhook_delivery WHERE event = $event ORDER BY id DESC LIMIT 1";
        command.Parameters.AddWithValue("$event", eventName);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>A service with one approved PR whose merge command (the only comment) has been handled.</summary>
    private static async Task<ServiceTester> MergeRequestedAsync()
    {
        var t = await ServiceTester.StartAsync();
        await t.ApproveAndMergeAsync(await t.OpenPrAsync());
        await t.SettleAsync();
        return t;
    }

    [Test]
    public async Task MergeCommandDelivery_IsOneTrace_WithTheFlowAndItsGitHubCalls()
    {
        using var recorder = new SpanRecorder();
        await using var t = await MergeRequestedAsync();
        var deliveryId = await LastDeliveryIdAsync(t, "issue_comment");

        // The root span ends just after the delivery is marked handled, which is what SettleAsync waits for.
        Activity? root = null;
        for (var i = 0; i < 100 && root is null; i++, await Task.Delay(50))
            root = recorder.Spans.SingleOrDefault(s => s.OperationName == DeliveryTracing.SpanName && (string?)s.GetTagItem("mergequeue.delivery.id") == deliveryId);
        root.Should().NotBeNull("the merge command's delivery is traced");
        root!.Parent.Should().BeNull();
        root.ParentSpanId.Should().Be(default(ActivitySpanId), "a delivery starts a trace of its own");
        root.GetTagItem("mergequeue.delivery.event").Should().Be("issue_comment");
        root.GetTagItem("mergequeue.repository").Should().Be(ServiceTester.Repo);

        var trace = recorder.Spans.Where(s => s.TraceId == root.TraceId).ToArray();
        var names = trace.OrderBy(s => s.StartTimeUtc).Select(s => s.OperationName).ToArray();
        TestContext.Out.WriteLine(string.Join(", ", names));
        names.Should().Contain("flow Request").And.Contain("github get-pull-request");
        names.Count(x => x == DeliveryTracing.SpanName).Should().Be(1, "one delivery, one root");
        var flow = trace.Single(s => s.OperationName == "flow Request");
        flow.GetTagItem("mergequeue.repository").Should().Be(ServiceTester.Repo);
        trace.Where(s => s.OperationName.StartsWith("github ", StringComparison.Ordinal) && IsUnder(s, flow)).Should()
            .NotBeEmpty("the flow's GitHub calls are its children");
        trace.Where(s => s != root).Should().OnlyContain(s => IsUnder(s, root), "every span of the trace hangs under the delivery");

        // Ids and names only: never the comment's text, the webhook secret or the token.
        var values = trace.SelectMany(s => s.TagObjects).Select(tag => tag.Value?.ToString() ?? "").ToArray();
        values.Should().NotContain(v => v.Contains("@mergequeue", StringComparison.Ordinal) || v.Contains(ServiceTester.Secret, StringComparison.Ordinal)
            || v.Contains(t.BotToken, StringComparison.Ordinal));

        // Another delivery is another trace.
        recorder.Spans.Where(s => s.OperationName == DeliveryTracing.SpanName).Select(s => s.TraceId).Should().OnlyHaveUniqueItems();
    }

    private static bool IsUnder(Activity span, Activity ancestor)
    {
        for (var s = span.Parent; s is not null; s = s.Parent)
            if (s == ancestor) return true;
        return false;
    }

    [Test]
    public async Task PollTick_IsATraceWithItsFlows()
    {
        using var recorder = new SpanRecorder();
        await using var t = await MergeRequestedAsync();

        await t.TickAsync();

        var tick = recorder.Spans.Should().ContainSingle(s => s.OperationName == "poll tick").Subject;
        tick.ParentSpanId.Should().Be(default(ActivitySpanId));
        recorder.Spans.Where(s => s.TraceId == tick.TraceId).Select(s => s.OperationName).Should().Contain("flow Poll");
    }

    [TestCase(null, false)]
    [TestCase("http://127.0.0.1:4318", true)]
    public async Task OtlpExporter_OnlyWithAnEndpoint(string? endpoint, bool configured)
    {
        await using var app = ServiceHost.Build([], new Dictionary<string, string?>
        {
            ["MergeQueue:GitHub:Token"] = "t",
            ["MergeQueue:GitHub:WebhookSecret"] = "s",
            [TracingSetup.EndpointSetting] = endpoint,
        });
        (app.Services.GetService<TracerProvider>() is not null).Should().Be(configured);
    }
}
