using System.Net;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.GitHub.Tests.Support;
using Octokit;
using static MergeQueue.GitHub.Tests.Support.Scripted;

namespace MergeQueue.GitHub.Tests.Resilience;

/// <summary>
/// The adapter's retry pipeline driven through real Octokit over scripted HTTP answers, on a
/// fake clock: what is retried, how long it waits, when it gives up.
/// </summary>
public sealed class RetryPipelineTests
{
    private static readonly DateTimeOffset Start = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private const string MainRef = RepoPath + "/git/ref/heads/main";

    private ScriptedGitHub http = null!;
    private WatchedFakeTime time = null!;
    private OctokitGitHub gitHub = null!;

    [SetUp]
    public void SetUp()
    {
        http = new ScriptedGitHub();
        time = new WatchedFakeTime(Start);
        gitHub = Adapter(http, time);
    }

    [TearDown]
    public void TearDown() => http.Dispose();

    [Test]
    public async Task Read_After502s_SucceedsAndCountsTheRetries()
    {
        http.On(HttpMethod.Get, MainRef)
            .Reply(HttpStatusCode.BadGateway, """{"message":"Server Error"}""")
            .Reply(HttpStatusCode.ServiceUnavailable, """{"message":"Service Unavailable"}""")
            .Reply(HttpStatusCode.OK, RefJson("main", Sha('a')));

        var call = gitHub.GetBranchAsync(Repo, "main", CancellationToken.None);
        await AdvanceThroughWaits(call, waits: 2);

        (await call).Should().Be(new CommitSha(Sha('a')));
        http.Count(HttpMethod.Get, MainRef).Should().Be(3);
        gitHub.Metrics.Retries.Should().Be(2);
        gitHub.Metrics.Attempts.Should().Be(3);
        gitHub.Metrics.Calls.Should().Be(1);
        gitHub.Metrics.Failures.Should().Be(0);
        // Jitter pinned at its midpoint: 1 s and 2 s steps, three quarters of each.
        time.Timers.Should().Equal(TimeSpan.FromSeconds(0.75), TimeSpan.FromSeconds(1.5));
    }

    [Test]
    public async Task RateLimited_WaitsForRetryAfter_NotBefore()
    {
        http.On(HttpMethod.Get, MainRef)
            .Reply(HttpStatusCode.TooManyRequests, """{"message":"You have exceeded a secondary rate limit."}""", ("Retry-After", "30"))
            .Reply(HttpStatusCode.OK, RefJson("main", Sha('a')));

        var call = gitHub.GetBranchAsync(Repo, "main", CancellationToken.None);
        await Eventually.That(() => time.Timers.Count == 1, "the retry to wait");

        time.Advance(TimeSpan.FromSeconds(29.9));
        time.Fired.Should().Be(0, "retry-after said 30 s: the wait is still pending");
        call.IsCompleted.Should().BeFalse();
        http.Count(HttpMethod.Get, MainRef).Should().Be(1);

        time.Advance(TimeSpan.FromSeconds(1));
        (await call).Should().Be(new CommitSha(Sha('a')));
        http.Count(HttpMethod.Get, MainRef).Should().Be(2);
    }

    [Test]
    public async Task PrimaryRateLimitExhausted_WaitsUntilTheReset()
    {
        var reset = Start.AddSeconds(90).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        http.On(HttpMethod.Get, MainRef)
            .Reply(HttpStatusCode.Forbidden, """{"message":"API rate limit exceeded for user ID 1."}""",
                ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset))
            .Reply(HttpStatusCode.OK, RefJson("main", Sha('a')));

        var call = gitHub.GetBranchAsync(Repo, "main", CancellationToken.None);
        await Eventually.That(() => time.Timers.Count == 1, "the retry to wait");

        time.Timers[0].Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(90));
        time.Advance(TimeSpan.FromSeconds(89));
        time.Fired.Should().Be(0, "the reset is 90 s away: the wait is still pending");
        call.IsCompleted.Should().BeFalse();
        http.Count(HttpMethod.Get, MainRef).Should().Be(1);
        time.Advance(TimeSpan.FromSeconds(5));
        (await call).Should().NotBeNull();
    }

    [Test]
    public async Task RateLimitResetBeyondTheBudget_FailsAtOnce()
    {
        var reset = Start.AddHours(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        http.On(HttpMethod.Get, MainRef)
            .Reply(HttpStatusCode.Forbidden, """{"message":"API rate limit exceeded for user ID 1."}""",
                ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset));

        await FluentActions.Awaiting(() => gitHub.GetBranchAsync(Repo, "main", CancellationToken.None))
            .Should().ThrowAsync<RateLimitExceededException>();

        http.Count(HttpMethod.Get, MainRef).Should().Be(1);
        time.Timers.Should().BeEmpty();
        gitHub.Metrics.Failures.Should().Be(1);
    }

    [Test]
    public async Task PersistentServerErrors_GiveUpAfterSixAttempts()
    {
        http.On(HttpMethod.Get, MainRef).Reply(HttpStatusCode.BadGateway, """{"message":"Server Error"}""");

        var call = gitHub.GetBranchAsync(Repo, "main", CancellationToken.None);
        await AdvanceThroughWaits(call, waits: 5);

        await FluentActions.Awaiting(() => call).Should().ThrowAsync<ApiException>().Where(e => e.StatusCode == HttpStatusCode.BadGateway);
        http.Count(HttpMethod.Get, MainRef).Should().Be(6);
        gitHub.Metrics.Retries.Should().Be(5);
    }

    [Test]
    public async Task TransportError_IsRetried()
    {
        http.On(HttpMethod.Get, MainRef)
            .Throw(new HttpRequestException("connection reset by peer"))
            .Reply(HttpStatusCode.OK, RefJson("main", Sha('a')));

        var call = gitHub.GetBranchAsync(Repo, "main", CancellationToken.None);
        await AdvanceThroughWaits(call, waits: 1);

        (await call).Should().Be(new CommitSha(Sha('a')));
    }

    [TestCase(HttpStatusCode.Unauthorized, """{"message":"Bad credentials"}""", typeof(AuthorizationException))]
    [TestCase(HttpStatusCode.Forbidden, """{"message":"Resource not accessible by integration"}""", typeof(ForbiddenException))]
    [TestCase(HttpStatusCode.Conflict, """{"message":"Git Repository is empty."}""", typeof(ApiException))]
    [TestCase(HttpStatusCode.UnprocessableEntity, """{"message":"Validation Failed"}""", typeof(ApiValidationException))]
    public async Task Decisions_AreNotRetried(HttpStatusCode status, string body, Type exception)
    {
        http.On(HttpMethod.Get, RepoPath).Reply(status, body);

        var thrown = await FluentActions.Awaiting(() => gitHub.GetDefaultBranchAsync(Repo, CancellationToken.None)).Should().ThrowAsync<ApiException>();

        thrown.Which.Should().BeOfType(exception);
        http.Count(HttpMethod.Get, RepoPath).Should().Be(1);
        gitHub.Metrics.Retries.Should().Be(0);
    }

    [Test]
    public async Task MergeConflict_IsAnAnswerNotARetry()
    {
        http.On(HttpMethod.Get, MainRef).Reply(HttpStatusCode.OK, RefJson("main", Sha('a')));
        http.On(HttpMethod.Post, RepoPath + "/merges").Reply(HttpStatusCode.Conflict, """{"message":"Merge conflict"}""");

        var result = await gitHub.MergeAsync(Repo, "main", new CommitSha(Sha('b')), "merge", CancellationToken.None);

        result.Should().BeOfType<MergeResult.Conflict>();
        http.Count(HttpMethod.Post, RepoPath + "/merges").Should().Be(1);
    }

    [Test]
    public async Task NotFound_MapsToAbsenceWithoutRetry()
    {
        (await gitHub.GetPullRequestAsync(Repo, 7, CancellationToken.None)).Should().BeNull();
        (await gitHub.GetBranchAsync(Repo, "gone", CancellationToken.None)).Should().BeNull();
        (await gitHub.GetFileAsync(Repo, "mergequeue.yml", "main", CancellationToken.None)).Should().BeNull();
        (await gitHub.GetPermissionAsync(Repo, "stranger", CancellationToken.None)).Should().Be(Core.Ports.Permission.None);

        http.Requests.Should().HaveCount(4);
        gitHub.Metrics.Retries.Should().Be(0);
    }

    [Test]
    public async Task CallerCancellation_StopsWaitingAndDoesNotRetry()
    {
        http.On(HttpMethod.Get, MainRef).Reply(HttpStatusCode.BadGateway, """{"message":"Server Error"}""");
        using var cts = new CancellationTokenSource();

        var call = gitHub.GetBranchAsync(Repo, "main", cts.Token);
        await Eventually.That(() => time.Timers.Count == 1, "the retry to wait");
        await cts.CancelAsync();

        await FluentActions.Awaiting(() => call).Should().ThrowAsync<OperationCanceledException>();
        http.Count(HttpMethod.Get, MainRef).Should().Be(1);
    }

    [Test]
    public async Task CallCompleted_ReportsEachCall()
    {
        var calls = new List<GitHubCall>();
        gitHub.Metrics.CallCompleted += calls.Add;
        http.On(HttpMethod.Get, MainRef)
            .Reply(HttpStatusCode.InternalServerError, """{"message":"Server Error"}""")
            .Reply(HttpStatusCode.OK, RefJson("main", Sha('a')));

        var call = gitHub.GetBranchAsync(Repo, "main", CancellationToken.None);
        await AdvanceThroughWaits(call, waits: 1);
        await call;

        calls.Should().ContainSingle().Which.Should().Match<GitHubCall>(c => c.Operation == "get-branch" && c.Attempts == 2 && c.Succeeded && !c.Reconciled);
    }

    [Test]
    public async Task Comment_After502_WithAnAppTokenThatCannotReadUser_MatchesOnTheBodyAlone()
    {
        var comments = RepoPath + "/issues/3/comments";
        http.On(HttpMethod.Post, comments)
            .Reply(HttpStatusCode.BadGateway, """{"message":"Server Error"}""")
            .Reply(HttpStatusCode.Created, """{"id":2,"body":"Queued."}""");
        http.On(HttpMethod.Get, "user").Reply(HttpStatusCode.Forbidden, """{"message":"Resource not accessible by integration"}""");
        http.On(HttpMethod.Get, comments).Reply(HttpStatusCode.OK,
            $$"""[{"id":1,"body":"Queued.","user":{"login":"mergequeue[bot]"},"created_at":"{{Start:O}}","updated_at":"{{Start:O}}"}]""");

        var call = gitHub.CommentAsync(Repo, 3, "Queued.", CancellationToken.None);
        await AdvanceThroughWaits(call, waits: 1);
        await call;

        http.Count(HttpMethod.Post, comments).Should().Be(1, "the first post had landed");
        gitHub.Metrics.Reconciliations.Should().Be(1);
    }

    /// <summary>Advances the fake clock through each retry wait as soon as the pipeline starts it.</summary>
    private async Task AdvanceThroughWaits(Task call, int waits)
    {
        for (var i = 1; i <= waits; i++)
        {
            await Eventually.That(() => time.Timers.Count >= i || call.IsCompleted, $"retry wait {i}");
            if (call.IsCompleted) return;
            time.Advance(time.Timers[i - 1]);
        }
    }
}
