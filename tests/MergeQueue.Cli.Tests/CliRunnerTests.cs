using MergeQueue.Core;
using MergeQueue.Data;
using MergeQueue.EndToEnd.Tests;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.Cli.Tests;

/// <summary>
/// The runner's history from the CLI (issue 16 item 6): <c>trigger --branch</c>, <c>commits</c>, <c>results</c>,
/// <c>runs show</c> and <c>runs log</c> against one service with the built-in runner on and simulated CI off.
/// </summary>
[TestFixture, NonParallelizable, CancelAfter(60_000)]
public class CliRunnerTests
{
    private const string Repo = ServiceTester.Repo;
    private const string AdminKey = "bootstrap-admin-key-for-cli-runner-tests-0123";

    private const string Config = """
        target_branches: [main]
        required_checks: [test]
        jobs:
          test: { run: 'echo "runner says hi to $MERGEQUEUE_JOB"', on: [push] }
        """;

    private ServiceTester _t = null!;
    private Dictionary<string, string?> _env = null!;
    private string _main = "";
    private CliRun _trigger = null!;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _t = await ServiceTester.StartAsync(Config, new CiConfig(Contexts: [], PullRequestHeads: false, DelayMs: 10), new Dictionary<string, string?>
        {
            ["MergeQueue:Api:AdminKey"] = AdminKey,
            ["MergeQueue:Runner:Enabled"] = "true",
            ["MergeQueue:Runner:PollInterval"] = "00:00:00.200",
        });
        _env = new Dictionary<string, string?> { ["MERGEQUEUE_URL"] = _t.ServiceUrl.ToString(), ["MERGEQUEUE_KEY"] = AdminKey };
        // The service learns the repository from its deliveries.
        await _t.OpenPrAsync(title: "seed");
        await _t.SettleDeliveriesAsync();
        _main = (await _t.Control.BranchShaAsync(Repo, "main"))!;

        _trigger = await Run("trigger", Repo, "--branch", "main");
        var jobs = _t.Service.Services.GetRequiredService<RunnerJobStore>();
        await SimulatorClient.WaitUntilAsync(async _ => (await jobs.ForCommitAsync(RepoId.Parse(Repo), new CommitSha(_main))).All(j => j.IsFinal),
            TimeSpan.FromSeconds(30));
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_t is not null) await _t.DisposeAsync();
    }

    private Task<CliRun> Run(params string[] args) => CliRun.RunAsync(_env, args);

    private long JobId => long.Parse(_trigger.Out.Split('\n')[1].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);

    [Test]
    public void Trigger_Branch_QueuesTheJobsOnItsHead()
    {
        _trigger.ShouldSucceed();
        _trigger.Out.Should().StartWith($"queued 1 job(s) on {_main} (main)\n").And.Contain($"  test  http://mq.example/runs/{JobId}");
    }

    [Test]
    public async Task Commits_TableAndFilters()
    {
        var table = (await Run("commits", Repo)).ShouldSucceed();
        table.Out.Should().StartWith("SHA").And.Contain(_main[..12]).And.Contain("main").And.Contain("push").And.Contain("success").And.Contain("1/1 passed");
        var json = (await Run("commits", Repo, "--branch", "main", "--job", "test", "--result", "success", "--json")).ShouldSucceed().Json();
        json.EnumerateArray().Select(c => c.GetProperty("sha").GetString()).Should().Equal(_main);
        (await Run("commits", Repo, "--result", "failure")).ShouldSucceed().Out.Should().NotContain(_main[..12]);
        (await Run("commits", Repo, "--limit", "1")).ShouldSucceed().Out.Should().Contain("older: --before ");
    }

    [Test]
    public async Task Results_RunsShow_AndRunsLog()
    {
        var results = (await Run("results", Repo, _main[..10])).ShouldSucceed();
        results.Out.Should().StartWith("ID").And.Contain($"{JobId} ").And.Contain("test").And.Contain("success").And.Contain("passed in");
        (await Run("runs", "show", JobId.ToString(System.Globalization.CultureInfo.InvariantCulture))).ShouldSucceed().Out
            .Should().Contain($"sha:          {_main}").And.Contain("state:        success").And.Contain($"logUrl:       http://mq.example/runs/{JobId}/log");
        (await Run("runs", "log", JobId.ToString(System.Globalization.CultureInfo.InvariantCulture))).ShouldSucceed().Out.Should().Be("runner says hi to test\n");
        (await Run("runs", "log", "999999")).ShouldFail(1, "404 Not found: There is no runner job 999999.");
        (await Run("results", Repo, new string('e', 40))).ShouldFail(1, "404");
    }
}
