using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace MergeQueue.Cli;

/// <summary>The REST API as the CLI sees it: raw JSON in, raw JSON out, every failure as an <see cref="ApiException"/>.</summary>
public sealed class ApiClient : IDisposable
{
    private static readonly JsonSerializerOptions Camel = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;
    private readonly Uri _server;

    public ApiClient(Uri server, string key, TimeSpan timeout)
    {
        _server = server;
        _http = new HttpClient { BaseAddress = new Uri(server.ToString().TrimEnd('/') + "/api/v1/"), Timeout = timeout };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    public Task<string> GetAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Get, path, null, ct);

    public Task<string> PostAsync(string path, object? body, CancellationToken ct) => SendAsync(HttpMethod.Post, path, body, ct);

    public Task<string> PutAsync(string path, object body, CancellationToken ct) => SendAsync(HttpMethod.Put, path, body, ct);

    public Task<string> DeleteAsync(string path, CancellationToken ct) => SendAsync(HttpMethod.Delete, path, null, ct);

    private async Task<string> SendAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
            request.Content = new StringContent(JsonSerializer.Serialize(body, Camel), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException($"cannot reach the server at {_server}: {e.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ApiException($"the server at {_server} did not answer within {_http.Timeout.TotalSeconds:0} s");
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode) return text;
            throw new ApiException(Describe(response, text));
        }
    }

    /// <summary>One line from an RFC 7807 problem document: status, title and detail.</summary>
    private static string Describe(HttpResponseMessage response, string text)
    {
        var status = (int)response.StatusCode;
        string? title = null, detail = null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (doc.RootElement.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String) title = t.GetString();
                if (doc.RootElement.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String) detail = d.GetString();
            }
        }
        catch (JsonException)
        {
            // not a problem document: fall back to the status line
        }
        title ??= response.ReasonPhrase ?? ((HttpStatusCode)status).ToString();
        var line = $"{status} {title}";
        if (!string.IsNullOrWhiteSpace(detail)) line += $": {detail}";
        if (status == 429 && response.Headers.RetryAfter?.Delta is { } wait) line += $" (retry after {wait.TotalSeconds:0} s)";
        return line;
    }

    public void Dispose() => _http.Dispose();
}
