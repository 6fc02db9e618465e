using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace MergeQueue.EndToEnd.Tests.Setup;

/// <summary>From nothing configured to a merged PR: setup mode, GitHub's manifest flow through /setup, the App installed, a merge.</summary>
[CancelAfter(180_000)]
public partial class OneClickSetupEndToEndTests
{
    [GeneratedRegex("""<form id="manifest" method="post" action="([^"]+)">""")]
    private static partial Regex FormAction();

    [GeneratedRegex("""name="manifest" value="([^"]+)">""")]
    private static partial Regex ManifestField();

    [Test]
    public async Task Setup_FromEmptyConfiguration_AppCreatedStoredAndUsedWithoutRestart_PrMerges()
    {
        await using var t = await ServiceTester.StartAsync(startService: false);
        await t.StartServiceUnconfiguredAsync();
        var cookies = new CookieContainer();
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies }) { BaseAddress = t.ServiceUrl };

        // Setup mode: only /setup and /healthz answer.
        (await browser.GetAsync("healthz")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await browser.GetAsync("api/v1/status")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await browser.PostAsync("webhooks/github", new StringContent("{}"))).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);

        // /setup: a form posting the manifest to GitHub's /settings/apps/new.
        var page = await browser.GetStringAsync("setup");
        var action = WebUtility.HtmlDecode(FormAction().Match(page).Groups[1].Value);
        action.Should().StartWith(new Uri(t.Simulator.BaseUrl, "settings/apps/new?state=").ToString());
        var manifest = JsonNode.Parse(WebUtility.HtmlDecode(ManifestField().Match(page).Groups[1].Value))!;
        manifest["hook_attributes"]!["url"]!.ToString().Should().Be(new Uri(t.ServiceUrl, "webhooks/github").ToString());
        manifest["redirect_url"]!.ToString().Should().Be(new Uri(t.ServiceUrl, "setup/callback").ToString());
        manifest["public"]!.GetValue<bool>().Should().BeFalse();
        manifest["default_permissions"]!["contents"]!.ToString().Should().Be("write");

        // The browser posts it; GitHub (the simulator) creates the App and sends the browser back with a code.
        using var confirmed = await browser.PostAsync(action, new FormUrlEncodedContent(new Dictionary<string, string> { ["manifest"] = manifest.ToJsonString() }));
        confirmed.StatusCode.Should().Be(HttpStatusCode.Redirect);
        var callback = confirmed.Headers.Location!;
        callback.GetLeftPart(UriPartial.Path).Should().Be(new Uri(t.ServiceUrl, "setup/callback").ToString());
        using var done = await browser.GetAsync(callback);
        var donePage = await done.Content.ReadAsStringAsync();
        done.StatusCode.Should().Be(HttpStatusCode.OK, donePage);
        donePage.Should().Contain("MergeQueue is set up").And.Contain("acts as mergequeue[bot]");

        // Stored: the settings file and the key, readable by this user only; no secret in the database.
        var settings = JsonNode.Parse(await File.ReadAllTextAsync(t.SetupFile))!["MergeQueue"]!["GitHub"]!;
        var appId = long.Parse(settings["AppId"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture);
        var keyPath = settings["PrivateKeyPath"]!.ToString();
        Path.GetDirectoryName(keyPath).Should().Be(Path.GetDirectoryName(t.DatabasePath));
        if (!OperatingSystem.IsWindows())
        {
            File.GetUnixFileMode(t.SetupFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.GetUnixFileMode(keyPath).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        var secret = settings["WebhookSecret"]!.ToString();
        (await File.ReadAllBytesAsync(t.DatabasePath)).AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(secret)).Should().Be(-1);

        // Set up without a restart: other pages answer, the code worked once, /setup is now for admins.
        (await browser.GetAsync("api/v1/status")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await browser.GetAsync(callback)).StatusCode.Should().Be(HttpStatusCode.BadRequest, "the state cookie was used");
        (await browser.GetAsync("setup")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        // Dashboard sign-in through the App's OAuth client works at once too.
        await t.Control.SignInBrowserAsync("alice");
        using (var visitor = new SignIn.GitHubSignInTests.Visitor(t.ServiceUrl))
        {
            var (status, body, _) = await visitor.CallbackAsync(await visitor.StartSignInAsync());
            status.Should().Be(HttpStatusCode.Redirect, body);
            visitor.HasSession.Should().BeTrue();
        }

        // Installed on the repository through the simulator: a normal merge, as mergequeue[bot].
        await t.Control.InstallAppAsync(appId, "acme", [ServiceTester.Repo]);
        t.ActsAs("mergequeue[bot]");
        await t.SettleDeliveriesAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        (await t.Control.BranchMovesAsync(ServiceTester.Repo, "main")).Should().Contain(m => m.Actor == "mergequeue[bot]");
        (await t.Control.ApiCallsAsync()).Should().NotContain(c => c.Status == 401);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }
}
