using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using MergeQueue.Simulator.Tests.Support;

namespace MergeQueue.Simulator.Tests;

/// <summary>GitHub's App manifest flow: a posted manifest comes back as a code, the code converts once into an App with its key and secrets.</summary>
[CancelAfter(30_000)]
public class AppManifestFlowTests : SimulatorTestBase
{
    private const string Service = "http://127.0.0.1:5999";
    private HttpClient web = null!;

    [SetUp]
    public void CreateClient() => web = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Sim.BaseUrl };

    [TearDown]
    public void DisposeClient() => web.Dispose();

    private static string Manifest(string name = "Merge Queue", bool redirect = true)
    {
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["url"] = Service + "/",
            ["hook_attributes"] = new JsonObject { ["url"] = Service + "/webhooks/github" },
            ["callback_urls"] = new JsonArray(Service + "/signin/callback"),
            ["public"] = false,
            ["default_permissions"] = new JsonObject { ["contents"] = "write", ["metadata"] = "read" },
            ["default_events"] = new JsonArray("push", "pull_request"),
        };
        if (redirect) manifest["redirect_url"] = Service + "/setup/callback";
        return manifest.ToJsonString();
    }

    private async Task<HttpResponseMessage> PostManifestAsync(string manifest, string path = "settings/apps/new?state=st-1") =>
        await web.PostAsync(path, new FormUrlEncodedContent(new Dictionary<string, string> { ["manifest"] = manifest }));

    private async Task<HttpResponseMessage> ConvertAsync(string code)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"app-manifests/{code}/conversions");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        return await web.SendAsync(request);
    }

    [Test]
    public async Task Manifest_PostedConfirmedAndConverted_AppWithWorkingKeyHookAndOAuthClient()
    {
        using var confirmed = await PostManifestAsync(Manifest());
        confirmed.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var location = confirmed.Headers.Location!;
        location.GetLeftPart(UriPartial.Path).Should().Be(Service + "/setup/callback");
        var query = QueryHelpers.ParseQuery(location.Query);
        query["state"].ToString().Should().Be("st-1");
        var code = query["code"].ToString();

        using var converted = await ConvertAsync(code);
        converted.StatusCode.Should().Be(HttpStatusCode.Created);
        var app = JsonNode.Parse(await converted.Content.ReadAsStringAsync())!.AsObject();
        app["slug"]!.ToString().Should().Be("merge-queue");
        app["name"]!.ToString().Should().Be("Merge Queue");
        app["pem"]!.ToString().Should().StartWith("-----BEGIN RSA PRIVATE KEY-----");
        app["webhook_secret"]!.ToString().Should().NotBeNullOrEmpty();
        app["client_secret"]!.ToString().Should().NotBeNullOrEmpty();
        app["permissions"]!["contents"]!.ToString().Should().Be("write");
        var id = app["id"]!.GetValue<long>();

        // The key signs JWTs GitHub accepts for this App.
        var jwt = GitHubAppTests.Jwt(app["pem"]!.ToString(), id, DateTimeOffset.UtcNow.AddSeconds(-60), DateTimeOffset.UtcNow.AddMinutes(9));
        using var who = new HttpRequestMessage(HttpMethod.Get, "app");
        who.Headers.Authorization = new AuthenticationHeaderValue("Bearer", jwt);
        who.Headers.UserAgent.Add(new ProductInfoHeaderValue("test", "1"));
        using var whoAnswer = await web.SendAsync(who);
        whoAnswer.StatusCode.Should().Be(HttpStatusCode.OK);
        JsonNode.Parse(await whoAnswer.Content.ReadAsStringAsync())!["slug"]!.ToString().Should().Be("merge-queue");

        // The OAuth client signs users in at the manifest's callback URL.
        await Control.CreateUserAsync("alice");
        await Control.SignInBrowserAsync("alice");
        using var authorize = await web.GetAsync($"login/oauth/authorize?client_id={app["client_id"]}&state=s");
        authorize.StatusCode.Should().Be(HttpStatusCode.Redirect);
        authorize.Headers.Location!.GetLeftPart(UriPartial.Path).Should().Be(Service + "/signin/callback");

        // A code works once.
        using var again = await ConvertAsync(code);
        again.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Manifest_ForAnOrganization_AppOwnedByIt()
    {
        await Control.CreateUserAsync("acme");
        using var confirmed = await PostManifestAsync(Manifest("acme queue"), "organizations/acme/settings/apps/new");
        var code = QueryHelpers.ParseQuery(confirmed.Headers.Location!.Query)["code"].ToString();
        using var converted = await ConvertAsync(code);
        var app = JsonNode.Parse(await converted.Content.ReadAsStringAsync())!;
        app["owner"]!["login"]!.ToString().Should().Be("acme");
        app["slug"]!.ToString().Should().Be("acme-queue");
    }

    [Test]
    public async Task Manifest_WithoutRedirectUrl_Refused422()
    {
        using var refused = await PostManifestAsync(Manifest(redirect: false));
        refused.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
    }

    [Test]
    public async Task Conversion_UnknownCode_NotFound()
    {
        using var answer = await ConvertAsync("0123456789abcdef");
        answer.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
