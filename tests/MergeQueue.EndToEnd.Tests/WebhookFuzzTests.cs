using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using MergeQueue.Data;
using MergeQueue.Service.Webhooks;
using MergeQueue.Simulator;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>
/// Issue 13 item 6: seeded mutations of every real payload in shared/fixtures/github-webhooks, signed
/// correctly, and wrongly signed ones, posted to the running service: nothing answers 5xx, a wrong
/// signature is always 401, the service stays up, and a normal merge works afterwards.
/// </summary>
public sealed class WebhookFuzzTests
{
    private const int Signed = 5_000;
    private const int WronglySigned = 500;
    private const string Surrogate = "\u0001SURROGATE\u0001";

    private static readonly string[] Events =
        ["pull_request", "pull_request_review", "issue_comment", "status", "check_run", "check_suite", "push", "ping", "installation", "merge_group", "no_such_event", ""];

    [Test]
    [CancelAfter(300_000)]
    public async Task MutatedPayloads_NeverA5xx_WrongSignaturesAlways401_AndTheQueueStillMerges(CancellationToken ct)
    {
        await using var t = await ServiceTester.StartAsync();
        var root = FixtureIntakeTests.FixturesRoot();
        var fixtures = Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => (Event: Path.GetFileName(Path.GetDirectoryName(f)!), Text: File.ReadAllText(f)))
            .ToArray();
        var random = new Random(20261201);
        var cases = new List<(string Event, byte[] Body, bool Sign)>();
        for (var i = 0; i < Signed + WronglySigned; i++)
        {
            var (eventName, text) = fixtures[i % fixtures.Length];
            if (random.Next(20) == 0) eventName = Events[random.Next(Events.Length)];
            cases.Add((eventName, Encoding.UTF8.GetBytes(Mutate(text, random)), i < Signed));
        }
        random.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(cases));

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 8 }) { BaseAddress = t.ServiceUrl };
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (c, token) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/github") { Content = new ByteArrayContent(c.Body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.TryAddWithoutValidation("X-GitHub-Event", c.Event);
            request.Headers.TryAddWithoutValidation("X-GitHub-Delivery", Guid.NewGuid().ToString());
            var signature = WebhookSignature.Sign(c.Body, c.Sign ? ServiceTester.Secret : "not-the-secret");
            request.Headers.TryAddWithoutValidation("X-Hub-Signature-256", signature);
            using var response = await http.SendAsync(request, token);
            var status = (int)response.StatusCode;
            if (status >= 500 || (!c.Sign && status != 401))
                failures.Add($"{status} for {(c.Sign ? "a signed" : "a wrongly signed")} {c.Event}: {Encoding.UTF8.GetString(c.Body)[..Math.Min(300, c.Body.Length)]} → {await response.Content.ReadAsStringAsync(token)}");
        });
        failures.Should().BeEmpty();

        // Handling them breaks nothing: each ends handled, ignored, rejected or failed (GitHub's 404 for a
        // repository it does not know), none is taken for a passing fault and retried.
        var inbox = t.Service.Services.GetRequiredService<WebhookInbox>();
        await SimulatorClient.WaitUntilAsync(async c => (await inbox.GetDueAsync(1, [], c)).Count == 0, TimeSpan.FromSeconds(240), ct);
        (await inbox.GetUnprocessedAsync(20, ct)).Select(d => $"{d.Event}: {d.Error}").Should().BeEmpty();
        (await http.GetAsync("healthz", ct)).StatusCode.Should().Be(HttpStatusCode.OK);

        // And a normal merge goes through.
        var pr = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(pr);
        await t.RunUntilAsync(async () => (await t.PrAsync(pr)).Merged);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    /// <summary>One seeded mutation of a payload's text: truncated, or one node changed in type, value or presence.</summary>
    public static string Mutate(string json, Random random)
    {
        if (random.Next(10) == 0) return json[..random.Next(json.Length)];
        var root = JsonNode.Parse(json)!;
        var slots = new List<(JsonNode Parent, object Key)>();
        Collect(root, slots);
        if (slots.Count == 0) return json;
        var (parent, key) = slots[random.Next(slots.Count)];
        JsonNode? current = parent is JsonObject o ? o[(string)key] : ((JsonArray)parent)[(int)key];
        JsonNode? replacement = random.Next(12) switch
        {
            0 => null,
            1 => JsonValue.Create(-1),
            2 => JsonValue.Create(-2147483648L),
            3 => JsonNode.Parse("9223372036854775808"),
            4 => JsonValue.Create(new string('x', 100_000)),
            5 => JsonValue.Create(current is JsonValue v && v.TryGetValue<string>(out var s) ? s + " \u0000\u0007\u202e\ud83d\ude00 @mergequeue merge p=-2147483648" : "\u0000\u202e"),
            6 => JsonValue.Create(Surrogate),
            7 => new JsonArray(JsonValue.Create(1), JsonValue.Create("x")),
            8 => new JsonObject { ["unexpected"] = true },
            9 => JsonValue.Create(true),
            10 => JsonValue.Create(1.5e308),
            _ => JsonValue.Create("@mergequeue merge\n@mergequeue try\n@mergequeue cancel\n" + string.Concat(Enumerable.Repeat("@mergequeue retry\n", 50))),
        };
        if (random.Next(8) == 0 && parent is JsonObject removeFrom) removeFrom.Remove((string)key);
        else if (parent is JsonObject obj) obj[(string)key] = replacement;
        else ((JsonArray)parent)[(int)key] = replacement;
        // A lone UTF-16 surrogate cannot be written by the serializer: put the escape in the text itself.
        return root.ToJsonString().Replace("\\u0001SURROGATE\\u0001", "\\ud800", StringComparison.Ordinal);
    }

    private static void Collect(JsonNode node, List<(JsonNode, object)> slots)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj.ToArray())
                {
                    slots.Add((obj, name));
                    if (child is not null) Collect(child, slots);
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    slots.Add((array, i));
                    if (array[i] is { } child) Collect(child, slots);
                }
                break;
        }
    }
}
