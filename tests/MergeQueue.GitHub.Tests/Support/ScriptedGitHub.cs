using System.Net;
using System.Text;

namespace MergeQueue.GitHub.Tests.Support;

/// <summary>
/// An HTTP handler that answers GitHub API requests from a script, so the adapter's retry and
/// reconcile logic can be driven through the real Octokit stack without a server. Routes match
/// method and path exactly; a route's last answer repeats; unrouted requests get 404.
/// </summary>
internal sealed class ScriptedGitHub : HttpMessageHandler
{
    private readonly List<Route> _routes = [];
    private readonly List<RecordedRequest> _requests = [];

    public IReadOnlyList<RecordedRequest> Requests
    {
        get { lock (_requests) return _requests.ToList(); }
    }

    public int Count(HttpMethod method, string path) => Requests.Count(r => r.Method == method && r.Path == path);

    public Route On(HttpMethod method, string path)
    {
        var route = new Route(method, path);
        lock (_routes) _routes.Add(route);
        return route;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath.TrimStart('/');
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        lock (_requests) _requests.Add(new RecordedRequest(request.Method, path, request.RequestUri.Query, body));
        Route? route;
        lock (_routes) route = _routes.LastOrDefault(r => r.Method == request.Method && r.Path == path);
        return route is null ? Json(HttpStatusCode.NotFound, """{"message":"Not Found"}""") : route.Next();
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string? json, IEnumerable<(string Name, string Value)>? headers = null)
    {
        var response = new HttpResponseMessage(status);
        if (json is not null) response.Content = new StringContent(json, Encoding.UTF8, "application/json");
        foreach (var (name, value) in headers ?? [])
            response.Headers.TryAddWithoutValidation(name, value);
        return response;
    }

    /// <summary>One scripted endpoint.</summary>
    internal sealed class Route(HttpMethod method, string path)
    {
        private readonly List<Func<HttpResponseMessage>> _answers = [];
        private int _next;

        public HttpMethod Method { get; } = method;
        public string Path { get; } = path;

        public Route Reply(HttpStatusCode status, string? json = null, params (string Name, string Value)[] headers)
        {
            _answers.Add(() => Json(status, json, headers));
            return this;
        }

        public Route Throw(Exception exception)
        {
            _answers.Add(() => throw exception);
            return this;
        }

        public HttpResponseMessage Next()
        {
            lock (_answers)
            {
                var answer = _answers[Math.Min(_next, _answers.Count - 1)];
                _next++;
                return answer();
            }
        }
    }
}

internal sealed record RecordedRequest(HttpMethod Method, string Path, string Query, string? Body);
