using System.Globalization;
using System.Net;
using Octokit;

namespace MergeQueue.GitHub.Resilience;

/// <summary>How a failed GitHub call should be treated.</summary>
internal enum FailureKind
{
    /// <summary>An answer that is a decision (404, 409, 422, 401, a real 403): retrying changes nothing.</summary>
    Final,
    /// <summary>A server error or transport failure: the request may or may not have been applied.</summary>
    Transient,
    /// <summary>A primary or secondary rate limit: the request was refused, not applied.</summary>
    RateLimited,
}

/// <summary>
/// A classified failure. <see cref="Ambiguous"/> means a write may have happened even though the
/// call failed, so a retry must look before it acts again. <see cref="ServerWait"/> is how long
/// GitHub asked us to wait (retry-after, or until x-ratelimit-reset), when it said.
/// </summary>
internal readonly record struct GitHubFailure(FailureKind Kind, bool Ambiguous, TimeSpan? ServerWait, string Reason)
{
    /// <summary>GitHub's reset time is in whole seconds and our clock may lag theirs: wait a little past it.</summary>
    internal static readonly TimeSpan ResetSkew = TimeSpan.FromSeconds(1);

    public static GitHubFailure Classify(Exception exception, DateTimeOffset now) => exception switch
    {
        ApiException api => ClassifyApi(api, now),
        // HttpClient's own timeout surfaces as TaskCanceledException (inner TimeoutException); the
        // caller's cancellation is filtered out before we get here.
        TimeoutException or TaskCanceledException =>
            new(FailureKind.Transient, Ambiguous: true, null, "timeout"),
        HttpRequestException http =>
            new(FailureKind.Transient, Ambiguous: true, null, $"transport: {http.Message}"),
        IOException io =>
            new(FailureKind.Transient, Ambiguous: true, null, $"transport: {io.Message}"),
        _ => new(FailureKind.Final, Ambiguous: false, null, exception.GetType().Name),
    };

    private static GitHubFailure ClassifyApi(ApiException api, DateTimeOffset now)
    {
        var status = (int)api.StatusCode;
        var headers = api.HttpResponse?.Headers;
        var retryAfter = RetryAfter(headers, now);

        if (status is 403 or 429)
        {
            var message = ApiErrors.Text(api);
            var remaining = Header(headers, "x-ratelimit-remaining");
            if (remaining == "0")
            {
                // Primary limit: nothing succeeds before the window resets, so wait for the reset.
                var reset = Reset(headers);
                var wait = retryAfter ?? (reset is { } r ? Max(r - now + ResetSkew, TimeSpan.Zero) : (TimeSpan?)null);
                return new(FailureKind.RateLimited, false, wait, $"{status} primary rate limit");
            }
            if (retryAfter is not null || status == 429
                || message.Contains("secondary rate limit", StringComparison.OrdinalIgnoreCase)
                || message.Contains("rate limit", StringComparison.OrdinalIgnoreCase)
                || message.Contains("abuse", StringComparison.OrdinalIgnoreCase))
                return new(FailureKind.RateLimited, false, retryAfter, $"{status} secondary rate limit");
            // A 403 without any rate-limit sign is a real permission refusal.
            return new(FailureKind.Final, false, null, $"{status} forbidden");
        }

        // 501 Not Implemented is a decision of the server, not a hiccup.
        if (status >= 500 && status != 501)
            return new(FailureKind.Transient, Ambiguous: true, retryAfter, $"{status} server error");

        return new(FailureKind.Final, false, null, $"{status} {api.StatusCode}");
    }

    internal static string? Header(IReadOnlyDictionary<string, string>? headers, string name)
    {
        if (headers is null) return null;
        // Octokit copies headers into an ordinal dictionary; HTTP header names are case-insensitive.
        foreach (var (key, value) in headers)
            if (string.Equals(key, name, StringComparison.OrdinalIgnoreCase))
                return value?.Trim();
        return null;
    }

    private static TimeSpan? RetryAfter(IReadOnlyDictionary<string, string>? headers, DateTimeOffset now)
    {
        var value = Header(headers, "retry-after");
        if (string.IsNullOrEmpty(value)) return null;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
            return TimeSpan.FromSeconds(seconds);
        // RFC 9110 also allows an HTTP-date.
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            return Max(at - now, TimeSpan.Zero);
        return null;
    }

    private static DateTimeOffset? Reset(IReadOnlyDictionary<string, string>? headers) =>
        long.TryParse(Header(headers, "x-ratelimit-reset"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var epoch)
            ? DateTimeOffset.FromUnixTimeSeconds(epoch)
            : null;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>For logs: the status of an Octokit failure, when there is one.</summary>
    internal static HttpStatusCode? StatusOf(Exception exception) => (exception as ApiException)?.StatusCode;
}

/// <summary>For callers above the adapter: whether a failed call means GitHub was unavailable.</summary>
public static class GitHubErrors
{
    /// <summary>
    /// True when <paramref name="exception"/> is GitHub being down, slow or rate limiting (trying later
    /// may succeed), not a decision such as a 404 or 422; <paramref name="wait"/> is how long GitHub
    /// asked us to wait, when it said.
    /// </summary>
    public static bool IsUnavailable(Exception exception, DateTimeOffset now, out TimeSpan? wait)
    {
        var failure = GitHubFailure.Classify(exception, now);
        wait = failure.ServerWait;
        return failure.Kind != FailureKind.Final;
    }

    /// <summary>GitHub answered with a decision (a 404, a 422, a real 403): handling the same request again gets the same answer.</summary>
    public static bool IsRefusal(Exception exception) =>
        exception is ApiException && GitHubFailure.Classify(exception, DateTimeOffset.UtcNow).Kind == FailureKind.Final;

    /// <summary>A failure in a few words for an operator: GitHub's status and message, or the exception's type and message.</summary>
    public static string Describe(Exception exception) => exception is ApiException api
        ? $"GitHub answered {(int)api.StatusCode}: {ApiErrors.Text(api)}"
        : $"{exception.GetType().Name}: {exception.Message}";
}
