using MergeQueue.GitHub.Resilience;

namespace MergeQueue.GitHub.Tests.Resilience;

public sealed class RetryDelayTests
{
    private static readonly GitHubRetryOptions Options = new();
    private static readonly GitHubFailure ServerError = new(FailureKind.Transient, true, null, "502");

    [TestCase(0, 1.0)]
    [TestCase(1, 2.0)]
    [TestCase(2, 4.0)]
    [TestCase(3, 8.0)]
    [TestCase(5, 30.0)]
    [TestCase(20, 30.0)]
    public void Backoff_DoublesUpToTheCap_JitteredDownByUpToHalf(int retry, double fullSeconds)
    {
        var lowest = RetryDelay.Next(ServerError, retry, TimeSpan.Zero, 0.0, Options);
        var highest = RetryDelay.Next(ServerError, retry, TimeSpan.Zero, 0.999999, Options);

        lowest.Should().Be(TimeSpan.FromSeconds(fullSeconds / 2));
        highest!.Value.TotalSeconds.Should().BeApproximately(fullSeconds, 0.001);
    }

    [TestCase(0.0)]
    [TestCase(0.5)]
    [TestCase(0.99)]
    public void ServerWait_IsNeverShortened(double random)
    {
        var failure = new GitHubFailure(FailureKind.RateLimited, false, TimeSpan.FromSeconds(20), "429");

        var delay = RetryDelay.Next(failure, 0, TimeSpan.Zero, random, Options);

        delay.Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(20)).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(21));
    }

    [Test]
    public void SecondaryRateLimit_WithoutRetryAfter_WaitsAtLeastAMinute()
    {
        var failure = new GitHubFailure(FailureKind.RateLimited, false, null, "403 secondary");

        RetryDelay.Next(failure, 0, TimeSpan.Zero, 0.0, Options).Should().Be(TimeSpan.FromMinutes(1));
    }

    [Test]
    public void WaitBeyondTheBudget_GivesUp()
    {
        var resetInAnHour = new GitHubFailure(FailureKind.RateLimited, false, TimeSpan.FromHours(1), "403 primary");

        RetryDelay.Next(resetInAnHour, 0, TimeSpan.Zero, 0.5, Options).Should().BeNull();
        RetryDelay.Next(ServerError, 3, Options.MaxTotalWait - TimeSpan.FromSeconds(1), 0.5, Options).Should().BeNull();
    }

    [Test]
    public void FinalFailure_IsNeverRetried() =>
        RetryDelay.Next(new GitHubFailure(FailureKind.Final, false, null, "409"), 0, TimeSpan.Zero, 0.5, Options).Should().BeNull();
}
