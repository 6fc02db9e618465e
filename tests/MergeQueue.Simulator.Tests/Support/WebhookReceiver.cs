using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace MergeQueue.Simulator.Tests.Support;

/// <summary>One webhook as a receiver saw it.</summary>
public sealed record ReceivedWebhook(string Event, string Delivery, string? HookId, string? Signature256, string? UserAgent, string? ContentType, byte[] Body, bool SignatureValid)
{
    public JsonObject Payload => JsonNode.Parse(Body)!.AsObject();
    public string? Action => Payload["action"]?.GetValue<string>();
}

/// <summary>
/// A small webhook receiver on a free loopback port that verifies X-Hub-Signature-256 as a real
/// service must (HMAC-SHA256 of the raw body, constant-time compare) and answers 403 when it fails.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private HttpListener listener;
    private readonly string secret;
    private readonly Task loop;

    public WebhookReceiver(string secret, HttpStatusCode answer = HttpStatusCode.OK)
    {
        this.secret = secret;
        Answer = answer;
        // The probed port can be taken again before HttpListener binds it; probe anew then.
        for (var attempt = 0; ; attempt++)
        {
            Url = $"http://127.0.0.1:{FreePort()}/hooks/";
            listener = new HttpListener();
            listener.Prefixes.Add(Url);
            try
            {
                listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                listener.Close();
            }
        }
        loop = Task.Run(LoopAsync);
    }

    public string Url { get; private set; }
    public HttpStatusCode Answer { get; set; }
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private async Task LoopAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using var body = new MemoryStream();
            await ctx.Request.InputStream.CopyToAsync(body);
            var bytes = body.ToArray();
            var signature = ctx.Request.Headers["X-Hub-Signature-256"];
            var valid = Verify(bytes, signature);
            Received.Enqueue(new ReceivedWebhook(ctx.Request.Headers["X-GitHub-Event"] ?? "", ctx.Request.Headers["X-GitHub-Delivery"] ?? "", ctx.Request.Headers["X-GitHub-Hook-ID"],
                signature, ctx.Request.UserAgent, ctx.Request.ContentType, bytes, valid));
            ctx.Response.StatusCode = valid ? (int)Answer : 403;
            ctx.Response.Close();
        }
    }

    private bool Verify(byte[] body, string? header)
    {
        if (header is null || !header.StartsWith("sha256=", StringComparison.Ordinal)) return false;
        var expected = Encoding.ASCII.GetBytes("sha256=" + Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body)).ToLowerInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(header));
    }

    public async ValueTask DisposeAsync()
    {
        listener.Stop();
        listener.Close();
        await loop;
    }
}
