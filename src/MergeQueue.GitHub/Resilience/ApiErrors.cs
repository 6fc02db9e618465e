using System.Net;
using Octokit;

namespace MergeQueue.GitHub.Resilience;

/// <summary>Reads GitHub's error bodies, whose message text is the only way to tell some 422s apart.</summary>
internal static class ApiErrors
{
    public const string ReferenceAlreadyExists = "Reference already exists";
    public const string ReferenceDoesNotExist = "Reference does not exist";
    public const string NotAFastForward = "not a fast forward";

    /// <summary>The top-level message and every detail message, joined, for substring tests.</summary>
    public static string Text(ApiException exception)
    {
        var parts = new List<string>();
        if (exception.ApiError?.Message is { Length: > 0 } message) parts.Add(message);
        if (exception.ApiError?.Errors is { } errors)
            parts.AddRange(errors.Select(e => e.Message).OfType<string>());
        if (parts.Count == 0 && exception.HttpResponse?.Body is string body) parts.Add(body);
        return string.Join(" | ", parts);
    }

    public static bool Says(ApiException exception, string text) =>
        Text(exception).Contains(text, StringComparison.OrdinalIgnoreCase);

    public static bool IsValidation(Exception exception, string text) =>
        exception is ApiException { StatusCode: HttpStatusCode.UnprocessableEntity } api && Says(api, text);
}
