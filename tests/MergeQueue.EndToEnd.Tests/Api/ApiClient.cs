using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace MergeQueue.EndToEnd.Tests.Api;

/// <summary>A small client of <c>/api/v1</c> for the tests: one key, JSON in and out.</summary>
public sealed class ApiClient(Uri serviceUrl, string? key) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = serviceUrl };

    public string? Key => key;

    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, object? body = null, string? rawBody = null)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is not null) request.Content = JsonContent.Create(body);
        if (rawBody is not null) request.Content = new StringContent(rawBody, System.Text.Encoding.UTF8, "application/json");
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new ApiResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, text,
            response.Headers.RetryAfter?.Delta, response.Headers.WwwAuthenticate.ToString())
        {
            Link = response.Headers.TryGetValues("Link", out var link) ? string.Join(", ", link) : null,
        };
    }

    public Task<ApiResponse> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<ApiResponse> PostAsync(string path, object? body = null) => SendAsync(HttpMethod.Post, path, body);

    public void Dispose() => _http.Dispose();
}

public sealed record ApiResponse(HttpStatusCode Status, string? ContentType, string Body, TimeSpan? RetryAfter, string WwwAuthenticate)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    /// <summary>The <c>Link</c> header (paging), or null.</summary>
    public string? Link { get; init; }

    public override string ToString() => $"{(int)Status} {ContentType} {Body}";
}
