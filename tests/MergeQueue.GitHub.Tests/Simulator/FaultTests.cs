using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.Simulator.Control;
using Octokit;

namespace MergeQueue.GitHub.Tests.Simulator;

/// <summary>The simulator's injected API faults: retried through, honouring retry-after, and decisions left alone.</summary>
public sealed class FaultTests : SimulatorTest
{
    [Test]
    public async Task BadGateways_AreRetriedThrough_AndCounted()
    {
        await Control.InjectApiFaultAsync(new ApiFault("bad_gateway", Count: 2, Method: "GET", PathPrefix: RepoPath + "/git/ref/"));

        var head = await GitHub.GetBranchAsync(Repo, "main", None);

        head.Should().Be(new CommitSha(MainSha));
        GitHub.Metrics.Retries.Should().Be(2);
        GitHub.Metrics.Attempts.Should().Be(3);
        (await Control.ApiCallsAsync()).Where(c => c.Path.EndsWith("/git/ref/heads/main", StringComparison.Ordinal))
            .Select(c => c.Status).Should().Equal(502, 502, 200);
    }

    [TestCase("rate_limit", 429)]
    [TestCase("secondary_rate_limit", 403)]
    public async Task RateLimits_WaitForRetryAfter_ThenSucceed(string kind, int status)
    {
        await Control.InjectApiFaultAsync(new ApiFault(kind, Count: 2, PathPrefix: RepoPath + "/statuses/", RetryAfterSeconds: 7));

        await GitHub.SetStatusAsync(Repo, new CommitSha(MainSha), "mergequeue", StatusState.Pending, "queued", null, None);

        (await Control.ChecksAsync(RepoName, MainSha)).Statuses.Should().ContainSingle(s => s.Context == "mergequeue");
        (await Control.ApiCallsAsync()).Where(c => c.Path.StartsWith(RepoPath + "/statuses/", StringComparison.Ordinal))
            .Select(c => c.Status).Should().Equal(status, status, 201);
        Waits.Waits.Should().HaveCount(2).And.OnlyContain(w => w >= TimeSpan.FromSeconds(7), "GitHub said retry-after: 7");
        GitHub.Metrics.Retries.Should().Be(2);
    }

    [Test]
    public async Task ServerErrorsOnAWrite_ThatWereNotApplied_AreRedoneOnce()
    {
        var head = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        await Control.InjectApiFaultAsync(new ApiFault("server_error", Count: 1, Method: "POST", PathPrefix: RepoPath + "/merges"));
        await Control.InjectApiFaultAsync(new ApiFault("unavailable", Count: 1, Method: "POST", PathPrefix: RepoPath + "/merges"));

        var result = await GitHub.MergeAsync(Repo, "main", head, "Merge feature", None);

        var merged = result.Should().BeOfType<MergeResult.Merged>().Subject;
        (await GitHub.GetCommitAsync(Repo, merged.Sha, None)).Parents.Should().Equal(new CommitSha(MainSha), head);
        (await Control.BranchMovesAsync(RepoName, "main")).Should().ContainSingle(m => m.NewSha == merged.Sha.Value);
        GitHub.Metrics.Reconciliations.Should().Be(0);
    }

    [Test]
    public async Task FaultsPersistingBeyondTheAttempts_FailTheCall()
    {
        await Control.InjectApiFaultAsync(new ApiFault("bad_gateway", Count: 10, PathPrefix: RepoPath));

        await FluentActions.Awaiting(() => GitHub.GetDefaultBranchAsync(Repo, None))
            .Should().ThrowAsync<ApiException>().Where(e => (int)e.StatusCode == 502);

        GitHub.Metrics.Attempts.Should().Be(6);
        GitHub.Metrics.Failures.Should().Be(1);
    }

    [Test]
    public async Task Latency_IsWaitedOut()
    {
        await Control.InjectApiFaultAsync(new ApiFault("latency", Count: 1, PathPrefix: RepoPath, LatencyMs: 300));

        (await GitHub.GetDefaultBranchAsync(Repo, None)).Should().Be("main");
        GitHub.Metrics.Retries.Should().Be(0);
    }

    [Test]
    public async Task NonFastForward_IsAnAnswer_NotRetried()
    {
        var sideways = await BranchWith("sideways", new Dictionary<string, string?> { ["b.txt"] = "b\n" });
        await GitHub.FastForwardAsync(Repo, "main", await BranchWith("ahead", new Dictionary<string, string?> { ["a.txt"] = "a\n" }), None);
        await Control.ClearApiCallsAsync();

        (await GitHub.FastForwardAsync(Repo, "main", sideways, None)).Should().BeFalse();

        (await CallsTo("PATCH", "/git/refs/heads/main")).Should().Be(1);
        GitHub.Metrics.Retries.Should().Be(0);
    }

    [Test]
    public async Task InvalidRequest_422_IsNotRetried()
    {
        await FluentActions.Awaiting(() => GitHub.ResetBranchAsync(Repo, "bad..name", new CommitSha(MainSha), None))
            .Should().ThrowAsync<ApiValidationException>();

        (await CallsTo("POST", "/git/refs")).Should().Be(1);
        GitHub.Metrics.Retries.Should().Be(0);
    }
}
