using System.Net;
using MergeQueue.GitHub.Resilience;
using MergeQueue.GitHub.Tests.Support;
using Octokit;
using Octokit.Internal;

namespace MergeQueue.GitHub.Tests.Resilience;

/// <summary>
/// The retry classification of what Octokit really throws for each GitHub answer (the answers go
/// through Octokit's own error handling, so its exception subtypes are the real ones).
/// </summary>
public sealed class GitHubFailureTests
{
    private static readonly DateTimeOffset Now = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [TestCase(500)]
    [TestCase(502)]
    [TestCase(503)]
    [TestCase(504)]
    public async Task ServerError_IsTransientAndAmbiguous(int status)
    {
        var failure = await Classify((HttpStatusCode)status, """{"message":"Server Error"}""");

        failure.Kind.Should().Be(FailureKind.Transient);
        failure.Ambiguous.Should().BeTrue("a 5xx may come after the write was applied");
    }

    [TestCase(401, """{"message":"Bad credentials"}""")]
    [TestCase(403, """{"message":"Resource not accessible by integration"}""")]
    [TestCase(404, """{"message":"Not Found"}""")]
    [TestCase(409, """{"message":"Merge conflict"}""")]
    [TestCase(422, """{"message":"Update is not a fast forward"}""")]
    [TestCase(422, """{"message":"Reference already exists"}""")]
    [TestCase(501, """{"message":"Not Implemented"}""")]
    public async Task Decision_IsFinal(int status, string body)
    {
        var failure = await Classify((HttpStatusCode)status, body);

        failure.Kind.Should().Be(FailureKind.Final);
    }

    [TestCase(403)]
    [TestCase(429)]
    public async Task RetryAfter_IsRateLimitWithThatWait(int status)
    {
        var failure = await Classify((HttpStatusCode)status, """{"message":"slow down"}""", ("Retry-After", "17"));

        failure.Kind.Should().Be(FailureKind.RateLimited);
        failure.Ambiguous.Should().BeFalse("a rate-limited request was refused, not applied");
        failure.ServerWait.Should().Be(TimeSpan.FromSeconds(17));
    }

    [Test]
    public async Task SecondaryRateLimitMessage_WithoutHeaders_IsRateLimitWithoutServerWait()
    {
        var failure = await Classify(HttpStatusCode.Forbidden,
            """{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}""");

        failure.Kind.Should().Be(FailureKind.RateLimited);
        failure.ServerWait.Should().BeNull();
    }

    [TestCase(403)]
    [TestCase(429)]
    public async Task PrimaryRateLimitExhausted_WaitsUntilReset(int status)
    {
        var reset = Now.AddSeconds(90).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var failure = await Classify((HttpStatusCode)status, """{"message":"API rate limit exceeded for user ID 1."}""",
            ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset));

        failure.Kind.Should().Be(FailureKind.RateLimited);
        failure.ServerWait.Should().Be(TimeSpan.FromSeconds(90) + GitHubFailure.ResetSkew);
    }

    [Test]
    public async Task RateLimitHeadersWithRemainingCalls_OnPlain403_AreFinal()
    {
        var failure = await Classify(HttpStatusCode.Forbidden, """{"message":"Must have admin rights to Repository."}""",
            ("X-RateLimit-Remaining", "4999"), ("X-RateLimit-Reset", "1999999999"));

        failure.Kind.Should().Be(FailureKind.Final);
    }

    [Test]
    public async Task RetryAfterAsHttpDate_IsHonoured()
    {
        var failure = await Classify(HttpStatusCode.TooManyRequests, null, ("Retry-After", Now.AddSeconds(45).ToString("r")));

        failure.ServerWait.Should().Be(TimeSpan.FromSeconds(45));
    }

    [Test]
    public void TransportErrorsAndTimeouts_AreTransientAndAmbiguous()
    {
        foreach (var exception in new Exception[] { new HttpRequestException("connection reset"), new TaskCanceledException("timeout", new TimeoutException()), new TimeoutException() })
        {
            var failure = GitHubFailure.Classify(exception, Now);
            failure.Kind.Should().Be(FailureKind.Transient, exception.GetType().Name);
            failure.Ambiguous.Should().BeTrue();
        }
    }

    [Test]
    public void UnknownException_IsFinal() =>
        GitHubFailure.Classify(new InvalidOperationException("bug"), Now).Kind.Should().Be(FailureKind.Final);

    private static async Task<GitHubFailure> Classify(HttpStatusCode status, string? body, params (string Name, string Value)[] headers)
    {
        var http = new ScriptedGitHub();
        http.On(HttpMethod.Get, "repos/o/r").Reply(status, body, headers);
        var client = new GitHubClient(new Connection(new ProductHeaderValue("t"), new Uri("https://api.test/"),
            new InMemoryCredentialStore(Credentials.Anonymous), new HttpClientAdapter(() => http), new SimpleJsonSerializer()));

        var thrown = await FluentActions.Awaiting(() => client.Repository.Get("o", "r")).Should().ThrowAsync<ApiException>();
        return GitHubFailure.Classify(thrown.Which, Now);
    }
}
