using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using MergeQueue.Simulator.Tests.Support;

namespace MergeQueue.Simulator.Tests;

/// <summary>GitHub's OAuth web flow: authorize redirects back with a code, the code buys one token acting as the approving user.</summary>
[CancelAfter(30_000)]
public class OAuthWebFlowTests : SimulatorTestBase
{
    private const string Callback = "http://127.0.0.1:5999/signin/callback";
    private HttpClient web = null!;

    [SetUp]
    public async Task RegisterApp()
    {
        web = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Sim.BaseUrl };
        await Control.RegisterOAuthAppAsync("client-1", "secret-1", Callback);
        await Control.CreateUserAsync("alice");
        await Control.SignInBrowserAsync("alice");
    }

    [TearDown]
    public void DisposeClient() => web.Dispose();

    private async Task<string> AuthorizeAsync(string clientId = "client-1", string state = "st-1")
    {
        using var response = await web.GetAsync($"login/oauth/authorize?client_id={clientId}&redirect_uri={Uri.EscapeDataString(Callback)}&state={state}&scope=");
        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var location = response.Headers.Location!;
        location.GetLeftPart(UriPartial.Path).Should().Be(Callback);
        var query = QueryHelpers.ParseQuery(location.Query);
        query["state"].ToString().Should().Be(state);
        return query["code"].ToString();
    }

    private async Task<JsonObject> ExchangeAsync(string code, string secret = "secret-1", string clientId = "client-1")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "login/oauth/access_token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = clientId, ["client_secret"] = secret, ["code"] = code, ["redirect_uri"] = Callback }),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await web.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    [Test]
    public async Task CodeExchangedOnce_TokenActsAsApprovingUser()
    {
        var code = await AuthorizeAsync();
        var answer = await ExchangeAsync(code);
        answer["token_type"]!.ToString().Should().Be("bearer");
        var token = answer["access_token"]!.ToString();

        using var user = new HttpRequestMessage(HttpMethod.Get, "user");
        user.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        user.Headers.UserAgent.ParseAdd("test");
        using var me = await web.SendAsync(user);
        me.StatusCode.Should().Be(HttpStatusCode.OK);
        JsonNode.Parse(await me.Content.ReadAsStringAsync())!["login"]!.ToString().Should().Be("alice");

        (await ExchangeAsync(code))["error"]!.ToString().Should().Be("bad_verification_code");
    }

    [Test]
    public async Task WithoutJsonAccept_AnswersFormEncoded()
    {
        var code = await AuthorizeAsync();
        using var response = await web.PostAsync("login/oauth/access_token",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["client_id"] = "client-1", ["client_secret"] = "secret-1", ["code"] = code }));
        var form = QueryHelpers.ParseQuery(await response.Content.ReadAsStringAsync());
        form["access_token"].ToString().Should().StartWith("gho_");
        form["token_type"].ToString().Should().Be("bearer");
    }

    [Test]
    public async Task WrongSecret_IsIncorrectClientCredentials_AndCodeStaysUnused()
    {
        var code = await AuthorizeAsync();
        var answer = await ExchangeAsync(code, secret: "wrong");
        answer["error"]!.ToString().Should().Be("incorrect_client_credentials");
        answer.ContainsKey("access_token").Should().BeFalse();
        (await ExchangeAsync(code)).ContainsKey("access_token").Should().BeTrue();
    }

    [Test]
    public async Task UnknownCode_OrCodeOfAnotherClient_IsBadVerificationCode()
    {
        await Control.RegisterOAuthAppAsync("client-2", "secret-2", Callback);
        (await ExchangeAsync("nope"))["error"]!.ToString().Should().Be("bad_verification_code");
        var code = await AuthorizeAsync();
        (await ExchangeAsync(code, secret: "secret-2", clientId: "client-2"))["error"]!.ToString().Should().Be("bad_verification_code");
    }

    [Test]
    public async Task ForeignRedirectUri_RedirectsToCallbackWithMismatch()
    {
        using var response = await web.GetAsync($"login/oauth/authorize?client_id=client-1&redirect_uri={Uri.EscapeDataString("http://evil.example/cb")}&state=s");
        response.StatusCode.Should().Be(HttpStatusCode.Redirect);
        response.Headers.Location!.GetLeftPart(UriPartial.Path).Should().Be(Callback);
        QueryHelpers.ParseQuery(response.Headers.Location.Query)["error"].ToString().Should().Be("redirect_uri_mismatch");
    }

    [Test]
    public async Task NobodySignedInAtGitHub_OrUnknownClient_IsRefused()
    {
        using (var unknown = await web.GetAsync("login/oauth/authorize?client_id=other&state=s"))
            unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
        await Control.SignInBrowserAsync(null);
        using var response = await web.GetAsync("login/oauth/authorize?client_id=client-1&state=s");
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }
}
