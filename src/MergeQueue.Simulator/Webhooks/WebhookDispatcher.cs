using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator.Webhooks;

/// <summary>
/// Delivers webhook events in the background, one ordered queue per hook (as GitHub's hookshot
/// does per hook), with GitHub's headers and signatures, and records every delivery and its answer.
/// Faults (dropped events, duplicates, shuffled order) can be switched on for tests.
/// </summary>
public sealed class WebhookDispatcher : IAsyncDisposable
{
    private sealed record Job(DeliveryInfo Delivery, SimHook Hook, int Index);

    private readonly HttpClient http;
    private readonly TimeProvider time;
    private readonly CancellationTokenSource stopping = new();
    private readonly ConcurrentDictionary<long, Channel<Job>> queues = new();
    private readonly List<Task> consumers = [];
    private readonly object sync = new();
    private readonly List<DeliveryInfo> deliveries = [];
    private readonly Dictionary<long, SimHook> hooksById = [];
    private long sequence;
    private int pending;
    private WebhookFaults faults = new();
    private Random shuffleRandom = new(0);
    private static readonly string HookshotVersion = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();

    public WebhookDispatcher(TimeProvider time, HttpMessageHandler? handler = null)
    {
        this.time = time;
        http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(1) }) { Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>Deliveries queued or in flight.</summary>
    public int Pending => Volatile.Read(ref pending);

    public void SetFaults(WebhookFaults value)
    {
        lock (sync)
        {
            faults = value;
            shuffleRandom = new Random(value.Seed);
        }
    }

    public WebhookFaults Faults
    {
        get { lock (sync) return faults; }
    }

    public IReadOnlyList<DeliveryInfo> Deliveries()
    {
        lock (sync) return deliveries.ToList();
    }

    /// <summary>Queues one event for one hook. Order of calls is the delivery order for that hook.</summary>
    public void Enqueue(SimHook hook, string eventName, string? action, string? repository, string payload)
    {
        WebhookFaults f;
        lock (sync)
        {
            f = faults;
            hooksById[hook.Id] = hook;
        }
        var delivery = new DeliveryInfo(0, Guid.NewGuid(), hook.Id, hook.Url, eventName, action, repository, payload, null, null,
            Dropped: f.DropEvents?.Contains(eventName) == true, Redelivery: false, time.GetUtcNow(), null);
        if (delivery.Dropped)
        {
            Record(delivery);
            return;
        }
        Send(hook, delivery);
        // A duplicate carries the same delivery id, as GitHub's own duplicates do.
        if (f.Duplicate) Send(hook, delivery);
    }

    /// <summary>Sends a recorded delivery again with the same X-GitHub-Delivery, as GitHub's "Redeliver" does.</summary>
    public DeliveryInfo Redeliver(Guid id)
    {
        DeliveryInfo original;
        SimHook hook;
        lock (sync)
        {
            original = deliveries.LastOrDefault(d => d.Id == id) ?? throw new KeyNotFoundException("no delivery " + id);
            hook = hooksById[original.HookId];
        }
        var again = original with { StatusCode = null, Error = null, Dropped = false, Redelivery = true, QueuedAt = time.GetUtcNow(), DeliveredAt = null };
        return Send(hook, again);
    }

    private DeliveryInfo Send(SimHook hook, DeliveryInfo delivery)
    {
        var recorded = Record(delivery);
        Interlocked.Increment(ref pending);
        var queue = queues.GetOrAdd(hook.Id, _ => StartQueue());
        queue.Writer.TryWrite(new Job(recorded, hook, 0));
        return recorded;
    }

    private DeliveryInfo Record(DeliveryInfo delivery)
    {
        lock (sync)
        {
            var recorded = delivery with { Sequence = ++sequence };
            deliveries.Add(recorded);
            return recorded;
        }
    }

    private Channel<Job> StartQueue()
    {
        var channel = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
        lock (sync) consumers.Add(Task.Run(() => ConsumeAsync(channel.Reader)));
        return channel;
    }

    private async Task ConsumeAsync(ChannelReader<Job> reader)
    {
        var ct = stopping.Token;
        try
        {
            while (await reader.WaitToReadAsync(ct))
            {
                var batch = new List<Job>();
                int window;
                lock (sync) window = Math.Max(1, faults.ShuffleWindow);
                while (batch.Count < window && reader.TryRead(out var job)) batch.Add(job);
                if (window > 1 && batch.Count < window)
                {
                    // Give events that belong together (a push and its synchronize) a moment to arrive, so there is something to shuffle.
                    await Task.Delay(15, ct);
                    while (batch.Count < window && reader.TryRead(out var job)) batch.Add(job);
                }
                if (batch.Count > 1)
                {
                    lock (sync) shuffleRandom.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batch));
                }
                foreach (var job in batch)
                {
                    try
                    {
                        await DeliverAsync(job, ct);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref pending);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task DeliverAsync(Job job, CancellationToken ct)
    {
        var d = job.Delivery;
        var body = Encoding.UTF8.GetBytes(d.Payload);
        using var request = new HttpRequestMessage(HttpMethod.Post, job.Hook.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("User-Agent", "GitHub-Hookshot/" + HookshotVersion);
        request.Headers.Add("X-GitHub-Event", d.Event);
        request.Headers.Add("X-GitHub-Delivery", d.Id.ToString());
        request.Headers.Add("X-GitHub-Hook-ID", d.HookId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("X-GitHub-Hook-Installation-Target-Type", job.Hook.Repository is null ? "integration" : "repository");
        if (!string.IsNullOrEmpty(job.Hook.Secret))
        {
            request.Headers.Add("X-Hub-Signature-256", Signature("sha256", job.Hook.Secret, body));
            request.Headers.Add("X-Hub-Signature", Signature("sha1", job.Hook.Secret, body));
        }
        int? status = null;
        string? error = null;
        try
        {
            using var response = await http.SendAsync(request, ct);
            status = (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            error = e.Message;
        }
        lock (sync)
        {
            var i = deliveries.FindIndex(x => x.Sequence == d.Sequence);
            if (i >= 0) deliveries[i] = deliveries[i] with { StatusCode = status, Error = error, DeliveredAt = time.GetUtcNow() };
        }
    }

    /// <summary>GitHub's signature header value: "sha256=" + lowercase hex HMAC of the raw body.</summary>
    public static string Signature(string algorithm, string secret, byte[] body)
    {
        var key = Encoding.UTF8.GetBytes(secret);
        var mac = algorithm == "sha1" ? HMACSHA1.HashData(key, body) : HMACSHA256.HashData(key, body);
        return algorithm + "=" + Convert.ToHexString(mac).ToLowerInvariant();
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        foreach (var q in queues.Values) q.Writer.TryComplete();
        Task[] all;
        lock (sync) all = consumers.ToArray();
        try
        {
            await Task.WhenAll(all).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // Deliveries to an unresponsive receiver are abandoned at shutdown.
        }
        http.Dispose();
        stopping.Dispose();
    }
}
