using System.Net;
using System.Text;
using System.Text.Json;
using MergeQueue.Data;
using MergeQueue.Simulator.Control;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests.Api;

/// <summary>
/// Issue 8 part 1: the REST API with keys and roles, against the real service and the simulator.
/// One service for the fixture; each test uses its own pull requests.
/// </summary>
[TestFixture("sqlite"), TestFixture("postgres"), NonParallelizable, CancelAfter(120_000)]
public class ApiTests(string provider)
{
    private const string Repo = ServiceTester.Repo;
    private const string AdminKey = "bootstrap-admin-key-for-tests-0123456789";
    private const int PerMinute = 100;
    // Above the wrong keys the other tests send from loopback (every endpoint once, revoked keys).
    private const int FailuresPerMinute = 50;

    private ServiceTester _t = null!;
    private readonly StringWriter _log = new();
    private TextWriter _console = null!;
    private ApiClient _bootstrap = null!, _admin = null!, _user = null!, _otherUser = null!, _readOnly = null!, _anonymous = null!;
    private readonly List<string> _keys = [];
    private int _seedPr;

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        // The service logs to the console (Serilog): capture it to prove keys never appear in it.
        _console = Console.Out;
        Console.SetOut(TextWriter.Synchronized(_log));
        _t = await ServiceTester.StartAsync(provider: provider, settings: new Dictionary<string, string?>
        {
            ["MergeQueue:Api:AdminKey"] = AdminKey,
            ["MergeQueue:Api:RequestsPerMinute"] = PerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MergeQueue:Api:FailedAttemptsPerMinute"] = FailuresPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Serilog:MinimumLevel:Default"] = "Information",
        });
        _bootstrap = new ApiClient(_t.ServiceUrl, AdminKey);
        _anonymous = new ApiClient(_t.ServiceUrl, null);
        _admin = await NewKeyAsync("ops-admin", "admin");
        _user = await NewKeyAsync("widgets-bot", "user", Repo);
        _otherUser = await NewKeyAsync("gadgets-bot", "user", "acme/gadgets");
        _readOnly = await NewKeyAsync("viewer", "read-only");
        // The service learns the repository from its deliveries.
        _seedPr = await _t.OpenPrAsync(title: "seed");
        await _t.SettleDeliveriesAsync();
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        Console.SetOut(_console);
        _bootstrap?.Dispose();
        _admin?.Dispose();
        _user?.Dispose();
        _otherUser?.Dispose();
        _readOnly?.Dispose();
        _anonymous?.Dispose();
        _log.Dispose();
        if (_t is not null) await _t.DisposeAsync();
    }

    private async Task<ApiClient> NewKeyAsync(string name, string role, params string[] repos)
    {
        var created = await _bootstrap.PostAsync("api/v1/keys", new { name, role, repos });
        created.Status.Should().Be(HttpStatusCode.Created, created.ToString());
        var key = created.Json.GetProperty("key").GetString()!;
        created.Json.GetProperty("role").GetString().Should().Be(role);
        created.Json.GetProperty("id").GetInt64().Should().BePositive();
        _keys.Add(key);
        return new ApiClient(_t.ServiceUrl, key);
    }

    private static void ShouldBeProblem(ApiResponse response, HttpStatusCode status)
    {
        response.Status.Should().Be(status, response.ToString());
        response.ContentType.Should().Be("application/problem+json", response.ToString());
        response.Json.GetProperty("status").GetInt32().Should().Be((int)status);
    }

    /// <summary>Every endpoint, with a body where it takes one.</summary>
    private static readonly (string Method, string Path, object? Body)[] Endpoints =
    [
        ("GET", "api/v1/status", null),
        ("GET", "api/v1/repos", null),
        ("GET", $"api/v1/repos/{Repo}", null),
        ("POST", $"api/v1/repos/{Repo}/enable", null),
        ("POST", $"api/v1/repos/{Repo}/disable", null),
        ("GET", $"api/v1/repos/{Repo}/pulls", null),
        ("GET", $"api/v1/repos/{Repo}/pulls/1", null),
        ("POST", $"api/v1/repos/{Repo}/pulls/1/merge", new { priority = 1 }),
        ("POST", $"api/v1/repos/{Repo}/pulls/1/cancel", null),
        ("POST", $"api/v1/repos/{Repo}/pulls/1/retry", null),
        ("GET", $"api/v1/repos/{Repo}/attempts", null),
        ("GET", $"api/v1/repos/{Repo}/attempts/1", null),
        ("POST", $"api/v1/trigger/{Repo}", null),
        ("POST", $"api/v1/repos/{Repo}/targets/main/freeze", new { reason = "x" }),
        ("POST", $"api/v1/repos/{Repo}/targets/main/unfreeze", null),
        ("GET", "api/v1/users", null),
        ("POST", "api/v1/users", new { login = "zed", role = "user", repos = new[] { Repo } }),
        ("GET", "api/v1/users/1", null),
        ("PUT", "api/v1/users/1", new { role = "read-only" }),
        ("DELETE", "api/v1/users/1", null),
        ("POST", "api/v1/keys", new { name = "k", role = "read-only" }),
        ("GET", "api/v1/keys", null),
        ("DELETE", "api/v1/keys/1", null),
    ];

    private static readonly string[] ReadPaths = ["api/v1/status", "api/v1/repos", $"api/v1/repos/{Repo}", $"api/v1/repos/{Repo}/pulls", $"api/v1/repos/{Repo}/attempts"];

    [Test]
    public async Task EveryEndpoint_WithoutAKeyOrWithABadKey_Is401ProblemDetails()
    {
        using var wrong = new ApiClient(_t.ServiceUrl, "mq_not-a-real-key");
        foreach (var (method, path, body) in Endpoints)
        {
            var response = await _anonymous.SendAsync(new HttpMethod(method), path, body);
            ShouldBeProblem(response, HttpStatusCode.Unauthorized);
            response.WwwAuthenticate.Should().Be("Bearer");
            ShouldBeProblem(await wrong.SendAsync(new HttpMethod(method), path, body), HttpStatusCode.Unauthorized);
        }
    }

    [Test]
    public async Task ReadOnlyKey_ReadsEverything_AndIsRefusedEveryAction()
    {
        foreach (var path in ReadPaths.Append($"api/v1/repos/{Repo}/pulls/{_seedPr}"))
            (await _readOnly.GetAsync(path)).Status.Should().Be(HttpStatusCode.OK, path);
        foreach (var (method, path, body) in Endpoints.Where(e => e.Method != "GET" || e.Path.Contains("users") || e.Path.Contains("keys")))
            ShouldBeProblem(await _readOnly.SendAsync(new HttpMethod(method), path, body), HttpStatusCode.Forbidden);
    }

    [Test]
    public async Task UserKey_ActsOnItsRepositoriesOnly_AndNeverOnUsersKeysOrSwitches()
    {
        foreach (var path in ReadPaths) (await _otherUser.GetAsync(path)).Status.Should().Be(HttpStatusCode.OK, path);
        var actions = Endpoints.Where(e => e.Method == "POST" && !e.Path.Contains("users") && !e.Path.Contains("keys") && !e.Path.EndsWith("able", StringComparison.Ordinal));
        foreach (var (method, path, body) in actions)
            ShouldBeProblem(await _otherUser.SendAsync(new HttpMethod(method), path, body), HttpStatusCode.Forbidden);
        foreach (var (method, path, body) in Endpoints.Where(e => e.Path.Contains("users") || e.Path.Contains("keys") || e.Path.EndsWith("able", StringComparison.Ordinal)))
        {
            ShouldBeProblem(await _user.SendAsync(new HttpMethod(method), path, body), HttpStatusCode.Forbidden);
            ShouldBeProblem(await _otherUser.SendAsync(new HttpMethod(method), path, body), HttpStatusCode.Forbidden);
        }
        // Its own repository: trigger is allowed.
        (await _user.PostAsync($"api/v1/trigger/{Repo}")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Test]
    public async Task Status_NamesTheCaller()
    {
        var status = await _user.GetAsync("api/v1/status");
        status.Status.Should().Be(HttpStatusCode.OK, status.ToString());
        status.Json.GetProperty("caller").GetProperty("name").GetString().Should().Be("widgets-bot");
        status.Json.GetProperty("caller").GetProperty("role").GetString().Should().Be("user");
        status.Json.GetProperty("healthy").GetBoolean().Should().BeTrue();
        status.Json.GetProperty("repositories").GetInt32().Should().BeGreaterThanOrEqualTo(1);
    }

    [Test]
    public async Task Repositories_ListAndGet_UnknownIs404()
    {
        var list = await _readOnly.GetAsync("api/v1/repos");
        list.Json.EnumerateArray().Select(r => r.GetProperty("fullName").GetString()).Should().Contain(Repo);
        var one = await _readOnly.GetAsync($"api/v1/repos/{Repo}");
        one.Json.GetProperty("managed").GetBoolean().Should().BeTrue();
        one.Json.GetProperty("enabled").GetBoolean().Should().BeTrue();
        one.Json.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("target").GetString()).Should().Contain("main");
        foreach (var path in new[] { "api/v1/repos/acme/nothing", "api/v1/repos/acme/nothing/pulls", "api/v1/repos/acme/nothing/pulls/1",
                     "api/v1/repos/acme/nothing/attempts", $"api/v1/repos/{Repo}/attempts/999999", "api/v1/no-such-endpoint" })
            ShouldBeProblem(await _readOnly.GetAsync(path), HttpStatusCode.NotFound);
        ShouldBeProblem(await _admin.PostAsync("api/v1/trigger/acme/nothing"), HttpStatusCode.NotFound);
        ShouldBeProblem(await _admin.PostAsync("api/v1/repos/acme/nothing/disable"), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Pulls_BadStateFilterOrLimit_Is422()
    {
        ShouldBeProblem(await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?state=bogus"), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?limit=0"), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _readOnly.GetAsync($"api/v1/repos/{Repo}/attempts?limit=5000"), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?limit=lots"), HttpStatusCode.UnprocessableEntity);
        (await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?state=all&limit=5")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Test]
    public async Task Merge_ThroughTheApi_MergesAgainstTheSimulator_AndIsLoggedWithTheKeysName()
    {
        var n = await _t.OpenPrAsync(new Dictionary<string, string?> { ["api-merge.txt"] = "hello\n" }, title: "api merge");
        await _t.ApproveAsync(n);
        await _t.SettleDeliveriesAsync();

        var merge = await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{n}/merge", new { priority = 2 });
        merge.Status.Should().Be(HttpStatusCode.OK, merge.ToString());
        merge.Json.GetProperty("accepted").GetBoolean().Should().BeTrue();

        var queued = await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?state=active");
        queued.Json.EnumerateArray().Should().Contain(p => p.GetProperty("number").GetInt32() == n && p.GetProperty("priority").GetInt32() == 2);

        await _t.RunUntilAsync(() => _t.AllClosedAsync(n));
        var main = await _t.Control.BranchShaAsync(Repo, "main");
        (await _t.QueueStatusAsync(n))!.Should().Match<StatusSnapshot>(s => s.State == "success" && s.Description == $"Merged in {main}");
        await _t.AssertTargetOnlyMovedToGreenAsync();

        var detail = await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls/{n}");
        detail.Status.Should().Be(HttpStatusCode.OK, detail.ToString());
        detail.Json.GetProperty("requests").EnumerateArray().Last().GetProperty("state").GetString().Should().Be("Merged");
        detail.Json.GetProperty("whyNotMerging").EnumerateArray().Single().GetString().Should().StartWith("It merged");
        var apiChanges = detail.Json.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("change"))
            .Where(c => c.GetProperty("causeKind").GetString() == "api").ToList();
        apiChanges.Should().NotBeEmpty();
        apiChanges.Should().OnlyContain(c => c.GetProperty("actor").GetString() == "widgets-bot");

        var merged = await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?state=merged");
        merged.Json.EnumerateArray().Should().Contain(p => p.GetProperty("number").GetInt32() == n);
        var attempts = await _readOnly.GetAsync($"api/v1/repos/{Repo}/attempts");
        var attempt = attempts.Json.EnumerateArray().First(a => a.GetProperty("pullRequests").EnumerateArray().Any(x => x.GetInt32() == n));
        attempt.GetProperty("state").GetString().Should().Be("Merged");
        var one = await _readOnly.GetAsync($"api/v1/repos/{Repo}/attempts/{attempt.GetProperty("id").GetInt64()}");
        one.Json.GetProperty("stagingSha").GetString().Should().Be(main);
    }

    [Test]
    public async Task Cancel_ThroughTheApi_TakesThePrOutOfTheQueue_AndRetryRequestsAgain()
    {
        var n = await _t.OpenPrAsync(new Dictionary<string, string?> { ["api-cancel.txt"] = "bye\n" }, title: "api cancel");
        await _t.ApproveAsync(n);
        await _t.SettleDeliveriesAsync();
        (await _admin.PostAsync($"api/v1/repos/{Repo}/pulls/{n}/merge")).Status.Should().Be(HttpStatusCode.OK);

        var cancel = await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{n}/cancel");
        cancel.Status.Should().Be(HttpStatusCode.OK, cancel.ToString());
        await _t.SettleDeliveriesAsync();
        (await _t.QueueStatusAsync(n))!.State.Should().Be("failure");
        var cancelled = await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?state=cancelled");
        cancelled.Json.EnumerateArray().Should().Contain(p => p.GetProperty("number").GetInt32() == n);
        // Cancelling again: nothing to cancel, the queue refuses (409).
        ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{n}/cancel"), HttpStatusCode.Conflict);

        var retry = await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{n}/retry");
        retry.Status.Should().Be(HttpStatusCode.OK, retry.ToString());
        var active = await _readOnly.GetAsync($"api/v1/repos/{Repo}/pulls?state=requested,queued");
        active.Json.EnumerateArray().Should().Contain(p => p.GetProperty("number").GetInt32() == n);
        (await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{n}/cancel")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Test]
    public async Task Merge_BadInput_Is422_AndAnUnknownPrIsRefused()
    {
        ShouldBeProblem(await _user.SendAsync(HttpMethod.Post, $"api/v1/repos/{Repo}/pulls/{_seedPr}/merge", rawBody: "{not json"), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _user.SendAsync(HttpMethod.Post, $"api/v1/repos/{Repo}/pulls/{_seedPr}/merge", rawBody: """{"priority":"high"}"""), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{_seedPr}/merge", new { branch = "../etc" }), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{_seedPr}/merge", new { branch = "nope" }), HttpStatusCode.Conflict);
        ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/pulls/4242/merge"), HttpStatusCode.Conflict);
    }

    [Test]
    public async Task FreezeAndUnfreeze_PerTarget()
    {
        var freeze = await _user.PostAsync($"api/v1/repos/{Repo}/targets/main/freeze", new { reason = "release" });
        freeze.Status.Should().Be(HttpStatusCode.OK, freeze.ToString());
        var repo = await _readOnly.GetAsync($"api/v1/repos/{Repo}");
        var main = repo.Json.GetProperty("targets").EnumerateArray().Single(t => t.GetProperty("target").GetString() == "main");
        main.GetProperty("freeze").GetProperty("frozenBy").GetString().Should().Be("widgets-bot");
        main.GetProperty("freeze").GetProperty("reason").GetString().Should().Be("release");

        (await _user.PostAsync($"api/v1/repos/{Repo}/targets/main/unfreeze")).Status.Should().Be(HttpStatusCode.OK);
        ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/targets/main/unfreeze"), HttpStatusCode.Conflict);
        ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/targets/nope/freeze"), HttpStatusCode.Conflict);
        var slashed = await _user.PostAsync($"api/v1/repos/{Repo}/targets/release%2F2/freeze");
        ShouldBeProblem(slashed, HttpStatusCode.Conflict);
        slashed.Json.GetProperty("detail").GetString().Should().Be("release/2 is not a target branch of the queue");
        ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/targets/main/freeze", new { reason = new string('x', 501) }), HttpStatusCode.UnprocessableEntity);
        repo = await _readOnly.GetAsync($"api/v1/repos/{Repo}");
        repo.Json.GetProperty("targets").EnumerateArray().Single(t => t.GetProperty("target").GetString() == "main")
            .GetProperty("freeze").ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Test]
    public async Task DisabledRepository_RefusesActions_AndIgnoresDeliveries_UntilEnabled()
    {
        try
        {
            (await _admin.PostAsync($"api/v1/repos/{Repo}/disable")).Status.Should().Be(HttpStatusCode.OK);
            (await _readOnly.GetAsync($"api/v1/repos/{Repo}")).Json.GetProperty("enabled").GetBoolean().Should().BeFalse();
            ShouldBeProblem(await _user.PostAsync($"api/v1/repos/{Repo}/pulls/{_seedPr}/merge"), HttpStatusCode.Conflict);

            // A merge command on GitHub changes nothing while disabled: no reaction, no status.
            var n = await _t.OpenPrAsync(new Dictionary<string, string?> { ["disabled.txt"] = "x\n" }, title: "disabled");
            await _t.ApproveAsync(n);
            var comment = await _t.MergeAsync(n);
            await _t.SettleDeliveriesAsync();
            (await _t.QueueStatusAsync(n)).Should().BeNull();
            (await _t.Control.CommentsAsync(Repo, n)).Single(c => c.Id == comment.Id).Reactions.Should().BeEmpty();
        }
        finally
        {
            (await _admin.PostAsync($"api/v1/repos/{Repo}/enable")).Status.Should().Be(HttpStatusCode.OK);
        }
        (await _readOnly.GetAsync($"api/v1/repos/{Repo}")).Json.GetProperty("enabled").GetBoolean().Should().BeTrue();
        await using var db = await _t.OpenDatabaseAsync();
        using var command = db.CreateCommand();
        command.CommandText = "SELECT enabled, changed_by FROM repo_setting";
        using var reader = command.ExecuteReader();
        reader.Read().Should().BeTrue("the switch is persisted");
        reader.GetInt64(0).Should().Be(1);
        reader.GetString(1).Should().Be("ops-admin");
    }

    [Test]
    public async Task Users_AdminCreatesListsGetsUpdatesAndDeletes_AndTheStoreMapsALogin()
    {
        var created = await _admin.PostAsync("api/v1/users", new { login = "dana", role = "user", repos = new[] { Repo } });
        created.Status.Should().Be(HttpStatusCode.Created, created.ToString());
        var id = created.Json.GetProperty("id").GetInt64();
        ShouldBeProblem(await _admin.PostAsync("api/v1/users", new { login = "DANA", role = "admin" }), HttpStatusCode.Conflict);
        ShouldBeProblem(await _admin.PostAsync("api/v1/users", new { login = "erin", role = "superuser" }), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _admin.PostAsync("api/v1/users", new { login = "bad login!", role = "user" }), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _admin.PostAsync("api/v1/users", new { login = "erin", role = "user", repos = new[] { "not-a-repo" } }), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _admin.SendAsync(HttpMethod.Post, "api/v1/users", rawBody: "[1,2"), HttpStatusCode.UnprocessableEntity);

        (await _admin.GetAsync("api/v1/users")).Json.EnumerateArray().Select(u => u.GetProperty("login").GetString()).Should().Contain("dana");
        (await _admin.GetAsync($"api/v1/users/{id}")).Json.GetProperty("role").GetString().Should().Be("user");

        var updated = await _admin.SendAsync(HttpMethod.Put, $"api/v1/users/{id}", new { role = "read-only" });
        updated.Status.Should().Be(HttpStatusCode.OK, updated.ToString());
        updated.Json.GetProperty("role").GetString().Should().Be("read-only");
        updated.Json.GetProperty("repos").EnumerateArray().Select(r => r.GetString()).Should().Equal(Repo);
        ShouldBeProblem(await _admin.SendAsync(HttpMethod.Put, $"api/v1/users/{id}", new { role = "root" }), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _admin.SendAsync(HttpMethod.Put, "api/v1/users/999999", new { role = "user" }), HttpStatusCode.NotFound);

        var store = _t.Service.Services.GetRequiredService<ApiKeyStore>();
        (await store.FindUserByLoginAsync("Dana"))!.Role.Should().Be("read-only");

        (await _admin.SendAsync(HttpMethod.Delete, $"api/v1/users/{id}")).Status.Should().Be(HttpStatusCode.NoContent);
        ShouldBeProblem(await _admin.GetAsync($"api/v1/users/{id}"), HttpStatusCode.NotFound);
        ShouldBeProblem(await _admin.SendAsync(HttpMethod.Delete, $"api/v1/users/{id}"), HttpStatusCode.NotFound);
        (await store.FindUserByLoginAsync("dana")).Should().BeNull();
    }

    [Test]
    public async Task Keys_CreatedOnce_ListedWithoutSecrets_Revoked()
    {
        ShouldBeProblem(await _admin.PostAsync("api/v1/keys", new { name = "", role = "user" }), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _admin.PostAsync("api/v1/keys", new { name = "x", role = "owner" }), HttpStatusCode.UnprocessableEntity);
        ShouldBeProblem(await _admin.SendAsync(HttpMethod.Post, "api/v1/keys", rawBody: "nope"), HttpStatusCode.UnprocessableEntity);

        var created = await _admin.PostAsync("api/v1/keys", new { name = "short-lived", role = "read-only" });
        created.Status.Should().Be(HttpStatusCode.Created, created.ToString());
        var key = created.Json.GetProperty("key").GetString()!;
        _keys.Add(key);
        var id = created.Json.GetProperty("id").GetInt64();
        using var client = new ApiClient(_t.ServiceUrl, key);
        (await client.GetAsync("api/v1/status")).Status.Should().Be(HttpStatusCode.OK);

        var list = await _admin.GetAsync("api/v1/keys");
        list.Body.Should().NotContain(key);
        foreach (var k in _keys) list.Body.Should().NotContain(k);
        var listed = list.Json.EnumerateArray().Single(k => k.GetProperty("id").GetInt64() == id);
        listed.GetProperty("name").GetString().Should().Be("short-lived");
        listed.TryGetProperty("key", out _).Should().BeFalse();

        (await _admin.SendAsync(HttpMethod.Delete, $"api/v1/keys/{id}")).Status.Should().Be(HttpStatusCode.NoContent);
        ShouldBeProblem(await client.GetAsync("api/v1/status"), HttpStatusCode.Unauthorized);
        ShouldBeProblem(await _admin.SendAsync(HttpMethod.Delete, $"api/v1/keys/{id}"), HttpStatusCode.NotFound);
        ShouldBeProblem(await _admin.SendAsync(HttpMethod.Delete, "api/v1/keys/999999"), HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Keys_AreNeverStoredOrLoggedInClear()
    {
        using (var extra = await NewKeyAsync("audit-check", "user", Repo))
            (await extra.PostAsync($"api/v1/trigger/{Repo}")).Status.Should().Be(HttpStatusCode.OK);
        var database = await _t.DatabaseTextAsync();
        var log = _log.ToString();
        log.Should().Contain("\"KeyName\":\"audit-check\"", "the log is captured");
        foreach (var key in _keys.Append(AdminKey))
        {
            database.Should().NotContain(key);
            database.Should().NotContain(key[5..^5], "not even part of a key is stored");
            log.Should().NotContain(key);
        }
        // Stored keys are kept as their SHA-256; the bootstrap admin key is not stored at all.
        foreach (var key in _keys) database.Should().Contain(ApiKeyStore.Hash(key), "keys are stored as hashes");
        database.Should().NotContain(ApiKeyStore.Hash(AdminKey));
    }

    [Test]
    public async Task RateLimit_PerKey_Answers429WithRetryAfter()
    {
        using var limited = await NewKeyAsync("chatty", "read-only");
        for (var i = 0; i < PerMinute; i++)
            (await limited.GetAsync("api/v1/status")).Status.Should().Be(HttpStatusCode.OK, $"request {i + 1} is within the limit");
        var over = await limited.GetAsync("api/v1/status");
        ShouldBeProblem(over, HttpStatusCode.TooManyRequests);
        over.RetryAfter.Should().NotBeNull();
        over.RetryAfter!.Value.Should().BePositive().And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(1));
        // Another key has its own budget.
        (await _readOnly.GetAsync("api/v1/status")).Status.Should().Be(HttpStatusCode.OK);
    }

    [Test]
    public async Task WrongKeys_PerClientAddress_Answer429WithRetryAfter_UntilTheMinuteIsOver()
    {
        using var http = new HttpClient { BaseAddress = _t.ServiceUrl };
        // Loopback is a trusted proxy: X-Forwarded-For names the client, as behind a reverse proxy.
        async Task<HttpResponseMessage> StatusAsync(string client, string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "api/v1/status");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
            request.Headers.Add("X-Forwarded-For", client);
            return await http.SendAsync(request);
        }
        const string guesser = "203.0.113.7", neighbour = "203.0.113.8";

        for (var i = 0; i < FailuresPerMinute; i++)
            (await StatusAsync(guesser, $"mq_guess-{i}")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, $"wrong key {i + 1} is within the limit");
        using (var over = await StatusAsync(guesser, "mq_guess-over"))
        {
            over.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
            over.Headers.RetryAfter!.Delta!.Value.Should().BePositive().And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(1));
        }
        // While blocked even the right key is refused, so a guess cannot be told right from wrong.
        (await StatusAsync(guesser, AdminKey)).StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        (await StatusAsync(neighbour, AdminKey)).StatusCode.Should().Be(HttpStatusCode.OK, "another address has its own count");

        _t.Clock.Advance(TimeSpan.FromMinutes(1));
        (await StatusAsync(guesser, AdminKey)).StatusCode.Should().Be(HttpStatusCode.OK, "the window is over");
    }

    [Test]
    public void AdminKey_ShorterThan32Characters_RefusesToStart()
    {
        var start = () => Service.ServiceHost.Build([], _t.Settings(new Dictionary<string, string?> { ["MergeQueue:Api:AdminKey"] = "short-but-not-32-characters" }));
        start.Should().Throw<InvalidOperationException>().WithMessage("MergeQueue:Api:AdminKey must be at least 32 characters*");
    }

    [Test]
    public async Task OpenApi_ListsEveryEndpoint()
    {
        using var http = new HttpClient { BaseAddress = _t.ServiceUrl };
        var document = JsonDocument.Parse(await http.GetStringAsync("openapi/v1.json")).RootElement;
        var paths = document.GetProperty("paths").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateObject().Select(o => o.Name.ToUpperInvariant()).ToHashSet());
        string[] expected =
        [
            "GET /api/v1/status", "GET /api/v1/repos", "GET /api/v1/repos/{owner}/{repo}", "POST /api/v1/repos/{owner}/{repo}/enable",
            "POST /api/v1/repos/{owner}/{repo}/disable", "GET /api/v1/repos/{owner}/{repo}/pulls", "GET /api/v1/repos/{owner}/{repo}/pulls/{number}",
            "POST /api/v1/repos/{owner}/{repo}/pulls/{number}/merge", "POST /api/v1/repos/{owner}/{repo}/pulls/{number}/cancel",
            "POST /api/v1/repos/{owner}/{repo}/pulls/{number}/retry", "GET /api/v1/repos/{owner}/{repo}/attempts",
            "GET /api/v1/repos/{owner}/{repo}/attempts/{id}", "POST /api/v1/trigger/{owner}/{repo}",
            "POST /api/v1/repos/{owner}/{repo}/targets/{target}/freeze", "POST /api/v1/repos/{owner}/{repo}/targets/{target}/unfreeze",
            "GET /api/v1/users", "POST /api/v1/users", "GET /api/v1/users/{id}", "PUT /api/v1/users/{id}", "DELETE /api/v1/users/{id}",
            "POST /api/v1/keys", "GET /api/v1/keys", "DELETE /api/v1/keys/{id}", "POST /api/v1/repos/{owner}/{repo}/statuses/reconcile",
            "GET /api/v1/repos/{owner}/{repo}/commits", "GET /api/v1/repos/{owner}/{repo}/commits/{sha}", "GET /api/v1/repos/{owner}/{repo}/commits/{sha}/results",
            "GET /api/v1/runs/{id}", "GET /api/v1/runs/{id}/log",
        ];
        foreach (var entry in expected)
        {
            var (method, path) = (entry.Split(' ')[0], entry.Split(' ')[1]);
            paths.Should().ContainKey(path);
            paths[path].Should().Contain(method, entry);
        }
    }
}
