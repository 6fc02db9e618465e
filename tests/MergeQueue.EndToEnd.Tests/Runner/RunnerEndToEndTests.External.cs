using System.Net;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.Data;
using MergeQueue.EndToEnd.Tests.Api;

namespace MergeQueue.EndToEnd.Tests.Runner;

/// <summary>
/// External runner processes (docs/runner.md, "External runners"): the service runs no job itself
/// (<c>Slots = 0</c>); runner processes started with <c>runner --server URL</c> and a key of the runner
/// role claim the jobs over HTTP, and a runner that dies has its job run again by another.
/// </summary>
public partial class RunnerEndToEndTests
{
    private static Dictionary<string, string?> ExternalOnly() => new()
    {
        ["MergeQueue:Runner:Enabled"] = "true",
        ["MergeQueue:Runner:Slots"] = "0",
        ["MergeQueue:Runner:PollInterval"] = "00:00:00.200",
        ["MergeQueue:Runner:HeartbeatTimeout"] = "00:00:04",
        ["MergeQueue:Api:AdminKey"] = AdminKey,
    };

    private static ServiceProcess StartRunner(ServiceTester t, string name, string key) =>
        ServiceProcess.StartCommand(["exec", ServiceProcess.ServiceDll, "runner", "--server", t.ServiceUrl.ToString(), "--name", name],
            new Dictionary<string, string> { ["MERGEQUEUE_RUNNER_KEY"] = key });

    [Test]
    public async Task Runner_TwoExternalRunners_ShareTheJobs_AndAKilledRunnersJobDiesWithItAndRunsAgainOnTheOther()
    {
        var pids = Path.Combine(scratch, "pids");
        var gate = Path.Combine(scratch, "gate");
        var job = $$"""{ run: 'echo "$MERGEQUEUE_JOB $MERGEQUEUE_TRY $$" >> "$PIDS"; echo "try $MERGEQUEUE_TRY key=${MERGEQUEUE_RUNNER_KEY:-none}"; while [ ! -f "$GATE" ]; do sleep 0.1; done; echo done', env: { PIDS: "{{pids}}", GATE: "{{gate}}" } }""";
        await using var t = await ServiceTester.StartAsync($"""
            target_branches: [main]
            required_approvals: 1
            required_checks: [test, lint]
            batch_delay: 1m
            parallel_attempts: 1
            jobs:
              test: {job}
              lint: {job}
            """, NoCi, ExternalOnly());
        using var admin = new ApiClient(t.ServiceUrl, AdminKey);
        var created = await admin.PostAsync("api/v1/keys", new { name = "build-machines", role = "runner" });
        created.Status.Should().Be(HttpStatusCode.Created, created.ToString());
        var key = created.Json.GetProperty("key").GetString()!;
        using var runnerKey = new ApiClient(t.ServiceUrl, key);
        (await runnerKey.GetAsync("api/v1/repos")).Should().Match<ApiResponse>(r => r.Status == HttpStatusCode.Forbidden && r.Body.Contains("may only claim and run jobs"));
        (await admin.PostAsync("api/v1/runner/claim", new { runner = "x" })).Should().Match<ApiResponse>(r => r.Status == HttpStatusCode.Forbidden && r.Body.Contains("runner role"));
        (await runnerKey.PostAsync("api/v1/runner/claim", new { runner = "bad name!" })).Status.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await admin.PostAsync("api/v1/users", new { login = "carol", role = "runner" })).Should().Match<ApiResponse>(r => r.Status == HttpStatusCode.UnprocessableEntity && r.Body.Contains("not people"));

        await using var a = StartRunner(t, "machine-a", key);
        await using var b = StartRunner(t, "machine-b", key);
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.StartBatchAsync();

        // Each runner (one slot each) holds one of the staging commit's two jobs.
        IReadOnlyList<RunnerJob> running = [];
        await Simulator.SimulatorClient.WaitUntilAsync(async _ =>
            (running = (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10)).Where(j => j.State == JobState.Running).ToList()).Count == 2
            && File.Exists(pids) && File.ReadAllLines(pids).Length == 2, TimeSpan.FromSeconds(60));
        running.Select(j => j.ClaimedBy!.Split('#')[0]).Should().BeEquivalentTo("runner:machine-a", "runner:machine-b");
        running.Should().OnlyContain(j => !j.ClaimedBy!.Contains(key, StringComparison.Ordinal));
        var orphan = running.Single(j => j.ClaimedBy!.StartsWith("runner:machine-a#", StringComparison.Ordinal));
        (await runnerKey.PostAsync($"api/v1/runner/jobs/{orphan.Id}/heartbeat")).Status.Should().Be(HttpStatusCode.UnprocessableEntity, "no lease, no say");
        using (var http = new HttpClient { BaseAddress = t.ServiceUrl })
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"api/v1/runner/jobs/{orphan.Id}/finish") { Content = System.Net.Http.Json.JsonContent.Create(new { state = "success", description = "forged" }) })
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            request.Headers.Add("MergeQueue-Lease", "0123456789abcdef");
            (await http.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.Conflict, "another runner's job cannot be reported on with a wrong lease");
        }

        await Simulator.SimulatorClient.WaitUntilAsync(async _ => (await GetAsync(t, $"/runs/{orphan.Id}/log")).Body.Contains("try 1 key=none"), TimeSpan.FromSeconds(30));

        // machine-a's runner is killed outright (SIGKILL of the process alone): its job's watchdog kills the job's
        // process group, and the service queues the job again once its heartbeat is missed.
        var orphanPid = int.Parse(File.ReadAllLines(pids).Single(l => l.StartsWith($"{orphan.Context} 1 ", StringComparison.Ordinal)).Split(' ')[2]);
        a.Kill(alone: true);
        await Simulator.SimulatorClient.WaitUntilAsync(_ => Task.FromResult(!IsAlive(orphanPid)), TimeSpan.FromSeconds(15));
        await Simulator.SimulatorClient.WaitUntilAsync(async _ => (await Jobs(t).GetAsync(orphan.Id))!.State == JobState.Queued, TimeSpan.FromSeconds(30));
        await Simulator.SimulatorClient.WaitUntilAsync(async _ => (await GetAsync(t, $"/runs/{orphan.Id}/log")).Body.Contains("runner machine-a stopped answering"),
            TimeSpan.FromSeconds(10));
        File.WriteAllText(gate, "");

        await RunUntilAsync(t, () => t.AllClosedAsync(n));

        (await t.PrAsync(n)).Merged.Should().BeTrue();
        var rerun = (await Jobs(t).GetAsync(orphan.Id))!;
        (rerun.State, rerun.Tries).Should().Be((JobState.Success, 2));
        rerun.ClaimedBy.Should().StartWith("runner:machine-b#", "the job ran again on the runner still alive");
        var log = (await GetAsync(t, $"/runs/{orphan.Id}/log")).Body;
        log.Should().Contain("try 1 key=none").And.Contain("try 2 key=none").And.EndWith("done\n");
        b.HasExited.Should().BeFalse(b.Output);
        b.Output.Should().NotContain(key, "a runner never logs its key");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Runner_ExternalRunnerWithAKeyOfAnotherRole_IsRefusedAndExitsSaysWhy()
    {
        await using var t = await ServiceTester.StartAsync(Config("{ run: sh ./test.sh }"), NoCi, ExternalOnly());

        await using var runner = StartRunner(t, "intruder", AdminKey);

        (await runner.WaitForExitAsync(TimeSpan.FromSeconds(60))).Should().Be(2);
        runner.Output.Should().Contain("refused this runner").And.Contain("runner role").And.NotContain(AdminKey);
    }
}
