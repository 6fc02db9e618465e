using System.Net;
using System.Text;

namespace MergeQueue.GitHub.Tests.Support;

/// <summary>
/// Sits between Octokit and the simulator and loses the answer to chosen requests after the
/// simulator has carried them out: the "applied, then 502" (or timeout) of a proxy in front of
/// GitHub. The simulator's own fault injection answers before applying, so it cannot do this.
/// </summary>
public sealed class DroppedResponses() : DelegatingHandler(new HttpClientHandler())
{
    private readonly List<(HttpMethod Method, string PathSuffix, Func<Exception?> Failure)> _drops = [];

    /// <summary>The next matching request is applied, then answered with 502 Bad Gateway.</summary>
    public void BadGatewayAfter(HttpMethod method, string pathSuffix)
    {
        lock (_drops) _drops.Add((method, pathSuffix, () => null));
    }

    /// <summary>The next matching request is applied, then times out (as HttpClient reports a timeout).</summary>
    public void TimeoutAfter(HttpMethod method, string pathSuffix)
    {
        lock (_drops) _drops.Add((method, pathSuffix, () => new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout", new TimeoutException())));
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        Func<Exception?>? failure = null;
        lock (_drops)
        {
            var index = _drops.FindIndex(d => d.Method == request.Method && request.RequestUri!.AbsolutePath.EndsWith(d.PathSuffix, StringComparison.Ordinal));
            if (index >= 0)
            {
                failure = _drops[index].Failure;
                _drops.RemoveAt(index);
            }
        }
        if (failure is null) return response;

        response.Dispose();
        if (failure() is { } exception) throw exception;
        return new HttpResponseMessage(HttpStatusCode.BadGateway)
        {
            Content = new StringContent("""{"message":"Server Error"}""", Encoding.UTF8, "application/json"),
        };
    }
}
