using System.Diagnostics;
using System.Net;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>Injected API faults: GitHub's rate-limit answers, 5xx, latency, and a seeded random mode. The control API is never affected.</summary>
[CancelAfter(30_000)]
[NonParallelizable]
public class FaultInjectionTests : SimulatorTestBase
{
    [TearDown]
    public async Task Clear() => await Control.ClearApiFaultsAsync();

    [Test]
    public async Task SecondaryRateLimit_Is403WithRetryAfter_ThenRecovers()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.InjectApiFaultAsync(new ApiFault("secondary_rate_limit", Count: 1, PathPrefix: "/repos/", RetryAfterSeconds: 7));

        var act = () => Bot.Repository.Get(o, n);
        var e = (await act.Should().ThrowAsync<SecondaryRateLimitExceededException>()).Which;
        e.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        e.HttpResponse.Headers.Single(h => h.Key.Equals("retry-after", StringComparison.OrdinalIgnoreCase)).Value.Should().Be("7");
        (await Bot.Repository.Get(o, n)).FullName.Should().Be(repo);
        (await Control.ApiCallsAsync()).Should().Contain(c => c.Status == 403 && c.Fault == "secondary_rate_limit");
    }

    [Test]
    public async Task RateLimit429_AndBadGateway_HitOnlyMatchingCalls()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.InjectApiFaultAsync(new ApiFault("rate_limit", Method: "GET", PathPrefix: $"/repos/{repo}/pulls"));
        await Control.InjectApiFaultAsync(new ApiFault("bad_gateway", Count: 2, Method: "POST"));

        (await Bot.Repository.Get(o, n)).Should().NotBeNull("the faults match other calls");
        using var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("token", BotToken);
        var limited = await http.GetAsync($"repos/{repo}/pulls");
        limited.StatusCode.Should().Be((HttpStatusCode)429);
        limited.Headers.RetryAfter.Should().NotBeNull();

        var sha = (await Control.BranchShaAsync(repo, "main"))!;
        for (var i = 0; i < 2; i++)
        {
            var act = () => Bot.Repository.Status.Create(o, n, sha, new NewCommitStatus { State = CommitState.Success });
            (await act.Should().ThrowAsync<ApiException>()).Which.StatusCode.Should().Be(HttpStatusCode.BadGateway);
        }
        (await Bot.Repository.Status.Create(o, n, sha, new NewCommitStatus { State = CommitState.Success })).State.Value.Should().Be(CommitState.Success);
    }

    [Test]
    public async Task Latency_DelaysTheAnswer()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.InjectApiFaultAsync(new ApiFault("latency", LatencyMs: 300));
        var sw = Stopwatch.StartNew();
        await Bot.Repository.Get(o, n);
        sw.ElapsedMilliseconds.Should().BeGreaterThanOrEqualTo(290);
    }

    [Test]
    public async Task RandomMode_FailsAboutTheConfiguredFraction_Deterministically()
    {
        var repo = await NewRepoAsync();
        using var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("token", BotToken);

        async Task<List<int>> RunAsync()
        {
            await Control.SetRandomApiFaultsAsync(new RandomApiFaults(0.3, Seed: 42));
            var codes = new List<int>();
            for (var i = 0; i < 60; i++) codes.Add((int)(await http.GetAsync($"repos/{repo}")).StatusCode);
            await Control.ClearApiFaultsAsync();
            return codes;
        }

        var first = await RunAsync();
        var second = await RunAsync();
        first.Should().Equal(second, "the same seed gives the same faults");
        first.Count(c => c != 200).Should().BeInRange(8, 30);
        first.Where(c => c != 200).Should().OnlyContain(c => c == 403 || c == 429 || c == 502 || c == 500);
        // The control API is never faulted.
        (await Control.IdleAsync()).Should().NotBeNull();
    }
}
