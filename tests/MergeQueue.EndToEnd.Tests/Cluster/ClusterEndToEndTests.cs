using System.Text.Json;
using Dapper;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using MergeQueue.Tests.Shared;
using Npgsql;

namespace MergeQueue.EndToEnd.Tests.Cluster;

/// <summary>
/// Three service processes on one PostgreSQL behind a round-robin load balancer (issue 15): deliveries
/// spread across them, one killed with SIGKILL while an attempt is testing and another while it holds
/// a delivery (and the repository's lock). Every PR merges exactly once, the target only moves to
/// tested commits, no delivery is handled twice, and the poll runs once per interval across the cluster.
/// </summary>
[NonParallelizable]
public sealed class ClusterEndToEndTests
{
    private const string Config = """
        target_branches: [main]
        required_approvals: 1
        required_checks: [ci]
        batch_delay: 1s
        batch_min_size: 0
        parallel_attempts: 1
        """;

    [Test]
    [CancelAfter(300_000)]
    public async Task ThreeInstances_OneKilledWhileTestingAnotherWhileHoldingADelivery_EveryPrMergesOnce(CancellationToken ct)
    {
        var postgres = await PostgresServer.SharedAsync();
        var database = await postgres.CreateDatabaseAsync("cluster");
        await using var t = await ServiceTester.StartAsync(Config, ServiceTester.HoldStaging, startService: false);
        var names = new[] { "node-a", "node-b", "node-c" };
        var ports = names.Select(_ => ServiceProcess.FreePort()).ToArray();
        await using var proxy = new RoundRobinProxy([.. ports.Select(p => new Uri($"http://127.0.0.1:{p}/"))]);
        await proxy.StartAsync();
        await t.Control.RegisterHookAsync(new Uri(proxy.Url, "webhooks/github").ToString(), ServiceTester.Secret, ct: ct);
        var nodes = new ServiceProcess[names.Length];
        try
        {
            for (var i = 0; i < names.Length; i++)
                nodes[i] = ServiceProcess.Start([ServiceProcess.ServiceDll], t.Settings(new Dictionary<string, string?>
                {
                    ["MergeQueue:Database:Provider"] = "postgres",
                    ["ConnectionStrings:MergeQueue"] = database,
                    ["MergeQueue:Cluster:InstanceId"] = names[i],
                    ["MergeQueue:Cluster:Heartbeat"] = "00:00:01",
                    ["MergeQueue:Cluster:LeaseTimeout"] = "00:00:05",
                    ["MergeQueue:Poller:Interval"] = "00:00:01",
                    ["Serilog:MinimumLevel:Default"] = "Information",
                }), ports[i]);
            foreach (var node in nodes) await node.WaitUntilHealthyAsync(TimeSpan.FromSeconds(90));

            // /healthz: each instance names itself and sees the other two.
            using (var http = new HttpClient { BaseAddress = nodes[1].Url })
            {
                await SimulatorClient.WaitUntilAsync(async c => (await HealthAsync(http, c)).Instances.Count == 3, TimeSpan.FromSeconds(20), ct);
                var health = await HealthAsync(http, ct);
                health.Instance.Should().Be("node-b");
                health.Instances.Select(i => i.Id).Should().BeEquivalentTo(names);
            }

            // The poll runs once per interval across the cluster, not once per instance.
            var before = await PollTicksAsync(nodes, ct);
            var window = System.Diagnostics.Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(8), ct);
            var ticks = await PollTicksAsync(nodes, ct) - before;
            ticks.Should().BeInRange(3, (int)window.Elapsed.TotalSeconds + 2, "one tick a second across three instances");

            var a = await t.OpenPrAsync();
            var b = await t.OpenPrAsync();
            var c = await t.OpenPrAsync();
            foreach (var n in new[] { a, b, c }) await t.ApproveAsync(n);
            await t.MergeAsync(a);
            await t.MergeAsync(b);
            await SimulatorClient.WaitUntilAsync(async x => (await t.QueueStatusAsync(a))?.Description?.StartsWith("Testing in attempt", StringComparison.Ordinal) == true, TimeSpan.FromSeconds(60), ct);
            await t.WaitForHeldCiAsync();

            // SIGKILL while the attempt is testing.
            nodes[0].Kill();

            // The next read of PR c hangs for a minute: the instance handling c's command holds its
            // delivery (and the repository's lock) until it is killed.
            await t.Control.InjectApiFaultAsync(new ApiFault("latency", Count: 1, Method: "GET", PathPrefix: $"/repos/{ServiceTester.Repo}/pulls/{c}", LatencyMs: 60_000), ct);
            var command = await t.MergeAsync(c);
            var deliveryId = await DeliveryOfAsync(t, command.Id, ct);
            await using var db = new NpgsqlConnection(database);
            string? holder = null;
            await SimulatorClient.WaitUntilAsync(async x =>
            {
                var lane = await db.QuerySingleOrDefaultAsync<string>("SELECT holder FROM lease WHERE name = 'lane:acme/widgets' AND expires_at > @now",
                    new { now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
                var processed = await db.ExecuteScalarAsync<long?>("SELECT processed_at FROM webhook_delivery WHERE delivery_id = @deliveryId", new { deliveryId });
                // The same live holder a second apart, with the delivery still not handled: it is stuck in the
                // call. (The killed node's lease may linger until it expires: that one is not stuck, just dead.)
                var stuck = lane is not null && lane != names[0] && lane == holder && processed is null;
                holder = lane;
                if (!stuck) await Task.Delay(TimeSpan.FromSeconds(1), x);
                return stuck;
            }, TimeSpan.FromSeconds(60), ct);
            var stuckNode = Array.IndexOf(names, holder);
            stuckNode.Should().BeGreaterThan(0, "a live instance holds the lane");
            // The dashboard of the other live instance shows who holds the lane and, once its flow has it
            // (a poll tick elsewhere may hold it a moment), the repository's lock.
            using (var http = new HttpClient { BaseAddress = nodes[3 - stuckNode].Url })
            {
                var row = "";
                await SimulatorClient.WaitUntilAsync(async x =>
                {
                    var page = await http.GetStringAsync("cluster", x);
                    row = page[page.IndexOf($"data-instance=\"{holder}\"", StringComparison.Ordinal)..];
                    row = row[..row.IndexOf("</tr>", StringComparison.Ordinal)];
                    return row.Contains("lock <code>repo:acme/widgets</code>", StringComparison.Ordinal);
                }, TimeSpan.FromSeconds(20), ct);
                row.Should().Contain("lease <code>lane:acme/widgets</code>");
            }
            nodes[stuckNode].Kill();

            // The survivor finishes a and b's attempt, takes the lane over once its lease expires, and
            // handles c's command (once). Releasing lifts the hold: c's run is not held.
            await t.ReleaseHeldCiAsync();
            await SimulatorClient.WaitUntilAsync(async x => await t.AllClosedAsync(a, b, c), TimeSpan.FromSeconds(120), ct);

            foreach (var n in new[] { a, b, c })
            {
                (await t.PrAsync(n)).Merged.Should().BeTrue($"PR #{n}");
                var statuses = (await t.Control.ChecksAsync(ServiceTester.Repo, (await t.PrAsync(n)).HeadSha, ct)).Statuses;
                statuses.Count(s => s.Context == "mergequeue" && s.State == "success").Should().Be(1, $"PR #{n} merged once");
            }
            await t.AssertTargetOnlyMovedToGreenAsync();

            // Each command's effect happened once: one request row per PR, each merged.
            var requests = (await db.QueryAsync<(long Number, string State)>("SELECT number, state FROM pull_request ORDER BY number")).ToList();
            requests.Should().Equal([(a, "Merged"), (b, "Merged"), (c, "Merged")]);
            (await db.ExecuteScalarAsync<string>("SELECT outcome FROM webhook_delivery WHERE delivery_id = @deliveryId", new { deliveryId })).Should().NotBeNull();
            proxy.Forwarded.Should().OnlyContain(n => n > 0, "the load balancer spread deliveries over every instance");

            // The poll goes on with two instances dead: the survivor runs it.
            var survivor = nodes.Single(n => !n.HasExited);
            var ticksBefore = await PollTicksAsync([survivor], ct);
            await SimulatorClient.WaitUntilAsync(async x => await PollTicksAsync([survivor], x) >= ticksBefore + 3, TimeSpan.FromSeconds(30), ct);
            foreach (var node in nodes)
            {
                node.Output.Should().NotContain(t.BotToken, "tokens are never logged");
                node.Output.Should().NotContain(ServiceTester.Secret, "the webhook secret is never logged");
            }
        }
        finally
        {
            foreach (var node in nodes.Where(n => n is not null)) await node.DisposeAsync();
            await postgres.DropDatabaseAsync(database);
        }
    }

    private sealed record InstanceView(string Id);

    private sealed record Health(string Status, string Instance, IReadOnlyList<InstanceView> Instances);

    private static async Task<Health> HealthAsync(HttpClient http, CancellationToken ct) =>
        JsonSerializer.Deserialize<Health>(await http.GetStringAsync("healthz", ct), new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    /// <summary>The sum of <c>mergequeue_poll_ticks_total</c> over the instances.</summary>
    private static async Task<int> PollTicksAsync(IEnumerable<ServiceProcess> nodes, CancellationToken ct)
    {
        var total = 0.0;
        foreach (var node in nodes)
        {
            using var http = new HttpClient { BaseAddress = node.Url };
            var metrics = await http.GetStringAsync("metrics", ct);
            var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("mergequeue_poll_ticks_total ", StringComparison.Ordinal));
            if (line is not null) total += double.Parse(line.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return (int)total;
    }

    /// <summary>The delivery id GitHub gave the issue_comment delivery of this comment.</summary>
    private static async Task<string> DeliveryOfAsync(ServiceTester t, long commentId, CancellationToken ct)
    {
        DeliveryInfo? found = null;
        await SimulatorClient.WaitUntilAsync(async x =>
        {
            found = (await t.Control.DeliveriesAsync("issue_comment", ct: x)).FirstOrDefault(d => d.StatusCode == 202 && d.Payload.Contains($"\"id\":{commentId},", StringComparison.Ordinal));
            return found is not null;
        }, TimeSpan.FromSeconds(30), ct);
        return found!.Id.ToString();
    }
}
