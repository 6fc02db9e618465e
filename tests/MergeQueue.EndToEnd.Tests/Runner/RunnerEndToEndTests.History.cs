using System.Net;
using System.Text.Json;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.EndToEnd.Tests.Api;
using MergeQueue.Simulator;

namespace MergeQueue.EndToEnd.Tests.Runner;

public partial class RunnerEndToEndTests
{
    /// <summary>
    /// History and trends (issue 16 item 6, docs/runner.md): one service for the fixture. A good and a failing PR are
    /// merged in one batch gated by a job (the batch fails, bisection merges the good one), a <c>lint</c> job runs on PR
    /// heads, then a trigger on <c>main</c> runs every job there and one on the failing PR's head sha runs them there
    /// (its <c>test</c> fails); the tests read the REST API and the dashboard page.
    /// </summary>
    [TestFixture, NonParallelizable, CancelAfter(60_000)]
    public sealed class History
    {
        private ServiceTester t = null!;
        private ApiClient api = null!;
        private int good, bad;
        private string mainHead = "", badHead = "";
        private ApiResponse triggered = null!, triggeredSha = null!;

        private static string Path(string rest = "") => $"api/v1/repos/{ServiceTester.Repo}/commits{rest}";

        [OneTimeSetUp]
        public async Task RunTheScenarioAsync()
        {
            t = await StartAsync(WithLint(), api: true);
            api = new ApiClient(t.ServiceUrl, AdminKey);
            good = await t.OpenPrAsync();
            bad = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "1\n" });
            await t.ApproveAndMergeAsync(good, bad);
            await RunUntilAsync(t, () => t.AllClosedAsync(good, bad));
            (await t.PrAsync(good)).Merged.Should().BeTrue();
            (await t.PrAsync(bad)).Merged.Should().BeFalse();
            badHead = (await t.PrAsync(bad)).HeadSha;
            mainHead = (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!;

            triggered = await api.PostAsync($"api/v1/trigger/{ServiceTester.Repo}", new { branch = "main" });
            await RunUntilAsync(t, async () => await Jobs(t).CountActiveAsync() == 0);
            triggeredSha = await api.PostAsync($"api/v1/trigger/{ServiceTester.Repo}", new { sha = badHead });
            await RunUntilAsync(t, async () => await Jobs(t).CountActiveAsync() == 0);
        }

        [OneTimeTearDown]
        public async Task StopAsync()
        {
            api?.Dispose();
            if (t is not null) await t.DisposeAsync();
        }

        private async Task<JsonElement[]> CommitsAsync(string query = "")
        {
            var answer = await api.GetAsync(Path(query));
            answer.Status.Should().Be(HttpStatusCode.OK, answer.ToString());
            return answer.Json.EnumerateArray().ToArray();
        }

        private static string S(JsonElement e, string name) => e.GetProperty(name).ToString();

        [Test]
        public async Task Commits_NewestFirst_WithTheResultOfTheirJobs()
        {
            var commits = await CommitsAsync();

            commits.Select(c => c.GetProperty("cursor").GetInt64()).Should().BeInDescendingOrder();
            commits.Take(2).Select(c => S(c, "sha")).Should().Equal([badHead, mainHead], "the triggers' jobs are the newest");
            var stored = await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 100);
            foreach (var c in commits)
            {
                var latest = stored.Where(j => j.Sha.Value == S(c, "sha")).GroupBy(j => j.Context).Select(g => g.MaxBy(j => j.Id)!.State);
                S(c, "result").Should().Be(CommitResults.Name(JobCounts.Of(latest).Result), $"commit {S(c, "sha")}");
            }
            commits.Should().Contain(c => S(c, "result") == "failure" && S(c, "trigger") == "staging", "the failing batch and the bad PR alone failed");
            var pr = commits.Single(c => S(c, "sha") == badHead);
            (S(pr, "branch"), S(pr, "trigger"), S(pr, "result")).Should().Be(($"pull/{bad}", "pull_request", "failure"),
                "its first job was lint on the PR head; the test triggered on it since fails");
            S(commits[1], "url").Should().Be($"http://mq.example/repos/{ServiceTester.Repo}/runs?sha={mainHead}");
        }

        [Test]
        public async Task Commits_Filters_AndPaging()
        {
            (await CommitsAsync("?result=failure")).Should().NotBeEmpty().And.OnlyContain(c => S(c, "result") == "failure");
            (await CommitsAsync($"?branch=pull/{bad}")).Select(c => S(c, "sha")).Should().Equal(badHead);
            (await CommitsAsync("?job=lint")).Should().OnlyContain(c => c.GetProperty("jobs").GetProperty("total").GetInt32() == 1)
                .And.Contain(c => S(c, "sha") == mainHead).And.Contain(c => S(c, "sha") == badHead);
            (await CommitsAsync("?branch=main&job=test&result=success")).Select(c => S(c, "sha")).Should().Equal(mainHead);

            var all = await CommitsAsync();
            var first = await api.GetAsync(Path("?limit=2"));
            first.Json.GetArrayLength().Should().Be(2);
            first.Link.Should().Be($"</api/v1/repos/{ServiceTester.Repo}/commits?limit=2&before={first.Json[1].GetProperty("cursor").GetInt64()}>; rel=\"next\"");
            var cursor = first.Json[1].GetProperty("cursor").GetInt64();
            var rest = await CommitsAsync($"?limit=1000&before={cursor}");
            first.Json.EnumerateArray().Concat(rest).Select(c => S(c, "sha")).Should().Equal(all.Select(c => S(c, "sha")));

            foreach (var (query, message) in new[] { ("?result=passed", "Unknown result 'passed'"), ("?limit=0", "limit"), ("?before=x", "before"), ("?branch=a..b", "not a branch") })
            {
                var refused = await api.GetAsync(Path(query));
                (refused.Status, refused.ContentType).Should().Be((HttpStatusCode.UnprocessableEntity, "application/problem+json"), query);
                refused.Json.GetProperty("detail").GetString().Should().Contain(message);
            }
            (await api.GetAsync("api/v1/repos/acme/unknown/commits")).Status.Should().Be(HttpStatusCode.NotFound);
            using var anonymous = new ApiClient(t.ServiceUrl, null);
            (await anonymous.GetAsync(Path())).Status.Should().Be(HttpStatusCode.Unauthorized);
        }

        [Test]
        public async Task Commit_Results_Run_AndLog()
        {
            var commit = await api.GetAsync(Path($"/{mainHead}"));
            commit.Status.Should().Be(HttpStatusCode.OK, commit.ToString());
            (S(commit.Json, "result"), commit.Json.GetProperty("jobs").GetProperty("total").GetInt32()).Should().Be(("success", 2));
            S((await api.GetAsync(Path($"/{mainHead[..8]}"))).Json, "sha").Should().Be(mainHead, "an unambiguous prefix is enough");
            var unknown = await api.GetAsync(Path($"/{new string('e', 40)}"));
            (unknown.Status, unknown.ContentType).Should().Be((HttpStatusCode.NotFound, "application/problem+json"));

            var results = (await api.GetAsync(Path($"/{mainHead}/results"))).Json.EnumerateArray().ToList();
            results.Select(r => (S(r, "job"), S(r, "state"))).Should().Contain([("test", "success"), ("lint", "success")]);
            results.Should().OnlyContain(r => S(r, "url") == $"http://mq.example/runs/{r.GetProperty("id").GetInt64()}"
                && S(r, "logUrl") == $"http://mq.example/runs/{r.GetProperty("id").GetInt64()}/log" && r.GetProperty("durationSeconds").GetDouble() >= 0);

            var test = results.Last(r => S(r, "job") == "test");
            var id = test.GetProperty("id").GetInt64();
            var run = await api.GetAsync($"api/v1/runs/{id}");
            (S(run.Json, "sha"), S(run.Json, "state"), S(run.Json, "trigger"), S(run.Json, "branch")).Should().Be((mainHead, "success", "push", "main"));
            var log = await api.GetAsync($"api/v1/runs/{id}/log");
            (log.Status, log.ContentType, log.Body).Should().Be((HttpStatusCode.OK, "text/plain", $"testing {mainHead} as test\nall tests passed\n"));
            (await api.GetAsync("api/v1/runs/999999")).Status.Should().Be(HttpStatusCode.NotFound);
            (await api.GetAsync("api/v1/runs/999999/log")).Status.Should().Be(HttpStatusCode.NotFound);
        }

        [Test]
        public async Task Trigger_OnABranch_QueuedEveryJobOnItsHead_AndRefusesBadBodies()
        {
            triggered.Status.Should().Be(HttpStatusCode.Accepted, triggered.ToString());
            S(triggered.Json, "sha").Should().Be(mainHead);
            var queued = triggered.Json.GetProperty("queued").EnumerateArray().ToList();
            queued.Select(j => S(j, "job")).Should().BeEquivalentTo(["test", "lint"], "a manual trigger runs every job, whatever its on:");
            foreach (var j in queued)
                (await Jobs(t).GetAsync(j.GetProperty("id").GetInt64()))!.State.Should().Be(JobState.Success);

            triggeredSha.Status.Should().Be(HttpStatusCode.Accepted, triggeredSha.ToString());
            triggeredSha.Json.GetProperty("branch").ValueKind.Should().Be(JsonValueKind.Null);
            var onSha = triggeredSha.Json.GetProperty("queued").EnumerateArray().ToDictionary(j => S(j, "job"), j => j.GetProperty("id").GetInt64());
            onSha.Keys.Should().BeEquivalentTo(["test", "lint"]);
            (await Jobs(t).GetAsync(onSha["test"]))!.Should().Match<RunnerJob>(j => j.State == JobState.Failure && j.Trigger == Core.Config.JobTrigger.Push && j.Branch == null);

            var path = $"api/v1/trigger/{ServiceTester.Repo}";
            (await api.PostAsync(path, new { branch = "nope" })).Status.Should().Be(HttpStatusCode.NotFound);
            (await api.PostAsync(path, new { sha = new string('a', 40) })).Status.Should().Be(HttpStatusCode.NotFound);
            (await api.PostAsync(path, new { sha = "abc" })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
            (await api.PostAsync(path, new { branch = "main", sha = mainHead })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
            (await api.SendAsync(HttpMethod.Post, path, rawBody: "{not json")).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
            var construct = await api.PostAsync(path);
            (construct.Status, S(construct.Json, "message")).Should().Be((HttpStatusCode.OK, "construct ran for main"), "without a body the trigger runs the construct flow, as before");
            (await api.PostAsync("api/v1/trigger/acme/unknown", new { branch = "main" })).Status.Should().Be(HttpStatusCode.NotFound);

            var viewer = (await api.PostAsync("api/v1/keys", new { name = "history-viewer", role = "read-only" })).Json.GetProperty("key").GetString();
            using var readOnly = new ApiClient(t.ServiceUrl, viewer);
            (await readOnly.GetAsync(Path())).Status.Should().Be(HttpStatusCode.OK, "any role reads");
            var refused = await readOnly.PostAsync(path, new { branch = "main" });
            (refused.Status, refused.Json.GetProperty("detail").GetString()).Should().Be((HttpStatusCode.Forbidden, "The key 'history-viewer' has the read-only role: it may only read."));
        }

        [Test]
        public async Task DashboardPage_ListsCommitsWithFiltersAndCharts()
        {
            var page = await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs");
            page.Status.Should().Be(HttpStatusCode.OK);
            page.Body.Should().Contain($"data-sha=\"{mainHead}\"").And.Contain($"data-sha=\"{badHead}\"").And.Contain("data-result=\"failure\"")
                .And.Contain("id=\"chart-runner-pass-rate\"").And.Contain("id=\"chart-runner-duration\"").And.Contain("class=\"point\"")
                .And.Contain("<form class=\"filter\"").And.Contain("name=\"result\"").And.Contain($"href=\"/runs/");

            var failures = (await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs?result=failure")).Body;
            failures.Should().Contain("data-result=\"failure\"").And.NotContain("data-result=\"success\"");
            var lint = (await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs?job=lint&branch=main")).Body;
            lint.Should().Contain($"data-sha=\"{mainHead}\"").And.NotContain($"data-sha=\"{badHead}\"");
            var paged = (await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs?limit=1")).Body;
            paged.Should().Contain("id=\"older\"").And.Contain("before=");
            (await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs?result=bogus")).Body.Should().Contain("result=bogus is not one of");
            var one = (await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs?sha={mainHead[..8]}")).Body;
            one.Should().Contain($"data-sha=\"{mainHead}\"").And.NotContain($"data-sha=\"{badHead}\"");
            (await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs?sha=ffff")).Body.Should().Contain("No tested commit is ffff").And.Contain("No tested commit matches");
            (await GetAsync(t, "/repos/acme/unknown/runs")).Status.Should().Be(HttpStatusCode.NotFound);

            (await GetAsync(t, $"/repos/{ServiceTester.Repo}")).Body.Should().Contain($"href=\"/repos/{ServiceTester.Repo}/runs\"");
            var runId = (await Jobs(t).ForCommitAsync(RepoId.Parse(ServiceTester.Repo), new CommitSha(mainHead)))[0].Id;
            (await GetAsync(t, $"/runs/{runId}")).Body.Should().Contain($"/repos/{ServiceTester.Repo}/runs?sha={mainHead}");
        }

        [Test]
        public async Task DashboardPage_InChromium_LoadsWithoutConsoleErrors_AndFilters()
        {
            Assert.That(Dashboard.Browser.Available, "headless Chromium is needed: apt-get install -y chromium chromium-driver (scripts/test.sh does)");
            using var browser = Dashboard.Browser.Start();
            browser.GoTo(new Uri(t.ServiceUrl, $"repos/{ServiceTester.Repo}/runs"));
            browser.FindAll("tr.commit").Should().HaveCountGreaterThan(2);
            browser.FindAll("#chart-runner-pass-rate circle.point").Should().NotBeEmpty();
            browser.Find("#runs-filter select[name=result] option[value=failure]").Click();
            browser.Find("#runs-filter button[type=submit]").Click();
            await browser.WaitForAsync(() => browser.Driver.Url.Contains("result=failure", StringComparison.Ordinal), "the filtered page");
            browser.FindAll("tr.commit").Should().NotBeEmpty().And.OnlyContain(r => r.GetAttribute("data-result") == "failure");
            browser.Screenshot("runner-history");
            browser.ConsoleErrors().Should().BeEmpty();
        }
    }
}
