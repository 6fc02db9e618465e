using System.Text.Json.Nodes;
using MergeQueue.Simulator;

namespace MergeQueue.Simulator.Tests;

/// <summary>
/// Every webhook payload the simulator builds has every field GitHub's real payload of the same event
/// and action has, with the same JSON type (fixtures: ../shared/fixtures/github-webhooks).
/// </summary>
public class WebhookPayloadGoldenTests
{
    // Fields a fixture has that the simulator deliberately never sends, with the reason.
    private static readonly Dictionary<string, string> Exempt = new()
    {
        // Only suites triggered by a deployment carry one; the simulator has no deployments.
        ["$.check_run.check_suite.deployment"] = "no deployments",
        // push/1.payload.json is for an organization's repository; GitHub names the organization only then.
        ["$.repository.organization"] = "organization-owned repositories only",
    };

    public sealed record Case(string Event, string? Action, Func<GitHubJsonSamples, JsonObject> Build, Func<JsonObject, JsonObject>? DeriveFixture = null)
    {
        public override string ToString() => Action is null ? Event : $"{Event}.{Action}";
    }

    private static JsonObject PrEvent(GitHubJsonSamples s, string action, string? before = null, SimLabel? label = null, JsonObject? changes = null) =>
        s.Json.PullRequestEvent(action, s.Repo, s.Pr, s.Author, changes, mergeable: true, before: before, label: label, stats: s.Stats);

    public static IEnumerable<TestCaseData> Cases()
    {
        Case[] cases =
        [
            new("pull_request", "opened", s => PrEvent(s, "opened")),
            new("pull_request", "closed", s => { s.MergePr(); return PrEvent(s, "closed"); }),
            new("pull_request", "reopened", s => PrEvent(s, "reopened")),
            new("pull_request", "synchronize", s => PrEvent(s, "synchronize", before: s.BaseCommit.Sha)),
            new("pull_request", "converted_to_draft", s => { s.Pr.Draft = true; return PrEvent(s, "converted_to_draft"); }),
            new("pull_request", "ready_for_review", s => PrEvent(s, "ready_for_review")),
            new("pull_request", "labeled", s => PrEvent(s, "labeled", label: s.Label)),
            new("pull_request", "unlabeled", s => PrEvent(s, "unlabeled", label: s.Repo.Labels[1])),
            // No real fixture exists for edited (see the fixtures' README): derived from opened plus GitHub's documented "changes".
            new("pull_request", "edited",
                s => PrEvent(s, "edited", changes: EditedChanges()),
                DeriveFixture: opened => { opened["action"] = "edited"; opened["changes"] = EditedChanges(); return opened; }),
            new("pull_request_review", "submitted", s => s.Json.PullRequestReviewEvent("submitted", s.Repo, s.Pr, s.Approval, s.Reviewer, mergeable: true, stats: s.Stats)),
            new("pull_request_review", "dismissed", s => { s.Approval.State = "DISMISSED"; return s.Json.PullRequestReviewEvent("dismissed", s.Repo, s.Pr, s.Approval, s.Owner, mergeable: true, stats: s.Stats); }),
            new("issue_comment", "created", s => s.Json.IssueCommentEvent("created", s.Repo, s.Pr, s.Comment, s.Reviewer)),
            new("issue_comment", "edited", s => s.Json.IssueCommentEvent("edited", s.Repo, s.Pr, s.Comment, s.Reviewer, new JsonObject { ["body"] = new JsonObject { ["from"] = "@mergequeue r" } })),
            new("issue_comment", "deleted", s => s.Json.IssueCommentEvent("deleted", s.Repo, s.Pr, s.Comment, s.Reviewer)),
            new("status", null, s => s.Json.StatusEvent(s.Repo, s.Status, s.HeadCommit, [s.Pr.HeadRef], s.Bot)),
            new("check_run", "created", s => { s.StartRun(); return s.Json.CheckRunEvent("created", s.Repo, s.Run, s.Suite, s.Bot); }),
            new("check_run", "completed", s => s.Json.CheckRunEvent("completed", s.Repo, s.Run, s.Suite, s.Bot)),
            new("check_run", "rerequested", s => s.Json.CheckRunEvent("rerequested", s.Repo, s.Run, s.Suite, s.Author)),
            new("check_suite", "requested", s => { s.StartRun(); return s.Json.CheckSuiteEvent("requested", s.Repo, s.Suite, s.Author, s.HeadCommit); }),
            new("check_suite", "completed", s => s.Json.CheckSuiteEvent("completed", s.Repo, s.Suite, s.Bot, s.HeadCommit)),
            new("check_suite", "rerequested", s => s.Json.CheckSuiteEvent("rerequested", s.Repo, s.Suite, s.Author, s.HeadCommit)),
            new("push", null, s => s.Json.PushEvent(s.Repo, "refs/heads/" + s.Pr.HeadRef, s.BaseCommit.Sha, s.HeadCommit.Sha, false, [s.HeadCommit], s.Author)),
        ];
        return cases.Select(c => new TestCaseData(c).SetName($"WebhookPayload_{c}_HasEveryFixtureFieldWithSameType"));
    }

    private static JsonObject EditedChanges() => new()
    {
        ["title"] = new JsonObject { ["from"] = "Add a widget" },
        ["body"] = new JsonObject { ["from"] = "Adds a widget." },
        ["base"] = new JsonObject { ["ref"] = new JsonObject { ["from"] = "develop" }, ["sha"] = new JsonObject { ["from"] = "4444444444444444444444444444444444444444" } },
    };

    [TestCaseSource(nameof(Cases))]
    public void WebhookPayload_ComparedWithFixture_HasEveryFieldWithSameType(Case c)
    {
        var payload = c.Build(new GitHubJsonSamples());

        AssertMatchesFixtures(c.Event, c.Action, payload, c.DeriveFixture);
    }

    /// <summary>Fails with every missing or mistyped field path at once.</summary>
    internal static void AssertMatchesFixtures(string @event, string? action, JsonObject payload, Func<JsonObject, JsonObject>? derive = null)
    {
        var fixtures = derive is null
            ? WebhookFixtures.Load(@event, action)
            : WebhookFixtures.Load(@event, "opened").Select(f => (f.Name + " (derived)", derive(f.Payload))).ToList();
        // Compare what goes over the wire, not the in-memory nodes.
        var sent = JsonNode.Parse(payload.ToJsonString());

        var problems = WebhookFixtures.ShapeDifferences(fixtures.Select(f => (JsonNode?)f.Payload), sent, Exempt.Keys.ToHashSet());

        problems.Should().BeEmpty(
            "the {0} payload must have every field of {1} with the same JSON type; {2} differences:\n  {3}\n",
            action is null ? @event : $"{@event}.{action}", string.Join(", ", fixtures.Select(f => f.Name)),
            problems.Count, string.Join("\n  ", problems));
    }
}

/// <summary>
/// The same golden comparison on the payloads a running simulator really delivers: a hook on a small
/// receiver, a pull request driven through its life, every received body compared with GitHub's.
/// </summary>
public class DeliveredWebhookGoldenTests
{
    // Where the live comparison accepts less than the builder tests, and why.
    private static readonly Dictionary<string, string> LiveExempt = new()
    {
        // GitHub's schema allows null (a label created without a description, as the simulator's story does);
        // the fixtures just happen to describe every label.
        ["$.label.description"] = "nullable label description",
        ["$.pull_request.labels[].description"] = "nullable label description",
        ["$.issue.labels[].description"] = "nullable label description",
        ["$.check_run.check_suite.deployment"] = "no deployments",
        ["$.repository.organization"] = "organization-owned repositories only",
    };

    [Test, CancelAfter(60_000)]
    public async Task DeliveredPayloads_PullRequestStory_EveryPayloadMatchesFixtures(CancellationToken ct)
    {
        await using var sim = await GitHubSimulator.StartAsync(new SimulatorOptions
        {
            Ci = new Control.CiConfig(Contexts: [new Control.CiContext("ci"), new Control.CiContext("build", Kind: "check_run")], DelayMs: 5),
        }, ct);
        using var receiver = new WebhookReceiver();
        var control = sim.Control;
        await control.CreateUserAsync("alice", globalPermission: "write", ct: ct);
        await control.CreateUserAsync("bob", globalPermission: "write", ct: ct);
        var bot = await control.CreateUserAsync("mergequeue[bot]", globalPermission: "admin", ct: ct);
        await control.CreateRepositoryAsync("acme/widgets", new Dictionary<string, string> { ["README.md"] = "hello\n" }, ct: ct);
        await control.RegisterHookAsync(receiver.Url, secret: "s3cret", ct: ct);

        await control.CommitAsync("acme/widgets", "feature/widget", new Dictionary<string, string?> { ["widget.txt"] = "v1\n" }, "Add widget", "alice", ct: ct);
        var pr = await control.OpenPullRequestAsync("acme/widgets", "feature/widget", "Add widget", body: "Adds the widget.", author: "alice", ct: ct);
        var review = await control.ReviewAsync("acme/widgets", pr.Number, "bob", "APPROVED", "Looks good", ct: ct);
        var comment = await control.CommentAsync("acme/widgets", pr.Number, "bob", "@mergequeue r+", ct);
        await control.EditCommentAsync("acme/widgets", comment.Id, "@mergequeue r+ p=1", ct: ct);
        await control.AddLabelsAsync("acme/widgets", pr.Number, ["ready"], "bob", ct);
        await control.RemoveLabelAsync("acme/widgets", pr.Number, "ready", "bob", ct);
        await control.PushToPullRequestAsync("acme/widgets", pr.Number, new Dictionary<string, string?> { ["widget.txt"] = "v2\n" }, "Polish widget", "alice", ct);
        var octokit = new Octokit.GitHubClient(new Octokit.ProductHeaderValue("golden-tests"), sim.BaseUrl)
        {
            Credentials = new Octokit.Credentials(bot.Token, Octokit.AuthenticationType.Bearer),
        };
        var head = (await control.GetPullRequestAsync("acme/widgets", pr.Number, ct)).HeadSha;
        await octokit.Repository.Status.Create("acme", "widgets", head, new Octokit.NewCommitStatus { State = Octokit.CommitState.Success, Context = "lint", Description = "Clean" });
        await control.DismissReviewAsync("acme/widgets", pr.Number, review.Id, "bob", ct);
        await control.SetDraftAsync("acme/widgets", pr.Number, true, "alice", ct);
        await control.SetDraftAsync("acme/widgets", pr.Number, false, "alice", ct);
        await control.DeleteCommentAsync("acme/widgets", comment.Id, "bob", ct);
        await control.ClosePullRequestAsync("acme/widgets", pr.Number, "alice", ct);
        await control.ReopenPullRequestAsync("acme/widgets", pr.Number, "alice", ct);
        await control.WaitForIdleAsync(TimeSpan.FromSeconds(20), ct);
        var sent = (await control.DeliveriesAsync(ct: ct)).Count;
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(receiver.Received.Count >= sent), TimeSpan.FromSeconds(20), ct);

        var received = receiver.Received.ToList();
        var events = received.Select(r => r.Event).Distinct().ToList();
        var nullableFrom = events.SelectMany(WebhookFixtures.LoadEvent).ToList();
        var problems = new List<string>();
        var compared = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (eventName, body) in received)
        {
            var payload = JsonNode.Parse(body)!.AsObject();
            var action = payload["action"]?.GetValue<string>();
            var name = action is null ? eventName : $"{eventName}.{action}";
            var fixtures = action == "edited" && eventName == "pull_request"
                ? [] // no real fixture (see the fixtures' README); the builder test covers it
                : WebhookFixtures.TryLoad(eventName, action);
            if (fixtures.Count == 0) continue;
            compared.Add(name);
            problems.AddRange(WebhookFixtures.ShapeDifferences(fixtures.Select(f => (JsonNode?)f.Payload), payload, LiveExempt.Keys.ToHashSet(),
                    nullableFrom, absentFrom: WebhookFixtures.LoadEvent(eventName))
                .Select(p => $"{name}: {p}"));
        }

        compared.Should().Contain(["pull_request.opened", "pull_request.synchronize", "pull_request.labeled", "pull_request.unlabeled",
            "pull_request.closed", "pull_request.reopened", "pull_request.converted_to_draft", "pull_request.ready_for_review",
            "pull_request_review.submitted", "pull_request_review.dismissed", "issue_comment.created", "issue_comment.edited",
            "issue_comment.deleted", "push", "status", "check_run.created", "check_run.completed", "check_suite.completed"]);
        problems.Distinct().Should().BeEmpty("every delivered payload must have every field of GitHub's fixture for its event and action:\n  {0}\n",
            string.Join("\n  ", problems.Distinct()));
    }

    /// <summary>Answers 200 to every POST and keeps (X-GitHub-Event, body).</summary>
    private sealed class WebhookReceiver : IDisposable
    {
        private readonly System.Net.HttpListener listener = new();
        private readonly Task loop;

        public WebhookReceiver()
        {
            var port = FreePort();
            Url = $"http://127.0.0.1:{port}/hook/";
            listener.Prefixes.Add(Url);
            listener.Start();
            loop = Task.Run(ServeAsync);
        }

        public string Url { get; }

        public System.Collections.Concurrent.ConcurrentQueue<(string Event, string Body)> Received { get; } = new();

        private static int FreePort()
        {
            using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            probe.Start();
            return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        private async Task ServeAsync()
        {
            while (listener.IsListening)
            {
                System.Net.HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is System.Net.HttpListenerException or ObjectDisposedException)
                {
                    return; // stopped
                }
                using (var reader = new StreamReader(context.Request.InputStream))
                    Received.Enqueue((context.Request.Headers["X-GitHub-Event"] ?? "", await reader.ReadToEndAsync()));
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
            loop.Wait(TimeSpan.FromSeconds(5));
        }
    }
}

public class WebhookShapeComparisonTests
{
    [Test]
    public void ShapeDifferences_MissingMistypedAndNulledFields_ReportsEveryPath()
    {
        var fixture = JsonNode.Parse("""{"a":1,"b":{"c":"x","d":[{"e":true}]},"f":null,"installation":{"id":1}}""");
        var ours = JsonNode.Parse("""{"a":"1","b":{"d":[{"e":null}]},"f":{"any":1},"extra":2}""");

        var problems = WebhookFixtures.ShapeDifferences([fixture], ours);

        problems.Should().BeEquivalentTo(
            "$.a: string, fixture has number",
            "$.b.c: missing (fixture has string)",
            "$.b.d[].e: null, fixture has bool");
    }

    [Test]
    public void ShapeDifferences_NullInAnotherFixtureOfTheEvent_AcceptsNull()
    {
        var signed = JsonNode.Parse("""{"author":{"login":"a"}}""");
        var unsigned = JsonNode.Parse("""{"author":null}""");

        WebhookFixtures.ShapeDifferences([signed, unsigned], JsonNode.Parse("""{"author":null}""")).Should().BeEmpty();
        WebhookFixtures.ShapeDifferences([signed, unsigned], JsonNode.Parse("""{"author":{}}""")).Should().Equal("$.author.login: missing (fixture has string)");
    }
}
