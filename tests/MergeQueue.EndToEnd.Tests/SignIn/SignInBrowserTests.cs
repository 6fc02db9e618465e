using MergeQueue.Data;
using MergeQueue.EndToEnd.Tests.Dashboard;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;

namespace MergeQueue.EndToEnd.Tests.SignIn;

/// <summary>A person signs in through the simulator's GitHub in headless Chromium and cancels a PR from its dashboard page.</summary>
[TestFixture, NonParallelizable, CancelAfter(180_000)]
public sealed class SignInBrowserTests
{
    [Test]
    public async Task SignedInUser_CancelsAPullRequestFromTheDashboard()
    {
        Assert.That(Browser.Available, "headless Chromium is needed: apt-get install -y chromium chromium-driver (scripts/test.sh does)");
        await using var t = await GitHubSignInTests.StartAsync();
        await t.Service.Services.GetRequiredService<ApiKeyStore>().CreateUserAsync("alice", ApiRoles.User, ["acme/widgets"]);
        var n = await t.OpenPrAsync(title: "Cancel me from the dashboard");
        await t.ApproveAndMergeAsync(n);
        await t.SettleAsync();
        (await t.QueueStatusAsync(n))!.State.Should().Be("pending");

        using var browser = Browser.Start();
        var page = new Uri(t.ServiceUrl, $"repos/acme/widgets/pulls/{n}");
        browser.GoTo(page);
        browser.FindAll("#action-cancel").Should().BeEmpty("a visitor sees no actions");

        // Sign in: the service, GitHub's authorize page (alice is signed in there and approves), the callback, back to the PR.
        browser.Find("#signin").Click();
        await browser.WaitForAsync(() => browser.Driver.Url == page.ToString() && browser.FindAll("#signed-in-as").Count == 1, "signed in and back on the PR page");
        browser.Find("#signed-in-as").Text.Should().Be("alice");

        browser.Find("#action-cancel").Click();
        await browser.WaitForAsync(() => browser.FindAll("#notice").Count == 1, "the action's outcome");
        browser.Find("#notice").Text.Should().Be("Done: Cancelled by alice");
        browser.Screenshot("signed-in-cancel");

        await t.SettleAsync();
        var status = (await t.QueueStatusAsync(n))!;
        status.State.Should().Be("failure");
        status.Description.Should().Contain("alice");

        browser.GoTo(page);
        await browser.WaitForAsync(() => browser.FindAll("li.change[data-to='Cancelled']").Count == 1, "the cancel in the timeline");
        browser.Find("li.change[data-to='Cancelled'] .cause").Text.Should().Contain("dashboard action by alice");
        browser.Find("#pr-state").Text.Should().Be("Cancelled");
    }
}
