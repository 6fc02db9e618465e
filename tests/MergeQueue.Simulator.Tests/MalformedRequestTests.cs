using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Tests.Support;

namespace MergeQueue.Simulator.Tests;

/// <summary>Bad input gets GitHub's 400/404/422 with its error body, never the last-resort 500.</summary>
[CancelAfter(30_000)]
public class MalformedRequestTests : SimulatorTestBase
{
    private const string Sha0 = "0123456789abcdef0123456789abcdef01234567";

    [TestCase("POST", "/git/refs", "{not json", 400)]
    [TestCase("POST", "/git/refs", "[1,2]", 400)]
    [TestCase("POST", "/git/refs", "{}", 422)]
    [TestCase("POST", "/git/refs", """{"ref":"refs/heads/x"}""", 422)]
    [TestCase("POST", "/git/refs", """{"ref":"refs/heads/x","sha":5}""", 422)]
    [TestCase("POST", "/git/refs", """{"ref":"heads/x","sha":"{main}"}""", 422)]
    [TestCase("POST", "/git/refs", """{"ref":"refs/heads/x","sha":"{unknown}"}""", 422)]
    [TestCase("PATCH", "/git/refs/heads/nope", """{"sha":"{main}"}""", 422)]
    [TestCase("PATCH", "/git/refs/heads/main", """{"sha":"{unknown}"}""", 422)]
    [TestCase("PATCH", "/git/refs/heads/main", """{"force":true}""", 422)]
    [TestCase("DELETE", "/git/refs/heads/nope", null, 422)]
    [TestCase("GET", "/git/refs/heads/nope", null, 404)]
    [TestCase("GET", "/git/commits/{unknown}", null, 404)]
    [TestCase("GET", "/git/commits/not-a-sha", null, 404)]
    [TestCase("GET", "/git/trees/{unknown}", null, 404)]
    [TestCase("GET", "/commits/{unknown}", null, 422)]
    [TestCase("GET", "/commits/nope/status", null, 404)]
    [TestCase("GET", "/compare/main...nope", null, 404)]
    [TestCase("GET", "/compare/garbage", null, 404)]
    [TestCase("POST", "/git/commits", """{"message":"m","tree":"{unknown}"}""", 422)]
    [TestCase("POST", "/git/commits", """{"message":"m"}""", 422)]
    [TestCase("POST", "/statuses/{unknown}", """{"state":"success"}""", 422)]
    [TestCase("POST", "/statuses/{main}", """{"state":"great"}""", 422)]
    [TestCase("POST", "/statuses/{main}", "{oops", 400)]
    [TestCase("POST", "/check-runs", """{"head_sha":"{main}"}""", 422)]
    [TestCase("POST", "/check-runs", """{"name":"x","head_sha":"{main}","status":"done"}""", 422)]
    [TestCase("PATCH", "/check-runs/999999", """{"status":"completed","conclusion":"success"}""", 404)]
    [TestCase("PATCH", "/check-runs/abc", "{}", 404)]
    [TestCase("GET", "/pulls/999", null, 404)]
    [TestCase("GET", "/pulls/abc", null, 404)]
    [TestCase("PUT", "/pulls/999/merge", "{}", 404)]
    [TestCase("POST", "/merges", """{"base":"main"}""", 422)]
    [TestCase("POST", "/issues/999/comments", """{"body":"x"}""", 404)]
    [TestCase("POST", "/issues/1/comments", """{"body":7}""", 422)]
    [TestCase("PATCH", "/issues/comments/999999", """{"body":"x"}""", 404)]
    [TestCase("POST", "/issues/comments/999999/reactions", """{"content":"+1"}""", 404)]
    [TestCase("POST", "/issues/1/labels", """{"labels":[]}""", 422)]
    [TestCase("POST", "/issues/1/labels", """{"labels":"x"}""", 422)]
    [TestCase("GET", "/contents/missing.txt", null, 404)]
    [TestCase("GET", "/contents/README.md?ref=nope", null, 404)]
    [TestCase("GET", "/collaborators/ghost/permission", null, 404)]
    [TestCase("GET", "/no/such/endpoint", null, 404)]
    public async Task BadRequest_GetsGitHubError(string method, string path, string? body, int expected)
    {
        // Every case is refused, so they can share one repository.
        var (repo, main) = await SharedRepoAsync();
        string Fill(string s) => s.Replace("{main}", main).Replace("{unknown}", Sha0);

        using var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("token", BotToken);
        using var request = new HttpRequestMessage(new HttpMethod(method), $"api/v3/repos/{repo}{Fill(path)}");
        if (body is not null) request.Content = new StringContent(Fill(body), Encoding.UTF8, "application/json");
        var response = await http.SendAsync(request);

        ((int)response.StatusCode).Should().Be(expected, await response.Content.ReadAsStringAsync());
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        error["message"]!.GetValue<string>().Should().NotBeNullOrEmpty();
        error["documentation_url"].Should().NotBeNull();
        (await Control.UnexpectedErrorsAsync()).Should().BeEmpty();
    }

    private (string Repo, string Main)? shared;

    private async Task<(string Repo, string Main)> SharedRepoAsync()
    {
        if (shared is null)
        {
            var repo = await NewRepoAsync();
            await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
            shared = (repo, (await Control.BranchShaAsync(repo, "main"))!);
        }
        return shared.Value;
    }

    [Test]
    public async Task UnknownRepository_Is404()
    {
        using var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("token", BotToken);
        (await http.GetAsync("repos/nobody/nothing/pulls")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Test]
    public async Task ControlApi_BadJson_Is400()
    {
        using var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        var response = await http.PostAsync("_sim/repos", new StringContent("{bad", Encoding.UTF8, "application/json"));
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }
}
