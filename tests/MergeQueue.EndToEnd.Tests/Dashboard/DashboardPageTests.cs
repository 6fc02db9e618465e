using System.Net;
using System.Text.RegularExpressions;
using MergeQueue.Service.Dashboard;

namespace MergeQueue.EndToEnd.Tests.Dashboard;

/// <summary>Each dashboard page rendered by the real service over a seeded database, on each provider.</summary>
[TestFixture("sqlite"), TestFixture("postgres"), CancelAfter(60_000)]
public sealed partial class DashboardPageTests(string provider)
{
    private DashboardSeed _seed = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _seed = await DashboardSeed.StartAsync(provider: provider);

    [OneTimeTearDown]
    public async Task StopAsync() => await _seed.DisposeAsync();

    private async Task<string> GetAsync(string path)
    {
        using var response = await _seed.Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.OK, body);
        return body;
    }

    [Test]
    public async Task Overview_SeededHistory_ShowsQueueLengthRunningAndLast24Hours()
    {
        var html = await GetAsync("/");
        var row = Row(html, "repo-row", "data-repo=\"acme/rockets\"");
        Cell(row, "queued").Should().Be("3");
        // "Now" is day 3, 10:42: #3 merged at 09:31 that day; #2 failed on day 2 at 09:31, more than 24 hours ago.
        Cell(row, "merged").Should().Be("1");
        Cell(row, "failed").Should().Be("0");
        row.Should().Contain("frozen by dora");
        html.Should().Contain("<dd class=\"db\">Healthy</dd>");
    }

    [Test]
    public async Task Repository_Queue_IsInBatchingOrder_WithWaitingRequestLast()
    {
        var html = await GetAsync("/repos/acme/rockets");
        var order = QueueEntry().Matches(html).Select(m => (Number: int.Parse(m.Groups[1].Value), State: m.Groups[2].Value)).ToList();
        order.Should().Equal((11, "Queued"), (12, "Queued"), (10, "Queued"), (13, "Requested"));
        html.Should().Contain("waiting for 1 more approving review");
        html.Should().Contain("frozen by dora since 2026-01-12 10:37:00Z: release in progress");
        var finished = FinishedEntry().Matches(html).Select(m => (int.Parse(m.Groups[1].Value), m.Groups[2].Value)).ToList();
        finished.Should().Equal((3, "Merged"), (2, "Failed"), (1, "Merged"));
    }

    [Test]
    public async Task PullRequest_Timeline_ShowsEveryChangeWithCauseAndEffects()
    {
        var html = await GetAsync("/repos/acme/rockets/pulls/1");
        var changes = Regex.Matches(html, "<li class=\"change\" data-event=\"\\d+\" data-to=\"(\\w+)\"").Select(m => m.Groups[1].Value).ToList();
        changes.Should().Equal("Requested", "Queued", "Merging", "Merged");
        html.Should().Contain("href=\"/audit/deliveries/d-1-merge\"").And.Contain("command by bob");
        html.Should().Contain("href=\"/audit?causeKind=poll&amp;causeId=tick-1\"");
        html.Should().Contain("set-status mergequeue pending on bbbbbbb: queued (position 1)");
        html.Should().Contain("data-attempt=\"1\"");
        html.Should().Contain("It merged as 5555555");
    }

    [Test]
    public async Task PullRequest_Queued_SaysItsPositionAndWhy()
    {
        var html = await GetAsync("/repos/acme/rockets/pulls/12");
        html.Should().Contain("It is queued at position 2 for main: the target is frozen: no new attempt starts");
    }

    [Test]
    public async Task Delivery_ShowsOutcomeAndEverythingItCaused_ButThePayloadOnlyToAdmins()
    {
        var html = await GetAsync("/audit/deliveries/d-2-status");
        html.Should().Contain("handled");
        html.Should().Contain("Raw payloads are shown to admins only").And.NotContain("&quot;state&quot;: &quot;failure&quot;");
        html.Should().Contain("PR Merging → Failed").And.Contain("attempt Testing → Red").And.Contain("attempt Red → Failed");
        html.Should().Contain("set-status mergequeue failure on");
        html.Should().Contain("href=\"/repos/acme/rockets/pulls/2\"");
    }

    [Test]
    public async Task Audit_FiltersByActorTypeAndTime()
    {
        var byActor = await GetAsync("/audit?actor=bob&type=transition");
        var rows = Regex.Matches(byActor, "<tr class=\"event kind-(\\w+)\"").Select(m => m.Groups[1].Value).ToList();
        rows.Should().HaveCount(7).And.OnlyContain(k => k == "transition", "bob's merge commands requested #1, #2, #3, #10-#13");

        var merges = await GetAsync("/audit?type=transition:Merged&repo=acme/rockets");
        Regex.Matches(merges, "<tr class=\"event kind-transition\"").Should().HaveCount(4, "PR #1, #3 and their attempts");

        var day2 = await GetAsync("/audit?from=2026-01-11&to=2026-01-12&type=transition");
        Regex.Matches(day2, "href=\"/repos/acme/rockets/pulls/(\\d+)\"").Select(m => m.Groups[1].Value).Distinct().Should().Equal("2");
    }

    [Test]
    public async Task Trends_ByDay_HasAPointForEverySeededDay()
    {
        var html = await GetAsync("/trends?from=2026-01-10&to=2026-01-13&by=day");
        var merged = Chart(html, "merged");
        Points(merged).Should().Equal(("2026-01-10", "1"), ("2026-01-11", "0"), ("2026-01-12", "1"));
        Points(Chart(html, "failure-rate")).Should().Equal(("2026-01-10", "0"), ("2026-01-11", "100"), ("2026-01-12", "0"));
        Points(Chart(html, "ttm-median")).Should().Equal(("2026-01-10", "31"), ("2026-01-12", "31"));
        Points(Chart(html, "queue-length")).Select(p => p.Value).Should().Equal("1", "1", "3");
    }

    [Test]
    public async Task Trends_ByHour_BucketsByHour()
    {
        var html = await GetAsync("/trends?from=2026-01-12T09:00&to=2026-01-12T12:00&by=hour");
        Points(Chart(html, "merged")).Should().Equal(("01-12 09:00", "1"), ("01-12 10:00", "0"), ("01-12 11:00", "0"));
    }

    [TestCase("/trends?to=0001-01-05")]
    [TestCase("/trends?from=9999-12-31&by=hour")]
    [TestCase("/trends?from=yesterday")]
    [TestCase("/audit?to=0001-01-01")]
    public async Task TimeOutOfRangeOrNoTime_Is400(string path)
    {
        using var response = await _seed.Http.GetAsync(path);
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Assets_HtmxAndCss_AreServedByTheApp()
    {
        (await GetAsync("/static/htmx.min.js")).Should().Contain("htmx");
        (await GetAsync("/static/dashboard.css")).Should().Contain("MergeQueue dashboard");
    }

    [Test]
    public async Task HtmxRequest_GetsTheFragmentWithoutLayout()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/repos/acme/rockets");
        request.Headers.Add("HX-Request", "true");
        using var response = await _seed.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        body.Should().Contain("id=\"live\"").And.NotContain("<html");
    }

    [Test]
    public async Task UnknownRepositoryAndDelivery_Are404()
    {
        (await _seed.Http.GetAsync("/repos/nobody/nothing")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await _seed.Http.GetAsync("/audit/deliveries/nope")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Test]
    public async Task NotPublic_PagesNeedSignIn()
    {
        await using var closed = await DashboardSeed.StartAsync(dashboardPublic: false);
        (await closed.Http.GetAsync("/")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await closed.Http.GetAsync("/repos/acme/rockets/pulls/1")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await closed.Http.GetAsync("/healthz")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    private static string Row(string html, string cls, string marker)
    {
        var start = html.IndexOf($"<tr class=\"{cls}\" {marker}", StringComparison.Ordinal);
        start.Should().BeGreaterThanOrEqualTo(0, $"a {cls} row with {marker}");
        return html[start..html.IndexOf("</tr>", start, StringComparison.Ordinal)];
    }

    private static string Cell(string row, string cls) => Regex.Match(row, $"<td class=\"num {cls}\">(\\d+)</td>").Groups[1].Value;

    private static string Chart(string html, string id)
    {
        var start = html.IndexOf($"id=\"chart-{id}\"", StringComparison.Ordinal);
        start.Should().BeGreaterThanOrEqualTo(0, $"chart {id}");
        return html[start..html.IndexOf("</svg>", start, StringComparison.Ordinal)];
    }

    private static List<(string Bucket, string Value)> Points(string svg) =>
        Regex.Matches(svg, "data-bucket=\"([^\"]+)\" data-value=\"([^\"]+)\"").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();

    [GeneratedRegex("<tr class=\"queue-entry\" data-number=\"(\\d+)\" data-state=\"(\\w+)\"")]
    private static partial Regex QueueEntry();

    [GeneratedRegex("<tr class=\"finished-entry\" data-number=\"(\\d+)\" data-state=\"(\\w+)\"")]
    private static partial Regex FinishedEntry();
}
