using System.Net;
using MergeQueue.Data;
using MergeQueue.Simulator;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests.SignIn;

/// <summary>Dashboard sign-in through GitHub's OAuth web flow, against the simulator: the happy path and every refusal.</summary>
[CancelAfter(60_000)]
public class GitHubSignInTests
{
    public const string ClientId = "mq-dashboard";
    public const string ClientSecret = "mq-oauth-secret";

    /// <summary>The service with sign-in configured and the OAuth app registered at the simulator, alice signed in at "GitHub".</summary>
    public static async Task<ServiceTester> StartAsync(string clientSecret = ClientSecret, bool dashboardPublic = true)
    {
        var t = await ServiceTester.StartAsync(settings: new Dictionary<string, string?>
        {
            ["MergeQueue:GitHub:OAuthClientId"] = ClientId,
            ["MergeQueue:GitHub:OAuthClientSecret"] = clientSecret,
            ["MergeQueue:Dashboard:Public"] = dashboardPublic ? "true" : "false",
            // The callback is where the browser reached the service.
            ["MergeQueue:PublicUrl"] = "",
        });
        await t.Control.RegisterOAuthAppAsync(ClientId, ClientSecret, new Uri(t.ServiceUrl, "signin/callback").ToString());
        await t.Control.SignInBrowserAsync("alice");
        return t;
    }

    internal sealed class Visitor : IDisposable
    {
        public Visitor(Uri serviceUrl)
        {
            Http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = Cookies }) { BaseAddress = serviceUrl };
        }

        public CookieContainer Cookies { get; } = new();
        public HttpClient Http { get; }
        public bool HasSession => Cookies.GetCookies(Http.BaseAddress!).Any(c => c.Name == "mq_session");

        /// <summary>/signin, then GitHub's authorize page: the callback URL GitHub sends the browser back to (not yet followed).</summary>
        public async Task<Uri> StartSignInAsync(string returnUrl = "/")
        {
            using var signin = await Http.GetAsync("signin?returnUrl=" + Uri.EscapeDataString(returnUrl));
            signin.StatusCode.Should().Be(HttpStatusCode.Redirect);
            using var github = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
            using var authorize = await github.GetAsync(signin.Headers.Location);
            authorize.StatusCode.Should().Be(HttpStatusCode.Redirect);
            return authorize.Headers.Location!;
        }

        public async Task<(HttpStatusCode Status, string Body, Uri? Location)> CallbackAsync(Uri callback)
        {
            using var response = await Http.GetAsync(callback);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.Location);
        }

        public void Dispose() => Http.Dispose();
    }

    private static Uri WithQuery(Uri callback, string key, string value)
    {
        var query = QueryHelpers.ParseQuery(callback.Query).ToDictionary(q => q.Key, q => (string?)q.Value.ToString());
        query[key] = value;
        return new Uri(QueryHelpers.AddQueryString(callback.GetLeftPart(UriPartial.Path), query));
    }

    private static async Task AssertNoSessionAsync(Visitor visitor)
    {
        visitor.HasSession.Should().BeFalse();
        (await visitor.Http.GetStringAsync("/")).Should().NotContain("signed-in-as");
    }

    [Test]
    public async Task SignIn_ThroughGitHub_SignsInTheApprovingLogin()
    {
        await using var t = await StartAsync();
        using var visitor = new Visitor(t.ServiceUrl);

        var callback = await visitor.StartSignInAsync("/audit");
        var (status, _, location) = await visitor.CallbackAsync(callback);

        status.Should().Be(HttpStatusCode.Redirect);
        location!.ToString().Should().Be("/audit");
        visitor.HasSession.Should().BeTrue();
        (await visitor.Http.GetStringAsync("/")).Should().Contain("<span id=\"signed-in-as\">alice</span>");
    }

    [TestCase("/\t/evil.example")]
    [TestCase("/audit\r\nSet-Cookie: mq_session=forged")]
    [TestCase("//evil.example")]
    public async Task SignIn_ReturnUrlWithControlCharactersOrToAnotherSite_GoesHome(string returnUrl)
    {
        await using var t = await StartAsync();
        using var visitor = new Visitor(t.ServiceUrl);

        var (status, _, location) = await visitor.CallbackAsync(await visitor.StartSignInAsync(returnUrl));

        status.Should().Be(HttpStatusCode.Redirect);
        location!.ToString().Should().Be("/");
        visitor.HasSession.Should().BeTrue();
    }

    [Test]
    public async Task SignIn_BehindATlsProxy_SetsSecureCookies()
    {
        await using var t = await StartAsync();
        using var visitor = new Visitor(t.ServiceUrl);
        // The proxy (on loopback, trusted by default) terminated TLS and says so.
        visitor.Http.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");

        using var signin = await visitor.Http.GetAsync("signin?returnUrl=%2F");
        signin.Headers.GetValues("Set-Cookie").Should().ContainSingle(c => c.StartsWith("mq_signin=", StringComparison.Ordinal))
            .Which.Should().Contain("secure");
        // The callback sent to GitHub is https too (PublicUrl is empty here).
        signin.Headers.Location!.Query.Should().Contain(Uri.EscapeDataString("https://"));

        using var plain = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = t.ServiceUrl };
        using var direct = await plain.GetAsync("signin?returnUrl=%2F");
        direct.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("mq_signin=", StringComparison.Ordinal)).Should().NotContain("secure");
    }

    [Test]
    public async Task SignIn_WrongClientSecret_IsRefusedWithoutSession()
    {
        await using var t = await StartAsync(clientSecret: "not-the-secret");
        using var visitor = new Visitor(t.ServiceUrl);

        var (status, body, _) = await visitor.CallbackAsync(await visitor.StartSignInAsync());

        status.Should().Be(HttpStatusCode.Unauthorized);
        body.Should().Contain("incorrect_client_credentials");
        await AssertNoSessionAsync(visitor);
    }

    [Test]
    public async Task SignIn_ReusedCode_IsRefusedWithoutSession()
    {
        await using var t = await StartAsync();
        using var first = new Visitor(t.ServiceUrl);
        var callback = await first.StartSignInAsync();
        (await first.CallbackAsync(callback)).Status.Should().Be(HttpStatusCode.Redirect);

        // Someone replays the used code with a state of their own.
        using var replay = new Visitor(t.ServiceUrl);
        var own = await replay.StartSignInAsync();
        var stolen = WithQuery(own, "code", QueryHelpers.ParseQuery(callback.Query)["code"].ToString());
        var (status, body, _) = await replay.CallbackAsync(stolen);

        status.Should().Be(HttpStatusCode.Unauthorized);
        body.Should().Contain("bad_verification_code");
        await AssertNoSessionAsync(replay);
    }

    [Test]
    public async Task SignIn_UnknownCode_IsRefusedWithoutSession()
    {
        await using var t = await StartAsync();
        using var visitor = new Visitor(t.ServiceUrl);

        var (status, body, _) = await visitor.CallbackAsync(WithQuery(await visitor.StartSignInAsync(), "code", "made-up"));

        status.Should().Be(HttpStatusCode.Unauthorized);
        body.Should().Contain("bad_verification_code");
        await AssertNoSessionAsync(visitor);
    }

    [Test]
    public async Task SignIn_BadState_IsRefusedWithoutSession_AndTheCodeIsNotSpent()
    {
        await using var t = await StartAsync();
        using var visitor = new Visitor(t.ServiceUrl);
        var callback = await visitor.StartSignInAsync();

        var (status, body, _) = await visitor.CallbackAsync(WithQuery(callback, "state", "forged"));

        status.Should().Be(HttpStatusCode.BadRequest);
        body.Should().Contain("state parameter does not match");
        await AssertNoSessionAsync(visitor);

        // A browser that never started a sign-in (no state cookie) is refused the same way.
        using var stranger = new Visitor(t.ServiceUrl);
        var (strangerStatus, strangerBody, _) = await stranger.CallbackAsync(callback);
        strangerStatus.Should().Be(HttpStatusCode.BadRequest);
        strangerBody.Should().Contain("state parameter does not match");
        await AssertNoSessionAsync(stranger);
    }

    [Test]
    public async Task NotPublic_VisitorIsSentToSignIn_AndSeesPagesAfterwards()
    {
        await using var t = await StartAsync(dashboardPublic: false);
        using var visitor = new Visitor(t.ServiceUrl);

        // The audit log of one repository: alice may read acme/widgets (the audit log of all is for admins).
        using (var page = await visitor.Http.GetAsync("audit?repo=acme/widgets"))
        {
            page.StatusCode.Should().Be(HttpStatusCode.Redirect);
            page.Headers.Location!.PathAndQuery.Should().Be("/signin?returnUrl=%2Faudit%3Frepo%3Dacme%2Fwidgets");
        }
        (await visitor.CallbackAsync(await visitor.StartSignInAsync("/audit?repo=acme/widgets"))).Location!.ToString().Should().Be("/audit?repo=acme/widgets");
        using var after = await visitor.Http.GetAsync("audit?repo=acme/widgets");
        after.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Test]
    public async Task Role_ComesFromTheUsersTable_ReadOnlyByDefault()
    {
        await using var t = await StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.SettleAsync();
        using var visitor = new Visitor(t.ServiceUrl);
        await visitor.CallbackAsync(await visitor.StartSignInAsync());
        var page = $"repos/acme/widgets/pulls/{n}";

        (await visitor.Http.GetStringAsync(page)).Should().Contain("has the read-only role").And.NotContain("action-cancel");

        await t.Service.Services.GetRequiredService<ApiKeyStore>().CreateUserAsync("alice", ApiRoles.User, ["acme/widgets"]);
        (await visitor.Http.GetStringAsync(page)).Should().Contain("action-cancel").And.Contain("action-priority");
    }

    internal static string AntiforgeryToken(string html)
    {
        var match = System.Text.RegularExpressions.Regex.Match(html, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"");
        match.Success.Should().BeTrue("every page of a signed-in user carries the sign-out form's antiforgery token");
        return match.Groups[1].Value;
    }

    internal static async Task<HttpResponseMessage> PostFormAsync(Visitor visitor, string path, Dictionary<string, string> fields, string? formPage = null)
    {
        var page = await visitor.Http.GetStringAsync(formPage ?? path.Split('?')[0]);
        fields["__RequestVerificationToken"] = AntiforgeryToken(page);
        return await visitor.Http.PostAsync(path, new FormUrlEncodedContent(fields));
    }

    [Test]
    public async Task Freeze_FromRepositoryPage_ByAdmin_AndRefusedForAUserOfOtherRepos()
    {
        await using var t = await StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.SettleAsync();
        var store = t.Service.Services.GetRequiredService<ApiKeyStore>();
        var alice = await store.CreateUserAsync("alice", ApiRoles.User, ["acme/other"]);
        using var visitor = new Visitor(t.ServiceUrl);
        await visitor.CallbackAsync(await visitor.StartSignInAsync());
        const string page = "repos/acme/widgets";

        using (var refused = await PostFormAsync(visitor, page + "?handler=Freeze", new() { ["target"] = "main", ["reason"] = "release" }))
            refused.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var html = await visitor.Http.GetStringAsync(page);
        html.Should().Contain("Refused: alice has the user role without acme/widgets among its repositories").And.NotContain("frozen by");

        await store.UpdateUserAsync(alice!.Id, "alice", ApiRoles.Admin, []);
        using (var accepted = await PostFormAsync(visitor, page + "?handler=Freeze", new() { ["target"] = "main", ["reason"] = "release" }))
            accepted.StatusCode.Should().Be(HttpStatusCode.Redirect);
        html = await visitor.Http.GetStringAsync(page);
        html.Should().Contain("frozen by alice").And.Contain("Unfreeze main");
        var audit = await visitor.Http.GetStringAsync("audit?repo=acme/widgets&causeKind=dashboard&actor=alice");
        audit.Should().Contain("<td>freeze</td>").And.Contain("<td>alice</td>");

        using (var unfreeze = await PostFormAsync(visitor, page + "?handler=Unfreeze", new() { ["target"] = "main" }))
            unfreeze.StatusCode.Should().Be(HttpStatusCode.Redirect);
        (await visitor.Http.GetStringAsync(page)).Should().Contain("Done: main is open").And.NotContain("frozen by");
    }

    [Test]
    public async Task DeadDelivery_ListedForAll_ReplayedOnlyByAnAdmin()
    {
        await using var t = await StartAsync();
        var inbox = t.Service.Services.GetRequiredService<WebhookInbox>();
        const string id = "dead-delivery-1";
        await inbox.TryAcceptAsync(new WebhookDelivery(id, "ping", null, null, """{"zen":"x"}""", DateTimeOffset.UtcNow));
        await inbox.MarkProcessedAsync(id, WebhookInbox.Dead, "GitHub answered 503: Service Unavailable");
        var store = t.Service.Services.GetRequiredService<ApiKeyStore>();
        var alice = await store.CreateUserAsync("alice", ApiRoles.User, ["acme/widgets"]);
        using var visitor = new Visitor(t.ServiceUrl);
        await visitor.CallbackAsync(await visitor.StartSignInAsync());
        const string page = "audit/deliveries";

        var html = await visitor.Http.GetStringAsync(page);
        html.Should().Contain(id).And.Contain("GitHub answered 503").And.NotContain("action-replay", "only admins see the button");
        // The server refuses, whatever the page shows.
        using (var refused = await PostFormAsync(visitor, page + "?handler=Replay", new() { ["id"] = id }))
            refused.StatusCode.Should().Be(HttpStatusCode.Redirect);
        (await visitor.Http.GetStringAsync(page)).Should().Contain("Refused: alice has the user role; replaying a delivery needs admin.");
        (await inbox.GetAsync(id))!.Outcome.Should().Be(WebhookInbox.Dead);

        await store.UpdateUserAsync(alice!.Id, "alice", ApiRoles.Admin, []);
        (await visitor.Http.GetStringAsync(page)).Should().Contain("action-replay");
        using (var accepted = await PostFormAsync(visitor, page + "?handler=Replay", new() { ["id"] = id }))
            accepted.StatusCode.Should().Be(HttpStatusCode.Redirect);
        (await visitor.Http.GetStringAsync(page)).Should().Contain($"Done: delivery {id} is queued again.").And.Contain("id=\"no-dead\"");
        await SimulatorClient.WaitUntilAsync(async ct => (await inbox.GetAsync(id, ct))!.Outcome == "pong", TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task Action_WithoutAntiforgeryToken_IsRefused_AndSignOutEndsTheSession()
    {
        await using var t = await StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.SettleAsync();
        using var visitor = new Visitor(t.ServiceUrl);
        var cancel = $"repos/acme/widgets/pulls/{n}?handler=Cancel";

        // Razor Pages check the antiforgery token before anything else; only signed-in pages carry one.
        using (var forged = await visitor.Http.PostAsync(cancel, new FormUrlEncodedContent([])))
            forged.StatusCode.Should().Be(HttpStatusCode.BadRequest);

        await t.Service.Services.GetRequiredService<ApiKeyStore>().CreateUserAsync("alice", ApiRoles.Admin, []);
        await visitor.CallbackAsync(await visitor.StartSignInAsync());
        using (var forged = await visitor.Http.PostAsync(cancel, new FormUrlEncodedContent([])))
            forged.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await t.QueueStatusAsync(n))!.State.Should().Be("pending");

        using (var signout = await PostFormAsync(visitor, "signout", [], formPage: "/"))
            signout.StatusCode.Should().Be(HttpStatusCode.Redirect);
        await AssertNoSessionAsync(visitor);
    }
}
