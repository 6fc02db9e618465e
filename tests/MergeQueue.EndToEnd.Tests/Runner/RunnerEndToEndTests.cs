using System.Net;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests.Runner;

/// <summary>
/// The built-in runner (issue 16, docs/runner.md) with simulated CI off: the only status on staging
/// commits is the one MergeQueue's own jobs post, run from the simulator's tarballs.
/// </summary>
[CancelAfter(180_000)]
public partial class RunnerEndToEndTests
{
    private const string TestScript = """
        #!/bin/sh
        echo "testing $MERGEQUEUE_SHA as $MERGEQUEUE_JOB"
        if [ -f FAIL ]; then echo "FAIL marker found"; exit 1; fi
        echo "all tests passed"
        """;

    private static string Config(string job, string extra = "") => $"""
        target_branches: [main]
        required_approvals: 1
        required_checks: [test]
        batch_delay: 1m
        max_batch_size: 8
        batch_min_size: 0
        parallel_attempts: 1
        {extra}
        jobs:
          test: {job}
        """;

    /// <summary>No simulated CI anywhere: staging commits get no status but the runner's.</summary>
    private static CiConfig NoCi => new(Contexts: [], PullRequestHeads: false, DelayMs: 10);

    private readonly string scratch = Path.Combine(Path.GetTempPath(), "mq-runner-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    [SetUp]
    public void MakeScratch() => Directory.CreateDirectory(scratch);

    [TearDown]
    public void RemoveScratch() => Directory.Delete(scratch, recursive: true);

    private static Dictionary<string, string?> Settings(bool publicDashboard = true) => new()
    {
        ["MergeQueue:Runner:Enabled"] = "true",
        ["MergeQueue:Runner:PollInterval"] = "00:00:00.200",
        ["MergeQueue:Dashboard:Public"] = publicDashboard ? "true" : "false",
    };

    /// <param name="api">with <see cref="AdminKey"/> as the API's admin key</param>
    private static async Task<ServiceTester> StartAsync(string config, bool publicDashboard = true, bool api = false)
    {
        var settings = Settings(publicDashboard);
        if (api) settings["MergeQueue:Api:AdminKey"] = AdminKey;
        var t = await ServiceTester.StartAsync(config, NoCi, settings);
        await t.Control.CommitAsync(ServiceTester.Repo, "main", new Dictionary<string, string?> { ["test.sh"] = TestScript }, "Add the test script", createBranch: false);
        return t;
    }

    private static RunnerJobStore Jobs(ServiceTester t) => t.Service.Services.GetRequiredService<RunnerJobStore>();

    /// <summary>Like <see cref="ServiceTester.RunUntilAsync"/>, also waiting for the runner to run out of jobs before each look.</summary>
    private static async Task RunUntilAsync(ServiceTester t, Func<Task<bool>> done, int maxTicks = 40)
    {
        for (var i = 0; i < maxTicks; i++)
        {
            await t.SettleAsync();
            await SimulatorClient.WaitUntilAsync(async _ => await Jobs(t).CountActiveAsync() == 0, TimeSpan.FromSeconds(60));
            await t.SettleAsync();
            if (await done()) return;
            t.Clock.Advance(TimeSpan.FromMinutes(1));
            await t.TickAsync();
        }
        (await done()).Should().BeTrue($"the queue should have finished within {maxTicks} poll ticks");
    }

    private static async Task<RunnerJob> WaitForJobAsync(ServiceTester t, Func<RunnerJob, bool> which)
    {
        RunnerJob? job = null;
        await SimulatorClient.WaitUntilAsync(async _ => (job = (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 50)).FirstOrDefault(which)) is not null,
            TimeSpan.FromSeconds(60));
        return job!;
    }

    private static async Task<(HttpStatusCode Status, string Body, string? Type)> GetAsync(ServiceTester t, string path)
    {
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        using var response = await http.GetAsync(path.TrimStart('/'));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
    }

    [Test]
    public async Task Runner_JobIsTheOnlyRequiredCheck_PrMergesOnItsSuccess()
    {
        await using var t = await StartAsync(Config("{ run: sh ./test.sh }"));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);

        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeTrue();
        var main = (await t.Control.BranchShaAsync(ServiceTester.Repo, "main"))!;
        var status = (await t.Control.ChecksAsync(ServiceTester.Repo, main)).Statuses.Where(s => s.Context == "test").MaxBy(s => s.Id)!;
        status.State.Should().Be("success");
        status.Description.Should().StartWith("passed in ");
        var job = (await Jobs(t).ForCommitAsync(RepoId.Parse(ServiceTester.Repo), new CommitSha(main))).Single();
        status.TargetUrl.Should().Be($"http://mq.example/runs/{job.Id}");
        (job.State, job.Trigger, job.Tries, job.ExitCode).Should().Be((JobState.Success, Core.Config.JobTrigger.Staging, 1, 0));

        var log = await GetAsync(t, $"/runs/{job.Id}/log");
        log.Status.Should().Be(HttpStatusCode.OK);
        log.Type.Should().Be("text/plain");
        log.Body.Should().Be($"testing {main} as test\nall tests passed\n");
        var page = await GetAsync(t, $"/runs/{job.Id}");
        page.Status.Should().Be(HttpStatusCode.OK);
        page.Body.Should().Contain("all tests passed").And.Contain(main).And.Contain("success").And.Contain("sh ./test.sh");
        (await GetAsync(t, "/runs/999999")).Status.Should().Be(HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Runner_FailingJob_FailsTheBatchAndBisectionFindsTheCulprit()
    {
        await using var t = await StartAsync(Config("{ run: sh ./test.sh }"));
        var good1 = await t.OpenPrAsync();
        var bad = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "1\n" });
        var good2 = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(good1, bad, good2);

        await RunUntilAsync(t, () => t.AllClosedAsync(good1, bad, good2));

        (await t.PrAsync(good1)).Merged.Should().BeTrue();
        (await t.PrAsync(good2)).Merged.Should().BeTrue();
        (await t.PrAsync(bad)).Merged.Should().BeFalse();
        (await t.QueueStatusAsync(bad))!.State.Should().Be("failure");
        var failed = (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 50)).Where(j => j.State == JobState.Failure).ToList();
        failed.Should().NotBeEmpty().And.OnlyContain(j => j.Description == "failed (exit 1)");
        (await GetAsync(t, $"/runs/{failed[0].Id}/log")).Body.Should().Contain("FAIL marker found");
    }

    [Test]
    public async Task Runner_JobOverItsTimeout_IsKilledWithItsChildrenAndReportedAsTimedOut()
    {
        var pids = Path.Combine(scratch, "pids");
        // The shell and a background child write their pids, then the job hangs.
        await using var t = await StartAsync(Config(
            $$"""{ run: 'echo $$ > "$PIDS"; sleep 300 & echo $! >> "$PIDS"; echo started; wait', timeout: 2s, env: { PIDS: "{{pids}}" } }""",
            extra: "flaky_retries: 0"));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);

        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeFalse();
        var job = (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10)).Single();
        (job.State, job.Description).Should().Be((JobState.Failure, "timed out after 2s"));
        var started = File.ReadAllLines(pids).Select(int.Parse).ToArray();
        started.Should().HaveCount(2);
        started.Should().OnlyContain(pid => !IsAlive(pid), "the whole process group is killed");
        var log = (await GetAsync(t, $"/runs/{job.Id}/log")).Body;
        log.Should().Contain("started").And.Contain("timed out after 2s: process group killed");
    }

    [Test]
    public async Task Runner_LogWhileRunning_ShowsTheOutputSoFar_ThenAllOfIt()
    {
        var gate = Path.Combine(scratch, "gate");
        await using var t = await StartAsync(Config(
            $$"""{ run: 'echo first; while [ ! -f "$GATE" ]; do sleep 0.1; done; echo second', env: { GATE: "{{gate}}" } }"""));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.StartBatchAsync();

        var job = await WaitForJobAsync(t, j => j.State == JobState.Running);
        await SimulatorClient.WaitUntilAsync(async _ => (await GetAsync(t, $"/runs/{job.Id}/log")).Body.Contains("first"), TimeSpan.FromSeconds(30));
        (await GetAsync(t, $"/runs/{job.Id}/log")).Body.Should().Be("first\n");
        var page = (await GetAsync(t, $"/runs/{job.Id}")).Body;
        page.Should().Contain("first").And.Contain("running").And.Contain("every 5s");
        File.WriteAllText(gate, "");

        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeTrue();
        (await GetAsync(t, $"/runs/{job.Id}/log")).Body.Should().Be("first\nsecond\n");
        (await GetAsync(t, $"/runs/{job.Id}")).Body.Should().Contain("second").And.Contain("hx-trigger=\"none\"");
    }

    [Test]
    public async Task Runner_NetworkErrorOnce_IsRetriedOnTheSameCommitAndPasses()
    {
        var marker = Path.Combine(scratch, "tried");
        await using var t = await StartAsync(Config(
            $$"""{ run: 'if [ ! -f "$MARKER" ]; then touch "$MARKER"; echo "fetching deps: Network Error"; exit 1; fi; echo "passed on try $MERGEQUEUE_TRY"', env: { MARKER: "{{marker}}" } }"""));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);

        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeTrue();
        var job = (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10)).Single();
        (job.State, job.Tries).Should().Be((JobState.Success, 2));
        var log = (await GetAsync(t, $"/runs/{job.Id}/log")).Body;
        log.Should().Contain("fetching deps: Network Error").And.Contain("flaky pattern 'network error'").And.EndWith("passed on try 2\n");
        var page = (await GetAsync(t, $"/runs/{job.Id}")).Body;
        page.Should().Contain("Try 1").And.Contain("Try 2");
    }

    [Test]
    public async Task Runner_JobEnvironment_HoldsNoSecretOfTheService()
    {
        const string probe = "MQ_E2E_SERVICE_SECRET_PROBE";
        await using var t = await StartAsync(Config("{ run: 'env | sort; sh ./test.sh', env: { GREETING: hello } }"));
        // A variable of the service's own process: a job that inherited the environment would print it.
        Environment.SetEnvironmentVariable(probe, t.BotToken);
        try
        {
            var n = await t.OpenPrAsync();
            await t.ApproveAndMergeAsync(n);

            await RunUntilAsync(t, () => t.AllClosedAsync(n));

            (await t.PrAsync(n)).Merged.Should().BeTrue();
            var job = (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10)).Single();
            var log = (await GetAsync(t, $"/runs/{job.Id}/log")).Body;
            log.Should().Contain("GREETING=hello").And.Contain("MERGEQUEUE_JOB=test").And.Contain($"MERGEQUEUE_SHA={job.Sha}").And.Contain("HOME=");
            log.Should().NotContain(t.BotToken).And.NotContain(ServiceTester.Secret).And.NotContain(probe).And.NotContain("MergeQueue__");
        }
        finally
        {
            Environment.SetEnvironmentVariable(probe, null);
        }
    }

    [Test]
    public async Task Runner_AttemptCancelledWhileItsJobRuns_KillsTheJobAndReportsItCancelled()
    {
        var pids = Path.Combine(scratch, "pids");
        await using var t = await StartAsync(Config(
            $$"""{ run: 'echo $$ > "$PIDS"; sleep 300 & echo $! >> "$PIDS"; wait', env: { PIDS: "{{pids}}" } }"""));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.StartBatchAsync();
        var job = await WaitForJobAsync(t, j => j.State == JobState.Running);
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(File.Exists(pids) && File.ReadAllLines(pids).Length == 2), TimeSpan.FromSeconds(30));

        await t.CommentAsync(n, "@mergequeue cancel");
        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        (await t.QueueStatusAsync(n))!.State.Should().Be("failure");
        var cancelled = (await Jobs(t).GetAsync(job.Id))!;
        cancelled.State.Should().Be(JobState.Cancelled);
        cancelled.Description.Should().StartWith("cancelled: ");
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(File.ReadAllLines(pids).Select(int.Parse).All(pid => !IsAlive(pid))), TimeSpan.FromSeconds(30));
        var status = (await t.Control.ChecksAsync(ServiceTester.Repo, job.Sha.Value)).Statuses.Where(s => s.Context == "test").MaxBy(s => s.Id)!;
        (status.State, status.Description).Should().Be(("error", cancelled.Description));
    }

    [Test]
    public async Task Runner_TryBuilds_RunTheJobsAndReportOnMergequeueTry()
    {
        await using var t = await StartAsync(Config("{ run: sh ./test.sh }"));
        var green = await t.OpenPrAsync();
        var red = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "1\n" });
        await t.CommentAsync(green, "@mergequeue try");
        await t.CommentAsync(red, "@mergequeue try");

        await RunUntilAsync(t, async () => (await t.QueueStatusAsync(green, "mergequeue-try"))?.State is "success" or "failure"
            && (await t.QueueStatusAsync(red, "mergequeue-try"))?.State is "success" or "failure");

        (await t.QueueStatusAsync(green, "mergequeue-try"))!.State.Should().Be("success");
        (await t.QueueStatusAsync(red, "mergequeue-try"))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Try failed: test");
        var jobs = await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10);
        jobs.Should().HaveCount(2).And.OnlyContain(j => j.Trigger == Core.Config.JobTrigger.Try && j.Branch!.StartsWith("mergequeue/try/"));
        jobs.Select(j => j.State).Should().BeEquivalentTo([JobState.Success, JobState.Failure]);
    }

    [Test]
    public async Task Runner_ServiceStoppedWhileAJobRuns_KillsItAndRunsItAgainAfterTheRestart()
    {
        var pids = Path.Combine(scratch, "pids");
        var gate = Path.Combine(scratch, "gate");
        await using var t = await StartAsync(Config(
            $$"""{ run: 'echo $$ >> "$PIDS"; echo "run $MERGEQUEUE_TRY"; while [ ! -f "$GATE" ]; do sleep 0.1; done; echo done', env: { PIDS: "{{pids}}", GATE: "{{gate}}" } }"""));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.StartBatchAsync();
        var job = await WaitForJobAsync(t, j => j.State == JobState.Running);
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(File.Exists(pids)), TimeSpan.FromSeconds(30));

        await t.StopServiceAsync();

        var stopped = (await new RunnerJobStore(new SqliteDatabase($"Data Source={t.DatabasePath}"), TimeProvider.System).GetAsync(job.Id))!;
        (stopped.State, stopped.Tries).Should().Be((JobState.Queued, 1), "a stopping instance puts its job back in the queue");
        IsAlive(int.Parse(File.ReadAllLines(pids)[0])).Should().BeFalse("its process group was killed");
        File.WriteAllText(gate, "");
        await t.StartServiceAsync(Settings());

        var rerun = await WaitForJobAsync(t, j => j.Id == job.Id && j.IsFinal);
        (rerun.State, rerun.Tries).Should().Be((JobState.Success, 2));
        (await GetAsync(t, $"/runs/{job.Id}/log")).Body.Should().Be("run 1\nrun 2\ndone\n");
    }

    [Test]
    public async Task Runner_PullRequestJob_RunsOnTheHeadAndServesAsAPreCheck()
    {
        await using var t = await StartAsync(Config("{ run: sh ./test.sh }\n  lint: { run: 'echo \"lint ok on $MERGEQUEUE_TRIGGER\"', on: [pull_request] }", extra: "pre_checks: [lint]"));
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);

        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeTrue();
        var head = (await t.PrAsync(n)).HeadSha;
        var lint = (await Jobs(t).ForCommitAsync(RepoId.Parse(ServiceTester.Repo), new CommitSha(head))).Single();
        (lint.Context, lint.Trigger, lint.Branch, lint.State).Should().Be(("lint", Core.Config.JobTrigger.PullRequest, $"pull/{n}", JobState.Success));
        (await t.QueueStatusAsync(n, "lint"))!.State.Should().Be("success");
        (await GetAsync(t, $"/runs/{lint.Id}/log")).Body.Should().Be("lint ok on pull_request\n");
        (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10)).Should().NotContain(j => j.Context == "lint" && j.Trigger != Core.Config.JobTrigger.PullRequest);
    }

    [Test]
    public async Task Runner_PrivateDashboard_RunPagesNeedSignIn()
    {
        await using var t = await StartAsync(Config("{ run: sh ./test.sh }"), publicDashboard: false);
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);

        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        var job = (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10)).Single();
        (await GetAsync(t, $"/runs/{job.Id}")).Status.Should().Be(HttpStatusCode.Unauthorized);
        (await GetAsync(t, $"/runs/{job.Id}/log")).Status.Should().Be(HttpStatusCode.Unauthorized);
        (await GetAsync(t, $"/repos/{ServiceTester.Repo}/runs")).Status.Should().Be(HttpStatusCode.Unauthorized);
    }

    /// <summary>Alive: in /proc and not a zombie (a killed child whose parent has not reaped it yet is gone for our purpose).</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
