using System.Net;
using System.Net.Http.Headers;
using MergeQueue.Service.Webhooks;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>Intake parses every real payload GitHub publishes (shared/fixtures/github-webhooks).</summary>
public class FixtureIntakeTests
{
    public static string FixturesRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MergeQueue.sln"))) dir = dir.Parent;
        var root = dir is null ? null : Path.Combine(dir.FullName, "..", "shared", "fixtures", "github-webhooks");
        if (root is null || !Directory.Exists(root)) Assert.Fail("shared/fixtures/github-webhooks not found beside the checkout");
        return Path.GetFullPath(root!);
    }

    private static IEnumerable<TestCaseData> Fixtures()
    {
        var root = FixturesRootForDiscovery();
        if (root is null) yield break;
        foreach (var file in Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var eventName = Path.GetFileName(Path.GetDirectoryName(file)!);
            yield return new TestCaseData(eventName, Path.GetRelativePath(root, file)).SetName($"Parse_{eventName}_{Path.GetFileNameWithoutExtension(file)}");
        }
    }

    private static string? FixturesRootForDiscovery()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MergeQueue.sln"))) dir = dir.Parent;
        var root = dir is null ? null : Path.Combine(dir.FullName, "..", "shared", "fixtures", "github-webhooks");
        return root is not null && Directory.Exists(root) ? root : null;
    }

    [Test]
    public void Fixtures_AreThere() => Directory.EnumerateFiles(FixturesRoot(), "*.json", SearchOption.AllDirectories).Should().HaveCountGreaterThan(50);

    [TestCaseSource(nameof(Fixtures))]
    public void Parse_RealPayload_GivesItsEvent(string eventName, string relativePath)
    {
        var payload = File.ReadAllText(Path.Combine(FixturesRoot(), relativePath));
        var parsed = GitHubEvent.Parse(eventName, payload);
        switch (eventName)
        {
            case "pull_request":
                var pr = parsed.Should().BeOfType<GitHubEvent.PullRequestChanged>().Subject;
                pr.Number.Should().BePositive();
                pr.HeadSha.Value.Should().HaveLength(40);
                break;
            case "pull_request_review":
                parsed.Should().BeOfType<GitHubEvent.ReviewChanged>().Which.CommitSha.Value.Should().HaveLength(40);
                break;
            case "issue_comment":
                parsed.Should().BeOfType<GitHubEvent.CommentChanged>().Which.CommentId.Should().BePositive();
                break;
            case "status":
                parsed.Should().BeOfType<GitHubEvent.StatusChanged>().Which.Sha.Value.Should().HaveLength(40);
                break;
            case "check_run" or "check_suite":
                parsed.Should().BeOfType<GitHubEvent.ChecksChanged>().Which.Sha.Value.Should().HaveLength(40);
                break;
            case "push":
                parsed.Should().BeOfType<GitHubEvent.Pushed>().Which.Ref.Should().StartWith("refs/");
                break;
            case "ping":
                parsed.Should().BeOfType<GitHubEvent.Ping>();
                break;
            case "installation" or "installation_repositories":
                var installation = parsed.Should().BeOfType<GitHubEvent.InstallationChanged>().Which;
                installation.InstallationId.Should().BePositive();
                installation.Added.Concat(installation.Removed).Should().NotBeEmpty("every fixture adds or removes a repository");
                break;
            default:
                parsed.Should().BeOfType<GitHubEvent.Ignored>();
                break;
        }
    }

    [Test]
    public async Task Intake_EveryRealPayload_IsAccepted()
    {
        await using var t = await ServiceTester.StartAsync();
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        foreach (var file in Directory.EnumerateFiles(FixturesRoot(), "*.json", SearchOption.AllDirectories))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            var request = new HttpRequestMessage(HttpMethod.Post, "webhooks/github") { Content = new ByteArrayContent(bytes) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("X-GitHub-Event", Path.GetFileName(Path.GetDirectoryName(file)!));
            request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
            request.Headers.Add("X-Hub-Signature-256", WebhookSignature.Sign(bytes, ServiceTester.Secret));
            var response = await http.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.Accepted, file);
        }
        await t.SettleDeliveriesAsync();
    }
}
