using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MergeQueue.EndToEnd.Tests;

namespace MergeQueue.Cli.Tests;

/// <summary>
/// Issue 8 part 3: the <c>mergequeue</c> CLI against the real service and the GitHub simulator.
/// One service for the fixture; each test uses its own pull requests, keys and users.
/// </summary>
[TestFixture, NonParallelizable, CancelAfter(120_000)]
public class CliTests
{
    private const string Repo = ServiceTester.Repo;
    private const string AdminKey = "bootstrap-admin-key-for-cli-tests-0123456789";

    private ServiceTester _t = null!;
    private Dictionary<string, string?> _env = null!;
    private int _seedPr;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _t = await ServiceTester.StartAsync(settings: new Dictionary<string, string?> { ["MergeQueue:Api:AdminKey"] = AdminKey });
        _env = new Dictionary<string, string?> { ["MERGEQUEUE_URL"] = _t.ServiceUrl.ToString(), ["MERGEQUEUE_KEY"] = AdminKey };
        // The service learns the repository from its deliveries.
        _seedPr = await _t.OpenPrAsync(title: "seed");
        await _t.SettleDeliveriesAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        if (_t is not null) await _t.DisposeAsync();
    }

    private Task<CliRun> Run(params string[] args) => CliRun.RunAsync(_env, args);

    private Task<CliRun> RunWithKey(string key, params string[] args) =>
        CliRun.RunAsync(new Dictionary<string, string?>(_env) { ["MERGEQUEUE_KEY"] = key }, args);

    private async Task<string> NewKeyAsync(string name, string role, params string[] repos)
    {
        var args = new List<string> { "keys", "create", "--name", name, "--role", role, "--json" };
        foreach (var r in repos) args.AddRange(["--repo", r]);
        var run = (await Run([.. args])).ShouldSucceed();
        return run.Json().GetProperty("key").GetString()!;
    }

    private async Task<JsonElement> PullJsonAsync(int number) => (await Run("pr", $"{Repo}#{number}", "--json")).ShouldSucceed().Json();

    // ---- reads ----

    [Test]
    public async Task Repos_Table_ListsTheRepositoryAndItsTarget()
    {
        var run = (await Run("repos")).ShouldSucceed();
        run.Out.Should().StartWith("REPOSITORY");
        run.Out.Should().Contain(Repo).And.Contain("main (queued");
    }

    [Test]
    public async Task Repos_Json_IsTheServersArray()
    {
        var json = (await Run("repos", "--json")).ShouldSucceed().Json();
        json.ValueKind.Should().Be(JsonValueKind.Array);
        json.EnumerateArray().Select(r => r.GetProperty("fullName").GetString()).Should().Contain(Repo);
    }

    [Test]
    public async Task Queue_RequestedPr_AppearsInTableAndJson()
    {
        var pr = await _t.OpenPrAsync(title: "queue me");
        await _t.ApproveAndMergeAsync(pr);
        await _t.SettleDeliveriesAsync();

        var table = (await Run("queue", Repo)).ShouldSucceed();
        table.Out.Should().StartWith("PR").And.Contain($"#{pr} ").And.Contain("queue me");

        var json = (await Run("queue", Repo, "--json", "--state", "all")).ShouldSucceed().Json();
        json.EnumerateArray().Should().Contain(p => p.GetProperty("number").GetInt32() == pr && p.GetProperty("target").GetString() == "main");
    }

    [Test]
    public async Task Pr_NotApproved_ShowsWhyNotMerging()
    {
        var pr = await _t.OpenPrAsync(title: "needs review");
        (await Run("merge", $"{Repo}#{pr}")).ShouldSucceed();

        var json = await PullJsonAsync(pr);
        json.GetProperty("number").GetInt32().Should().Be(pr);
        var why = json.GetProperty("whyNotMerging").EnumerateArray().Select(w => w.GetString()!).ToList();
        why.Should().NotBeEmpty();

        var human = (await Run("pr", $"{Repo}#{pr}")).ShouldSucceed();
        human.Out.Should().StartWith($"{Repo}#{pr}").And.Contain("Why not merging:").And.Contain("needs review");
        foreach (var line in why) human.Out.Should().Contain("- " + line);
    }

    // ---- actions ----

    [Test]
    public async Task Merge_WithPriorityAndBranch_ThenCancel_ThenRetry_RepeatsThePriority()
    {
        var pr = await _t.OpenPrAsync(title: "prioritised");

        (await Run("merge", $"{Repo}#{pr}", "--priority", "5", "--branch", "main")).ShouldSucceed().Out.Should().NotBeNullOrWhiteSpace();
        var requested = (await PullJsonAsync(pr)).GetProperty("requests").EnumerateArray().ToList();
        requested.Should().ContainSingle().Which.GetProperty("priority").GetInt32().Should().Be(5);

        (await Run("cancel", $"{Repo}#{pr}")).ShouldSucceed();
        (await PullJsonAsync(pr)).GetProperty("requests").EnumerateArray().Single().GetProperty("state").GetString().Should().Be("Cancelled");

        (await Run("retry", $"{Repo}#{pr}")).ShouldSucceed();
        var after = (await PullJsonAsync(pr)).GetProperty("requests").EnumerateArray().ToList();
        after.Should().HaveCount(2);
        after.Should().Contain(r => r.GetProperty("state").GetString() != "Cancelled" && r.GetProperty("priority").GetInt32() == 5);
    }

    [Test]
    public async Task Cancel_NothingQueued_Is409WithTheQueuesReason()
    {
        var pr = await _t.OpenPrAsync(title: "never requested");
        var run = await Run("cancel", $"{Repo}#{pr}");
        run.ShouldFail(1, "409");
    }

    [Test]
    public async Task Trigger_Repository_RunsConstruct()
    {
        var run = (await Run("trigger", Repo)).ShouldSucceed();
        run.Out.Should().Contain("main");
    }

    [Test]
    public async Task Trigger_BranchWithTheRunnerOff_Exits1WithTheConflict()
    {
        (await Run("trigger", Repo, "--branch", "main")).ShouldFail(1, "409 Runner off: The built-in runner is not enabled");
    }

    [Test]
    public async Task Freeze_ThenUnfreeze_ShowsOnTheRepositoryAndUnfreezeTwiceIsRefused()
    {
        (await Run("freeze", Repo, "main", "--reason", "release 2.0")).ShouldSucceed();
        var main = (await Run("repos", "--json")).ShouldSucceed().Json().EnumerateArray().Single(r => r.GetProperty("fullName").GetString() == Repo)
            .GetProperty("targets").EnumerateArray().Single(t => t.GetProperty("target").GetString() == "main");
        main.GetProperty("freeze").GetProperty("reason").GetString().Should().Be("release 2.0");
        (await Run("repos")).ShouldSucceed().Out.Should().Contain("FROZEN");

        (await Run("unfreeze", Repo, "main")).ShouldSucceed();
        (await Run("repos")).ShouldSucceed().Out.Should().NotContain("FROZEN");
        (await Run("unfreeze", Repo, "main")).ShouldFail(1, "409");
    }

    // ---- keys ----

    [Test]
    public async Task Keys_CreateListRevoke_RevokedKeyIsRefused()
    {
        var created = (await Run("keys", "create", "--name", "cli-bot", "--role", "user", "--repo", Repo)).ShouldSucceed();
        created.Out.Should().Contain("cli-bot").And.Contain("mq_").And.Contain("not shown again");
        var key = created.Out.Split(' ', '\n').Single(w => w.StartsWith("mq_", StringComparison.Ordinal)).Trim();
        var id = created.Out.Split(' ')[2];

        (await RunWithKey(key, "repos")).ShouldSucceed();

        var list = (await Run("keys", "list")).ShouldSucceed();
        list.Out.Should().Contain("cli-bot").And.Contain(Repo).And.NotContain(key);
        var listed = (await Run("keys", "list", "--json")).ShouldSucceed().Json().EnumerateArray()
            .Single(k => k.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture) == id);
        listed.TryGetProperty("key", out _).Should().BeFalse();

        (await Run("keys", "revoke", id)).ShouldSucceed().Out.Should().Contain($"revoked key {id}");
        (await RunWithKey(key, "repos")).ShouldFail(1, "401");
        (await Run("keys", "revoke", id)).ShouldFail(1, "404");
    }

    // ---- users ----

    [Test]
    public async Task Users_CreateListGetUpdateDelete()
    {
        var created = (await Run("users", "create", "--login", "octocat", "--role", "user", "--repo", Repo, "--json")).ShouldSucceed().Json();
        var id = created.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);
        created.GetProperty("role").GetString().Should().Be("user");

        (await Run("users", "list")).ShouldSucceed().Out.Should().Contain("octocat").And.Contain(Repo);
        (await Run("users", "list", "--json")).ShouldSucceed().Json().EnumerateArray().Should().Contain(u => u.GetProperty("login").GetString() == "octocat");
        (await Run("users", "get", id)).ShouldSucceed().Out.Should().Contain("octocat");

        (await Run("users", "update", id, "--role", "read-only")).ShouldSucceed().Out.Should().Contain("read-only");
        var updated = (await Run("users", "get", id, "--json")).ShouldSucceed().Json();
        updated.GetProperty("role").GetString().Should().Be("read-only");
        updated.GetProperty("repos").EnumerateArray().Select(r => r.GetString()).Should().Equal(Repo);

        (await Run("users", "create", "--login", "OctoCat", "--role", "admin")).ShouldFail(1, "409");

        (await Run("users", "delete", id)).ShouldSucceed().Out.Should().Contain($"deleted user {id}");
        (await Run("users", "get", id)).ShouldFail(1, "404");
    }

    // ---- errors ----

    [Test]
    public async Task NoKey_Exits1WithMessage()
    {
        var run = await CliRun.RunAsync(new Dictionary<string, string?> { ["MERGEQUEUE_URL"] = _t.ServiceUrl.ToString() }, "repos");
        run.ShouldFail(1, "no API key");
    }

    [Test]
    public async Task UnknownKey_Exits1With401()
    {
        (await RunWithKey("mq_not-a-real-key", "repos")).ShouldFail(1, "401");
    }

    [Test]
    public async Task ReadOnlyKey_Acting_Exits1WithTheForbiddenDetail()
    {
        var key = await NewKeyAsync("cli-viewer", "read-only");
        (await RunWithKey(key, "repos")).ShouldSucceed();
        var run = await RunWithKey(key, "merge", $"{Repo}#{_seedPr}");
        run.ShouldFail(1, "403 Forbidden");
        run.Err.Should().Contain("read-only");
        (await RunWithKey(key, "users", "list")).ShouldFail(1, "403");
    }

    [Test]
    public async Task UnknownRepository_Exits1WithNotFound()
    {
        (await Run("pr", "acme/nothing-here#1")).ShouldFail(1, "404");
        (await Run("queue", "acme/nothing-here")).ShouldFail(1, "404");
    }

    [TestCase("pr", "acme/widgets")]
    [TestCase("pr", "acme/widgets#x")]
    [TestCase("queue", "not-a-repo")]
    [TestCase("merge", "acme/widgets#1", "--priority", "high")]
    [TestCase("users", "create", "--login", "x", "--role", "god")]
    [TestCase("users", "update", "1")]
    [TestCase("queue", "acme/widgets", "--limit", "0")]
    [TestCase("freeze", "acme/widgets")]
    [TestCase("bogus")]
    [TestCase("trigger", "acme/widgets", "--branch", "main", "--sha", "0123456789012345678901234567890123456789")]
    [TestCase("commits", "acme/widgets", "--result", "passed")]
    [TestCase("commits", "acme/widgets", "--limit", "0")]
    [TestCase("results", "acme/widgets")]
    [TestCase("runs", "log", "x")]
    [TestCase]
    public async Task BadArguments_Exit2BeforeCallingTheServer(params string[] args)
    {
        var run = await Run(args);
        run.ExitCode.Should().Be(2, run.ToString());
        run.Err.Should().StartWith("mergequeue: ");
        run.Out.Should().BeEmpty();
    }

    [Test]
    public async Task UnreachableServer_Exits1NamingTheUrl()
    {
        var port = ClosedPort();
        var url = $"http://127.0.0.1:{port}/";
        var run = await Run("repos", "--server", url);
        run.ShouldFail(1, "cannot reach the server at " + url);
    }

    [Test]
    public async Task ServerAndKeyFlags_OverrideTheEnvironment()
    {
        var env = new Dictionary<string, string?> { ["MERGEQUEUE_URL"] = $"http://127.0.0.1:{ClosedPort()}/", ["MERGEQUEUE_KEY"] = "mq_wrong" };
        var run = await CliRun.RunAsync(env, "repos", "--server", _t.ServiceUrl.ToString(), "--key", AdminKey);
        run.ShouldSucceed().Out.Should().Contain(Repo);
    }

    private static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
