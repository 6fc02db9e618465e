using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MergeQueue.EndToEnd.Tests.Cluster;

/// <summary>
/// A load balancer for the cluster tests: forwards each request to the next instance in turn, and to
/// the one after when an instance does not answer (dead), as a reverse proxy with passive health
/// checks does. Counts what each instance was given.
/// </summary>
public sealed class RoundRobinProxy : IAsyncDisposable
{
    private readonly Uri[] _backends;
    private readonly int[] _forwarded;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly WebApplication _app;
    private int _next;

    public RoundRobinProxy(IReadOnlyList<Uri> backends)
    {
        _backends = [.. backends];
        _forwarded = new int[_backends.Length];
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.Run(ForwardAsync);
    }

    public Uri Url { get; private set; } = null!;

    /// <summary>Requests each backend answered, by index.</summary>
    public IReadOnlyList<int> Forwarded => [.. Enumerable.Range(0, _forwarded.Length).Select(i => Volatile.Read(ref _forwarded[i]))];

    public async Task StartAsync()
    {
        await _app.StartAsync();
        Url = new Uri(_app.Urls.First() + "/");
    }

    private async Task ForwardAsync(HttpContext http)
    {
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        for (var tries = 0; tries < _backends.Length; tries++)
        {
            var index = (int)((uint)Interlocked.Increment(ref _next) % (uint)_backends.Length);
            using var request = new HttpRequestMessage(new HttpMethod(http.Request.Method), new Uri(_backends[index], http.Request.Path + http.Request.QueryString))
            {
                Content = new ByteArrayContent(bytes),
            };
            foreach (var (name, values) in http.Request.Headers)
            {
                if (name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
                if (!request.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!))
                    request.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string>)values!);
            }
            try
            {
                using var response = await _http.SendAsync(request, http.RequestAborted);
                Interlocked.Increment(ref _forwarded[index]);
                http.Response.StatusCode = (int)response.StatusCode;
                await response.Content.CopyToAsync(http.Response.Body);
                return;
            }
            catch (HttpRequestException)
            {
                // Not answering (killed): the next one.
            }
        }
        http.Response.StatusCode = StatusCodes.Status502BadGateway;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _http.Dispose();
    }
}
