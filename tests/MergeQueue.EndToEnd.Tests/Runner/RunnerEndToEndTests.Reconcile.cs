using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using MergeQueue.Core;
using MergeQueue.Core.Runner;
using MergeQueue.EndToEnd.Tests.Api;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;

namespace MergeQueue.EndToEnd.Tests.Runner;

/// <summary>Keeping statuses true (docs/runner.md): the reconciler of the poll tick and of the admin API call.</summary>
public partial class RunnerEndToEndTests
{
    private const string AdminKey = "runner-e2e-admin-key-0123456789abcdef";

    private static string WithLint(string lint = "{ run: 'echo lint ok', on: [pull_request] }") => Config("{ run: sh ./test.sh }\n  lint: " + lint);

    /// <summary>Opens a PR whose <c>pull_request</c> delivery is lost: the runner never hears of its head.</summary>
    private static async Task<int> OpenPrUnheardAsync(ServiceTester t)
    {
        await t.Control.SetWebhookFaultsAsync(new WebhookFaults(DropEvents: ["pull_request"]));
        var n = await t.OpenPrAsync();
        await t.SettleAsync();
        await t.Control.SetWebhookFaultsAsync(new WebhookFaults());
        return n;
    }

    /// <summary>Posts a commit status as the service's bot, through the simulator's REST API.</summary>
    private static async Task PostStatusAsBotAsync(ServiceTester t, string sha, string context, string state, string description)
    {
        using var http = new HttpClient { BaseAddress = t.Simulator.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("token", t.BotToken);
        http.DefaultRequestHeaders.UserAgent.ParseAdd("e2e-test");
        var response = await http.PostAsJsonAsync($"repos/{ServiceTester.Repo}/statuses/{sha}", new { state, context, description });
        response.StatusCode.Should().Be(HttpStatusCode.Created);
    }

    /// <summary>The PR head's status of the context once it is no longer pending (a job's row ends just before its status is posted).</summary>
    private static Task<StatusSnapshot> FinalStatusAsync(ServiceTester t, int number, string context) =>
        SimulatorClient.WaitForAsync(async _ => (await t.QueueStatusAsync(number, context))!, s => s is { State: not "pending" }, TimeSpan.FromSeconds(30));

    private static async Task<ApiResponse> ReconcileAsync(ServiceTester t, string? key = AdminKey)
    {
        using var api = new ApiClient(t.ServiceUrl, key);
        return await api.PostAsync($"api/v1/repos/{ServiceTester.Repo}/statuses/reconcile");
    }

    [Test]
    public async Task Reconcile_StalePendingStatusWithoutJob_ApiQueuesTheJobAgainAndItReports()
    {
        await using var t = await StartAsync(WithLint(), api: true);
        var n = await OpenPrUnheardAsync(t);
        var head = (await t.PrAsync(n)).HeadSha;
        // As if an earlier instance had queued it and lost its job.
        await PostStatusAsBotAsync(t, head, "lint", "pending", "queued");
        (await Jobs(t).ForCommitAsync(RepoId.Parse(ServiceTester.Repo), new CommitSha(head))).Should().BeEmpty();

        (await ReconcileAsync(t, key: null)).Status.Should().Be(HttpStatusCode.Unauthorized);
        var answer = await ReconcileAsync(t);

        answer.Status.Should().Be(HttpStatusCode.OK, answer.ToString());
        (answer.Json.GetProperty("queued").GetInt32(), answer.Json.GetProperty("removed").GetInt32(), answer.Json.GetProperty("created").GetInt32())
            .Should().Be((1, 0, 0));
        var job = await WaitForJobAsync(t, j => j.Context == "lint" && j.IsFinal);
        (job.State, job.Trigger, job.Branch, job.Sha.Value).Should().Be((JobState.Success, Core.Config.JobTrigger.PullRequest, $"pull/{n}", head));
        var status = await FinalStatusAsync(t, n, "lint");
        (status.State, status.TargetUrl).Should().Be(("success", $"http://mq.example/runs/{job.Id}"));

        var again = await ReconcileAsync(t);
        (again.Json.GetProperty("queued").GetInt32(), again.Json.GetProperty("created").GetInt32()).Should().Be((0, 0), "a true status is left alone");
    }

    [Test]
    public async Task Reconcile_PrHeadWithoutItsJobStatus_PollTickCreatesTheJob()
    {
        await using var t = await StartAsync(WithLint());
        var n = await OpenPrUnheardAsync(t);
        (await t.QueueStatusAsync(n, "lint")).Should().BeNull("the runner never heard of the head");

        await t.TickAsync();

        var job = await WaitForJobAsync(t, j => j.Context == "lint" && j.IsFinal);
        (job.State, job.Trigger, job.Sha.Value).Should().Be((JobState.Success, Core.Config.JobTrigger.PullRequest, (await t.PrAsync(n)).HeadSha));
        (await FinalStatusAsync(t, n, "lint")).State.Should().Be("success");
        await t.TickAsync();
        (await Jobs(t).RecentAsync(RepoId.Parse(ServiceTester.Repo), 10)).Should().ContainSingle("the next tick finds the status true");
    }

    [Test]
    public async Task Reconcile_JobRemovedFromTheConfig_ItsPendingStatusBecomesSuccessAndItsJobIsCancelled()
    {
        var gate = Path.Combine(scratch, "gate");
        await using var t = await StartAsync(WithLint($$"""{ run: 'while [ ! -f "$GATE" ]; do sleep 0.1; done', on: [pull_request], env: { GATE: "{{gate}}" } }"""));
        var n = await t.OpenPrAsync();
        var running = await WaitForJobAsync(t, j => j.Context == "lint" && j.State == JobState.Running);

        await t.Control.CommitAsync(ServiceTester.Repo, "main", new Dictionary<string, string?> { [".github/mergequeue.yml"] = Config("{ run: sh ./test.sh }") },
            "Drop the lint job", createBranch: false);
        await t.SettleAsync();
        await t.TickAsync();

        var status = (await t.QueueStatusAsync(n, "lint"))!;
        (status.State, status.Description).Should().Be(("success", "job removed"));
        var cancelled = await WaitForJobAsync(t, j => j.Id == running.Id && j.IsFinal);
        (cancelled.State, cancelled.Description).Should().Be((JobState.Cancelled, "job removed"));
        (await Jobs(t).CountActiveAsync()).Should().Be(0);
        await t.TickAsync();
        (await t.Control.ChecksAsync(ServiceTester.Repo, (await t.PrAsync(n)).HeadSha)).Statuses.Count(s => s.Context == "lint" && s.State == "success")
            .Should().Be(1, "a removed job's status is set once");
    }

    [Test]
    public async Task Reconcile_ApiCall_OnlyAdminsAndOnlyWhereTheRunnerIsOn()
    {
        await using var t = await ServiceTester.StartAsync(WithLint(), NoCi, new Dictionary<string, string?> { ["MergeQueue:Api:AdminKey"] = AdminKey });
        await t.OpenPrAsync();
        await t.SettleAsync();
        using var admin = new ApiClient(t.ServiceUrl, AdminKey);
        var created = await admin.PostAsync("api/v1/keys", new { name = "assigned", role = "user", repos = new[] { ServiceTester.Repo } });
        created.Status.Should().Be(HttpStatusCode.Created, created.ToString());

        (await ReconcileAsync(t, created.Json.GetProperty("key").GetString())).Status.Should().Be(HttpStatusCode.Forbidden, "an assigned user is no admin");
        var off = await ReconcileAsync(t);
        off.Status.Should().Be(HttpStatusCode.Conflict, off.ToString());
        off.Body.Should().Contain("MergeQueue:Runner:Enabled");
        (await admin.PostAsync("api/v1/repos/acme/nothing/statuses/reconcile")).Status.Should().Be(HttpStatusCode.NotFound);
        (await t.QueueStatusAsync(1, "lint")).Should().BeNull("nothing is queued with the runner off");
    }
}
