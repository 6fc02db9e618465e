using System.Globalization;
using MergeQueue.Service.Dashboard;

namespace MergeQueue.EndToEnd.Tests.Dashboard;

/// <summary>
/// The dashboard in headless Chromium after a real run against the simulator: three days of
/// history (merges, a CI failure), then a PR that merges while its page is open.
/// </summary>
[TestFixture, NonParallelizable, CancelAfter(300_000)]
public sealed class DashboardBrowserTests
{
    [Test]
    public async Task Dashboard_AfterARealRun_ShowsTheStoryAndUpdatesLive()
    {
        Assert.That(Browser.Available, "headless Chromium is needed: apt-get install -y chromium chromium-driver (scripts/test.sh does)");
        await using var t = await ServiceTester.StartAsync();
        // Start on a fresh day at 09:00 so each run stays within its calendar day.
        var day1 = Trends.Floor(t.Clock.GetUtcNow(), hourly: false).AddDays(1).AddHours(9);
        t.Clock.SetUtcNow(day1);

        var first = await t.OpenPrAsync(title: "Add the sprocket");
        var second = await t.OpenPrAsync(title: "Polish the gear");
        await t.ApproveAndMergeAsync(first, second);
        await t.RunUntilAsync(() => t.AllClosedAsync(first, second));

        t.Clock.SetUtcNow(day1.AddDays(1));
        var broken = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "breaks CI\n" }, title: "Break the build");
        await t.ApproveAndMergeAsync(broken);
        await t.RunUntilAsync(() => t.AllClosedAsync(broken));

        t.Clock.SetUtcNow(day1.AddDays(2));
        var third = await t.OpenPrAsync(title: "Oil the chain");
        await t.ApproveAndMergeAsync(third);
        await t.RunUntilAsync(() => t.AllClosedAsync(third));

        var live = await t.OpenPrAsync(title: "Merge me while you watch");
        await t.ApproveAndMergeAsync(live);
        await t.SettleAsync();

        using var browser = Browser.Start();

        // Overview: the repository with its queue and the last 24 hours.
        browser.GoTo(t.ServiceUrl);
        var row = browser.Find("tr.repo-row[data-repo='acme/widgets'][data-target='main']");
        row.FindElement(OpenQA.Selenium.By.CssSelector("td.queued")).Text.Should().Be("1");
        int.Parse(row.FindElement(OpenQA.Selenium.By.CssSelector("td.merged")).Text, CultureInfo.InvariantCulture).Should().BeGreaterThanOrEqualTo(1);
        browser.Find("#health dd.db").Text.Should().Be("Healthy");
        browser.Screenshot("overview");

        // Repository: the queue and what finished.
        browser.Find("tr.repo-row a").Click();
        await browser.WaitForAsync(() => browser.Driver.Url.EndsWith("/repos/acme/widgets", StringComparison.Ordinal), "the repository page");
        var queued = browser.FindAll("tr.queue-entry").Select(r => (r.GetAttribute("data-number"), r.FindElement(OpenQA.Selenium.By.CssSelector(".position")).Text)).ToList();
        queued.Should().Equal((live.ToString(CultureInfo.InvariantCulture), "1"));
        var finished = browser.FindAll("tr.finished-entry").ToDictionary(r => int.Parse(r.GetAttribute("data-number")!, CultureInfo.InvariantCulture), r => r.GetAttribute("data-state"));
        finished.Should().BeEquivalentTo(new Dictionary<int, string?> { [first] = "Merged", [second] = "Merged", [broken] = "Failed", [third] = "Merged" });
        browser.Screenshot("repository");

        // Pull request: its timeline, the command that caused the request, and back.
        browser.GoTo(new Uri(t.ServiceUrl, $"repos/acme/widgets/pulls/{first}"));
        var states = browser.FindAll("li.change").Select(li => li.GetAttribute("data-to")).ToList();
        states.Should().ContainInOrder("Requested", "Queued", "Merging", "Merged");
        browser.FindAll("div.attempt").Should().NotBeEmpty("the attempt that merged it is listed");
        browser.Screenshot("pull-request");
        var command = browser.FindAll("li.change a.cause-link").First(a => a.Text.StartsWith("command by bob", StringComparison.Ordinal));
        command.Click();
        await browser.WaitForAsync(() => browser.Driver.Url.Contains("/audit/deliveries/", StringComparison.Ordinal), "the delivery page");
        browser.Find("dd.outcome").Text.Should().NotBeEmpty();
        // A visitor is no admin: the raw payload is not shown (DashboardAccessTests shows it to an admin).
        browser.Find("p.payload-hidden").Text.Should().Contain("admins only");
        browser.Screenshot("delivery");
        browser.FindAll("table.caused a.pr-link").First(a => a.Text == $"#{first}").Click();
        await browser.WaitForAsync(() => browser.Driver.Url.EndsWith($"/pulls/{first}", StringComparison.Ordinal), "the way back to the pull request");

        // Audit log, filtered by actor.
        browser.GoTo(new Uri(t.ServiceUrl, "audit?actor=bob"));
        browser.FindAll("tr.event").Should().NotBeEmpty();
        browser.FindAll("tr.event td:nth-child(9)").Select(td => td.Text).Should().OnlyContain(a => a == "bob");
        browser.Screenshot("audit");

        // Trends: a point for every day of the history, with the merges where they happened.
        var days = Enumerable.Range(0, 3).Select(d => day1.AddDays(d).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList();
        browser.GoTo(new Uri(t.ServiceUrl, $"trends?from={days[0]}&to={day1.AddDays(3):yyyy-MM-dd}&by=day"));
        var merged = browser.FindAll("#chart-merged circle.point").Select(c => (c.GetAttribute("data-bucket"), c.GetAttribute("data-value"))).ToList();
        merged.Should().Equal((days[0], "2"), (days[1], "0"), (days[2], "1"));
        browser.FindAll("#chart-failure-rate circle.point").Single(c => c.GetAttribute("data-bucket") == days[1]).GetAttribute("data-value").Should().Be("100");
        browser.FindAll("#chart-queue-length circle.point").Should().HaveCount(3);
        browser.Screenshot("trends");

        // Live: the open page follows the PR from Queued to Merged without reloading.
        browser.GoTo(new Uri(t.ServiceUrl, $"repos/acme/widgets/pulls/{live}"));
        browser.Find("#pr-state").Text.Should().Be("Queued");
        // Core's explanation (Readiness.Explain) with the queue's facts: its place, and the batch delay it waits for.
        browser.Find("section.why ul").Text.Should().Contain("Queued: position 1 of 1").And.Contain("waiting for the batch delay");
        browser.Screenshot("pull-request-queued");
        browser.Script("window.__sameDocument = 'yes';");
        // Staging CI held, so the attempt is seen testing (its pending check shown) for as long as the page needs.
        await t.Control.ConfigureCiAsync(ServiceTester.HoldStaging);
        t.Clock.Advance(TimeSpan.FromMinutes(1));
        await t.TickAsync();
        await t.WaitForHeldCiAsync();
        await browser.WaitForAsync(() => browser.Find("#pr-state").Text == "Merging", "the PR page to show Merging");
        await browser.WaitForAsync(() => browser.FindAll("div.attempt ul.checks li.check").Any(li => li.Text.StartsWith("ci", StringComparison.Ordinal)),
            "the attempt's staging checks on the PR page");
        browser.Screenshot("pull-request-testing");
        await t.ReleaseHeldCiAsync();
        await t.RunUntilAsync(() => t.AllClosedAsync(live));
        await browser.WaitForAsync(() => browser.Find("#pr-state").Text == "Merged", "the PR page to show Merged", TimeSpan.FromSeconds(30));
        browser.Script("return window.__sameDocument;").Should().Be("yes", "the page changed in place, without a reload");
        browser.Screenshot("pull-request-live");
    }
}
