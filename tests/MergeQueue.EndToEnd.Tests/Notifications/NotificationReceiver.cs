using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MergeQueue.EndToEnd.Tests.Notifications;

/// <summary>One POST the receiver got, and what it answered.</summary>
public sealed record ReceivedNotification(string Path, IReadOnlyDictionary<string, string> Headers, string Body, int Answered)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// A tiny HTTP receiver on 127.0.0.1 standing in for an outgoing webhook's and Slack's endpoints:
/// records every POST, and answers 500 to the next <see cref="FailNext"/> requests.
/// </summary>
public sealed class NotificationReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _failures;

    private NotificationReceiver(WebApplication app) => _app = app;

    public ConcurrentQueue<ReceivedNotification> Received { get; } = new();
    public Uri Url { get; private set; } = null!;

    public static async Task<NotificationReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new NotificationReceiver(app);
        app.MapPost("/{**path}", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync();
            var status = Interlocked.Decrement(ref receiver._failures) >= 0 ? 500 : 200;
            if (status == 200) Interlocked.Exchange(ref receiver._failures, 0);
            receiver.Received.Enqueue(new ReceivedNotification(http.Request.Path, http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, status));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        receiver.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
        return receiver;
    }

    /// <summary>The next <paramref name="count"/> requests are answered 500.</summary>
    public void FailNext(int count) => Interlocked.Exchange(ref _failures, count);

    /// <summary>Accepted messages to one path, in the order they came.</summary>
    public IReadOnlyList<ReceivedNotification> Accepted(string path) => Received.Where(r => r.Path == path && r.Answered == 200).ToList();

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
