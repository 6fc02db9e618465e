using System.Text;
using System.Diagnostics;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.Data;
using MergeQueue.EndToEnd.Tests.Api;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using MergeQueue.Tests.Shared;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>The service as a real process: killed with SIGKILL, started with dotnet run and from publish output.</summary>
[NonParallelizable]
public class ProcessTests
{
    private const string FastConfig = """
        target_branches: [main]
        required_approvals: 1
        required_checks: [ci]
        batch_delay: 1s
        batch_min_size: 0
        parallel_attempts: 1
        """;

    [Test]
    [CancelAfter(180_000)]
    public async Task Service_KilledAfterAcceptingADeliveryAndAgainWhileTesting_LosesNothingAndMerges(CancellationToken ct)
    {
        // Staging CI held: the second kill comes while the attempt is testing, however slow the machine.
        await using var t = await ServiceTester.StartAsync(FastConfig, ServiceTester.HoldStaging, startService: false);
        var port = ServiceProcess.FreePort();
        // The real Quartz scheduler at a short interval: nothing here calls the ticker.
        var settings = t.Settings(new Dictionary<string, string?> { ["MergeQueue:Poller:Interval"] = "00:00:01", ["Serilog:MinimumLevel:Default"] = "Information" });
        await t.Control.RegisterHookAsync($"http://127.0.0.1:{port}/webhooks/github", ServiceTester.Secret, ct: ct);
        var a = await t.OpenPrAsync();
        var b = await t.OpenPrAsync();
        await t.ApproveAsync(a);
        await t.ApproveAsync(b);

        var first = ServiceProcess.Start([ServiceProcess.ServiceDll], settings, port);
        await first.WaitUntilHealthyAsync();
        await t.MergeAsync(a);
        await t.MergeAsync(b);
        await SimulatorClient.WaitUntilAsync(async c =>
            (await t.Control.DeliveriesAsync("issue_comment", ct: c)).Count(d => d.StatusCode == 202) == 2, TimeSpan.FromSeconds(30), ct);
        first.Kill();
        await first.DisposeAsync();

        var second = ServiceProcess.Start([ServiceProcess.ServiceDll], settings, port);
        await second.WaitUntilHealthyAsync();
        await SimulatorClient.WaitUntilAsync(async c => (await t.QueueStatusAsync(a))?.Description?.StartsWith("Testing in attempt", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(60), ct);
        await t.WaitForHeldCiAsync();
        second.Kill();
        await second.DisposeAsync();

        await using var third = ServiceProcess.Start([ServiceProcess.ServiceDll], settings, port);
        await third.WaitUntilHealthyAsync();
        await t.ReleaseHeldCiAsync();
        await SimulatorClient.WaitUntilAsync(async c => await t.AllClosedAsync(a, b), TimeSpan.FromSeconds(90), ct);

        (await t.PrAsync(a)).Merged.Should().BeTrue();
        (await t.PrAsync(b)).Merged.Should().BeTrue();
        (await t.QueueStatusAsync(a))!.State.Should().Be("success");
        (await t.QueueStatusAsync(b))!.State.Should().Be("success");
        await t.AssertTargetOnlyMovedToGreenAsync();
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(third.Output.Contains("\"@mt\":\"Poll {Tick} done in {Elapsed} ms\"", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), ct);
        foreach (var log in new[] { third.Output })
        {
            log.Should().NotContain(t.BotToken, "tokens are never logged");
            log.Should().NotContain(ServiceTester.Secret, "the webhook secret is never logged");
        }
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Service_KilledMidLoad_HasARowForEveryDeliveryItAnswered202(CancellationToken ct)
    {
        // Group commit: 32 connections post at once; each 202 must mean a durable row, whatever instant the kill comes.
        await using var t = await ServiceTester.StartAsync(FastConfig, startService: false);
        var port = ServiceProcess.FreePort();
        var service = ServiceProcess.Start([ServiceProcess.ServiceDll], t.Settings(), port);
        await service.WaitUntilHealthyAsync();
        var body = Encoding.UTF8.GetBytes(File.ReadAllText(Path.Combine(ServiceProcess.RepoRoot(), "..", "shared", "fixtures", "github-webhooks", "issue_comment", "created.payload.json")));
        var signature = MergeQueue.Service.Webhooks.WebhookSignature.Sign(body, ServiceTester.Secret);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = service.Url };
        var accepted = new System.Collections.Concurrent.ConcurrentBag<string>();
        var answered = 0;
        using var stop = new CancellationTokenSource();

        async Task PostAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                var id = Guid.NewGuid().ToString();
                using var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/github") { Content = new ByteArrayContent(body) };
                request.Headers.Add("X-GitHub-Event", "issue_comment");
                request.Headers.Add("X-GitHub-Delivery", id);
                request.Headers.Add("X-Hub-Signature-256", signature);
                try
                {
                    using var response = await http.SendAsync(request, CancellationToken.None);
                    if (response.StatusCode == System.Net.HttpStatusCode.Accepted) accepted.Add(id);
                    Interlocked.Increment(ref answered);
                }
                catch (HttpRequestException)
                {
                    return; // killed
                }
            }
        }

        var posters = Enumerable.Range(0, 32).Select(_ => Task.Run(PostAsync, CancellationToken.None)).ToArray();
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(Volatile.Read(ref answered) >= 300), TimeSpan.FromSeconds(60), ct);
        service.Kill();
        await stop.CancelAsync();
        await Task.WhenAll(posters);
        await service.DisposeAsync();

        accepted.Should().NotBeEmpty();
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={t.DatabasePath};Pooling=False");
        await connection.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT delivery_id FROM webhook_delivery";
        var stored = new HashSet<string>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) stored.Add(reader.GetString(0));
        accepted.Where(id => !stored.Contains(id)).Should().BeEmpty($"every one of the {accepted.Count} deliveries answered 202 is stored");
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task Service_KilledWithThreeAttemptsInFlight_RestartsAndMergesEachOnce(CancellationToken ct)
    {
        var config = FastConfig.Replace("parallel_attempts: 1", "parallel_attempts: 3", StringComparison.Ordinal) + "\nmax_batch_size: 1\n";
        await using var t = await ServiceTester.StartAsync(config, ServiceTester.HoldStaging, startService: false);
        var port = ServiceProcess.FreePort();
        var settings = t.Settings(new Dictionary<string, string?> { ["MergeQueue:Poller:Interval"] = "00:00:01" });
        await t.Control.RegisterHookAsync($"http://127.0.0.1:{port}/webhooks/github", ServiceTester.Secret, ct: ct);
        var prs = new[] { await t.OpenPrAsync(), await t.OpenPrAsync(), await t.OpenPrAsync() };
        foreach (var n in prs) await t.ApproveAsync(n);

        var first = ServiceProcess.Start([ServiceProcess.ServiceDll], settings, port);
        await first.WaitUntilHealthyAsync();
        foreach (var n in prs) await t.MergeAsync(n);
        await SimulatorClient.WaitUntilAsync(async c =>
        {
            foreach (var n in prs)
                if ((await t.QueueStatusAsync(n))?.Description?.StartsWith("Testing in attempt", StringComparison.Ordinal) != true) return false;
            return true;
        }, TimeSpan.FromSeconds(60), ct);
        await t.WaitForHeldCiAsync(3);
        first.Kill();
        await first.DisposeAsync();

        await using var second = ServiceProcess.Start([ServiceProcess.ServiceDll], settings, port);
        await second.WaitUntilHealthyAsync();
        await t.ReleaseHeldCiAsync();
        await SimulatorClient.WaitUntilAsync(async c => await t.AllClosedAsync(prs), TimeSpan.FromSeconds(90), ct);

        foreach (var n in prs)
        {
            (await t.PrAsync(n)).Merged.Should().BeTrue($"PR #{n}");
            var statuses = (await t.Control.ChecksAsync(ServiceTester.Repo, (await t.PrAsync(n)).HeadSha, ct)).Statuses;
            statuses.Count(s => s.Context == "mergequeue" && s.State == "success").Should().Be(1, $"PR #{n} merged once");
        }
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Service_WithoutAWebhookSecret_RefusesToStartAndSaysWhy(CancellationToken ct)
    {
        await using var process = ServiceProcess.Start([ServiceProcess.ServiceDll],
            new Dictionary<string, string?> { ["ConnectionStrings:MergeQueue"] = $"Data Source={Path.GetTempFileName()}", ["MergeQueue:GitHub:Token"] = "t" }, ServiceProcess.FreePort());
        (await process.WaitForExitAsync(TimeSpan.FromSeconds(60))).Should().Be(2);
        process.Output.Should().Contain("MergeQueue:GitHub:WebhookSecret is required");
    }

    [Test]
    [CancelAfter(120_000)]
    public async Task Service_WithNothingConfigured_StartsInSetupModeAndSaysToOpenSetup(CancellationToken ct)
    {
        var folder = Directory.CreateTempSubdirectory("mq-setup-mode-").FullName;
        var port = ServiceProcess.FreePort();
        await using var process = ServiceProcess.Start([ServiceProcess.ServiceDll], new Dictionary<string, string?> { ["ConnectionStrings:MergeQueue"] = $"Data Source={Path.Combine(folder, "mq.db")}" }, port, workingDirectory: folder);
        await process.WaitUntilHealthyAsync();
        process.Output.Should().Contain($"http://127.0.0.1:{port}/setup").And.Contain("MergeQueue is not set up");
        Directory.Delete(folder, recursive: true);
    }

    [Test]
    [CancelAfter(300_000)]
    public async Task Service_StartedWithDotnetRunAndFromPublishOutput_ReadsTheRootAppsettings(CancellationToken ct)
    {
        var root = ServiceProcess.RepoRoot();
        var rootSettings = await File.ReadAllTextAsync(Path.Combine(root, "appsettings.json"), ct);
        var db = Path.Combine(Path.GetTempPath(), $"mq-settings-{Guid.NewGuid():N}.db");
        var settings = new Dictionary<string, string?> { ["MergeQueue:GitHub:WebhookSecret"] = "s", ["MergeQueue:GitHub:Token"] = "t", ["ConnectionStrings:MergeQueue"] = $"Data Source={db}" };

        await using (var run = ServiceProcess.Start(["run", "--project", Path.Combine(root, "src", "MergeQueue.Service"), "--no-build", "-c", ServiceProcess.Configuration, "--"], settings, ServiceProcess.FreePort(), workingDirectory: root))
        {
            await run.WaitUntilHealthyAsync(TimeSpan.FromSeconds(120));
            AssertReadRootSettings(run.Output, rootSettings);
        }

        var publishDir = Path.Combine(Path.GetTempPath(), $"mq-publish-{Guid.NewGuid():N}");
        try
        {
            var publish = Process.Start(new ProcessStartInfo("dotnet", ["publish", Path.Combine(root, "src", "MergeQueue.Service"), "-c", ServiceProcess.Configuration, "-o", publishDir, "--nologo", "-v", "q"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var log = await publish.StandardOutput.ReadToEndAsync(ct) + await publish.StandardError.ReadToEndAsync(ct);
            await publish.WaitForExitAsync(ct);
            publish.ExitCode.Should().Be(0, log);
            await using var published = ServiceProcess.Start([Path.Combine(publishDir, "MergeQueue.Service.dll")], settings, ServiceProcess.FreePort());
            await published.WaitUntilHealthyAsync(TimeSpan.FromSeconds(60));
            AssertReadRootSettings(published.Output, rootSettings);
        }
        finally
        {
            if (Directory.Exists(publishDir)) Directory.Delete(publishDir, recursive: true);
        }
    }

    [Test]
    [CancelAfter(180_000)]
    public async Task MigrateDb_SqliteInstallationToPostgres_CopiesAndTheServiceRunsOnTheCopy(CancellationToken ct)
    {
        var folder = Directory.CreateTempSubdirectory("mq-migrate-db-").FullName;
        var sqlite = Path.Combine(folder, "mergequeue.db");
        // The installation: an admin key and an active request, written by the stores as the service does.
        var source = SqliteDatabase.ForFile(sqlite);
        await source.MigrateAsync(ct);
        var (_, adminKey) = await new ApiKeyStore(source, TimeProvider.System).CreateKeyAsync("ops", ApiRoles.Admin, [], "alice", ct);
        var pr = Core.PullRequests.PullRequest.Create(new RepoId("acme", "widgets"), 7, "main", new CommitSha(new string('a', 40)), 0, DateTimeOffset.UtcNow);
        await new QueueStore(source).SaveAsync(new Changes { PullRequests = { pr } }, Cause.Test(), ct);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var postgres = await PostgresServer.SharedAsync();
        var target = await postgres.CreateDatabaseAsync("e2e_migrate");
        try
        {
            var (exit, output, error) = await ServiceProcess.RunAsync([ServiceProcess.ServiceDll, "migrate-db", "--from", sqlite, "--to", target], TimeSpan.FromSeconds(90));
            exit.Should().Be(0, error);
            output.Should().Contain("api_key: 1 rows").And.Contain("pull_request: 1 rows").And.Contain("every table holds as many rows on both sides");

            var again = await ServiceProcess.RunAsync([ServiceProcess.ServiceDll, "migrate-db", "--from", sqlite, "--to", target], TimeSpan.FromSeconds(90));
            again.ExitCode.Should().Be(2, "a target holding data is refused");
            again.Error.Should().Contain("migrate-db refused").And.Contain("already holds data");

            var settings = new Dictionary<string, string?>
            {
                ["MergeQueue:Database:Provider"] = "postgres",
                ["ConnectionStrings:MergeQueue"] = target,
                ["MergeQueue:GitHub:Token"] = "t",
                ["MergeQueue:GitHub:WebhookSecret"] = "s",
                ["MergeQueue:GitHub:ApiUrl"] = "http://127.0.0.1:9/",
            };
            await using var service = ServiceProcess.Start([ServiceProcess.ServiceDll], settings, ServiceProcess.FreePort());
            await service.WaitUntilHealthyAsync();
            using var api = new ApiClient(service.Url, adminKey);
            var keys = await api.GetAsync("api/v1/keys");
            keys.Status.Should().Be(System.Net.HttpStatusCode.OK, keys.ToString());
            keys.Body.Should().Contain("\"ops\"");
            var pulls = await api.GetAsync("api/v1/repos/acme/widgets/pulls");
            pulls.Status.Should().Be(System.Net.HttpStatusCode.OK, pulls.ToString());
            pulls.Json.EnumerateArray().Select(p => p.GetProperty("number").GetInt32()).Should().Equal(7);
            var health = await api.GetAsync("healthz");
            health.Json.GetProperty("provider").GetString().Should().Be("postgres", health.ToString());
        }
        finally
        {
            await postgres.DropDatabaseAsync(target);
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The service logs which settings files it read; the file must hold the repository root's appsettings.json.</summary>
    private static void AssertReadRootSettings(string output, string rootSettings)
    {
        var line = output.Split('\n').FirstOrDefault(l => l.Contains("Settings read from", StringComparison.Ordinal));
        line.Should().NotBeNull(output);
        var match = System.Text.RegularExpressions.Regex.Match(line!, "\"SettingsFiles\":\\[\"([^\"]+)\"");
        match.Success.Should().BeTrue(line);
        var path = match.Groups[1].Value;
        Path.GetFileName(path).Should().Be("appsettings.json");
        File.ReadAllText(path).Should().Be(rootSettings);
    }
}
