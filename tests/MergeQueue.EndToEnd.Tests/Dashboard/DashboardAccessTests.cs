using System.Net;
using MergeQueue.Data;
using MergeQueue.EndToEnd.Tests.SignIn;
using Microsoft.Extensions.DependencyInjection;
using Visitor = MergeQueue.EndToEnd.Tests.SignIn.GitHubSignInTests.Visitor;

namespace MergeQueue.EndToEnd.Tests.Dashboard;

/// <summary>
/// Issue 13: pages never call GitHub; with <c>Dashboard:Public=false</c> only readers of a repository
/// see it; payloads only for admins; the dashboard's Retry and Priority enforced on the server.
/// </summary>
[CancelAfter(120_000)]
public class DashboardAccessTests
{
    private const string Repo = ServiceTester.Repo;

    /// <summary>CI reports ci but never e2e: a batch stays Testing, with checks to show.</summary>
    private const string StuckConfig = """
        target_branches: [main]
        required_approvals: 1
        required_checks: [ci, e2e]
        batch_delay: 1m
        """;

    [Test]
    public async Task PageViews_OfEveryKind_MakeNoGitHubCall()
    {
        await using var t = await ServiceTester.StartAsync(StuckConfig);
        var testing = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(testing);
        await t.StartBatchAsync();
        var waiting = await t.OpenPrAsync();
        await t.MergeAsync(waiting);
        await t.SettleAsync();
        var delivery = (await t.Service.Services.GetRequiredService<DashboardQueries>().RecentDeliveriesAsync(null, 1)).Single().DeliveryId;
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        string[] pages =
        [
            "/", $"/repos/{Repo}", $"/repos/{Repo}/pulls/{testing}", $"/repos/{Repo}/pulls/{waiting}",
            "/audit", $"/audit?repo={Repo}", "/trends", "/trends?by=hour", $"/audit/deliveries/{delivery}",
        ];
        // The pages show what the queue read from GitHub while it worked.
        (await http.GetStringAsync($"/repos/{Repo}/pulls/{testing}")).Should().Contain("As the queue last read them at").And.Contain("check-success");
        (await http.GetStringAsync($"/repos/{Repo}/pulls/{waiting}")).Should().Contain("waiting for 1 more approving review");

        await t.Control.ClearApiCallsAsync();
        foreach (var page in pages)
        {
            for (var i = 0; i < 50; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, page);
                // Half of them as htmx's live refresh does.
                if (i % 2 == 1) request.Headers.Add("HX-Request", "true");
                using var response = await http.SendAsync(request);
                response.StatusCode.Should().Be(HttpStatusCode.OK, page);
            }
        }

        (await t.Control.ApiCallsAsync()).Select(c => $"{c.Method} {c.Path}").Should().BeEmpty("no page view calls GitHub");
    }

    /// <summary>A private repository: on a public one GitHub gives everyone read access.</summary>
    private const string Private = "acme/secret";

    /// <summary>The service with Public=false and a private repository with one merged-on-request PR; eve is a GitHub user without access.</summary>
    private static async Task<(ServiceTester Tester, int Pr)> StartClosedAsync()
    {
        var t = await GitHubSignInTests.StartAsync(dashboardPublic: false);
        await t.Control.CreateUserAsync("eve");
        await t.Control.CreateRepositoryAsync(Private, new Dictionary<string, string> { [".github/mergequeue.yml"] = t.Config.Yaml }, isPrivate: true);
        foreach (var (user, permission) in new[] { (ServiceTester.Bot, "write"), ("alice", "write"), ("bob", "write"), ("mallory", "read") })
            await t.Control.SetPermissionAsync(Private, user, permission);
        var pr = await t.Control.OpenPullRequestWithFilesAsync(Private, "feature/secret", new Dictionary<string, string?> { ["secret.txt"] = "s\n" }, "Secret", "alice");
        await t.Control.ReviewAsync(Private, pr.Number, "bob");
        await t.Control.CommentAsync(Private, pr.Number, "bob", "@mergequeue merge");
        await t.SettleAsync();
        return (t, pr.Number);
    }

    [Test]
    public async Task Retention_ThePurgeJob_RemovesAMergedPrsOldHistory_KeepsAWaitingOnes()
    {
        await using var t = await ServiceTester.StartAsync(settings: new Dictionary<string, string?> { ["MergeQueue:Retention:MaxAge"] = "2.00:00:00" });
        var merged = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(merged);
        await t.RunUntilAsync(() => t.AllClosedAsync(merged));
        var waiting = await t.OpenPrAsync();
        await t.MergeAsync(waiting);
        await t.SettleAsync();
        var events = t.Service.Services.GetRequiredService<EventLogReader>();
        var repo = Core.RepoId.Parse(Repo);
        (await events.ForPullRequestAsync(repo, merged)).Should().NotBeEmpty();

        t.Clock.Advance(TimeSpan.FromDays(3));
        var job = ActivatorUtilities.CreateInstance<Service.Jobs.RetentionJob>(t.Service.Services);
        await job.Execute(null!, CancellationToken.None);

        (await events.ForPullRequestAsync(repo, merged)).Should().BeEmpty("its history is older than MaxAge");
        (await events.ForPullRequestAsync(repo, waiting)).Should().NotBeEmpty("it is still requested");
        var deliveries = await t.Service.Services.GetRequiredService<DashboardQueries>().RecentDeliveriesAsync(null, 1000);
        deliveries.Should().NotBeEmpty("the deliveries behind the waiting request stay").And.OnlyContain(d => d.ProcessedAt != null);
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        (await http.GetAsync($"repos/{Repo}/pulls/{waiting}")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    private static async Task<Visitor> SignInAsync(ServiceTester t, string login)
    {
        await t.Control.SignInBrowserAsync(login);
        var visitor = new Visitor(t.ServiceUrl);
        (await visitor.CallbackAsync(await visitor.StartSignInAsync())).Status.Should().Be(HttpStatusCode.Redirect);
        visitor.HasSession.Should().BeTrue();
        return visitor;
    }

    private static async Task<HttpStatusCode> StatusAsync(Visitor visitor, string path)
    {
        using var response = await visitor.Http.GetAsync(path);
        return response.StatusCode;
    }

    [Test]
    public async Task NotPublic_AnonymousAndNonCollaborators_AreRefused_ReadersSeeTheirRepository()
    {
        var (t, n) = await StartClosedAsync();
        await using var _ = t;
        var delivery = (await t.Service.Services.GetRequiredService<DashboardQueries>().RecentDeliveriesAsync(Core.RepoId.Parse(Private), 1)).Single().DeliveryId;
        string[] repoPages = [$"repos/{Private}", $"repos/{Private}/pulls/{n}", $"audit?repo={Private}", $"trends?repo={Private}", $"audit/deliveries/{delivery}"];

        using (var anonymous = new Visitor(t.ServiceUrl))
            foreach (var page in repoPages.Append("").Append("audit"))
                (await StatusAsync(anonymous, page)).Should().Be(HttpStatusCode.Redirect, $"{page} sends a visitor to sign in");

        // eve exists on GitHub but has no access to the private repository.
        using (var eve = await SignInAsync(t, "eve"))
        {
            foreach (var page in repoPages.Append("audit").Append("trends"))
                (await StatusAsync(eve, page)).Should().Be(HttpStatusCode.Forbidden, page);
            (await eve.Http.GetStringAsync("")).Should().NotContain($"data-repo=\"{Private}\"");
        }

        // mallory may read it: its pages, but not every repository at once, and no payloads.
        using var mallory = await SignInAsync(t, "mallory");
        foreach (var page in repoPages)
            (await StatusAsync(mallory, page)).Should().Be(HttpStatusCode.OK, page);
        (await mallory.Http.GetStringAsync("")).Should().Contain($"data-repo=\"{Private}\"");
        (await StatusAsync(mallory, "audit")).Should().Be(HttpStatusCode.Forbidden, "the audit log of every repository is for admins");
        (await mallory.Http.GetStringAsync($"audit/deliveries/{delivery}")).Should().Contain("Raw payloads are shown to admins only").And.NotContain("class=\"payload\"");

        await t.Service.Services.GetRequiredService<ApiKeyStore>().CreateUserAsync("alice", ApiRoles.Admin, []);
        using var alice = await SignInAsync(t, "alice");
        (await StatusAsync(alice, "audit")).Should().Be(HttpStatusCode.OK);
        (await alice.Http.GetStringAsync($"audit/deliveries/{delivery}")).Should().Contain("<pre class=\"payload\">").And.Contain("&quot;repository&quot;");
    }

    [Test]
    public async Task RetryAndPriority_FromThePullRequestPage_ForAWriter_AndRefusedOnTheServerForReadOnly()
    {
        await using var t = await GitHubSignInTests.StartAsync();
        var failed = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "red\n" });
        await t.ApproveAndMergeAsync(failed);
        await t.RunUntilAsync(() => t.AllClosedAsync(failed));
        var queued = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(queued);
        await t.SettleAsync();
        var queries = t.Service.Services.GetRequiredService<DashboardQueries>();
        async Task<PullRequestRecord> LatestAsync(int number) => (await queries.PullRequestHistoryAsync(new Core.RepoId("acme", "widgets"), number)).Last();
        (await LatestAsync(failed)).State.Should().Be("Failed");
        (await LatestAsync(queued)).State.Should().Be("Queued");

        // alice is read-only: the page hides the buttons, and a hand-made post is refused all the same.
        using var alice = await SignInAsync(t, "alice");
        var failedPage = $"repos/{Repo}/pulls/{failed}";
        var queuedPage = $"repos/{Repo}/pulls/{queued}";
        async Task<string> PressAsync(string page, string handler, Dictionary<string, string> fields)
        {
            using (var post = await GitHubSignInTests.PostFormAsync(alice, $"{page}?handler={handler}", fields))
                post.StatusCode.Should().Be(HttpStatusCode.Redirect);
            return await alice.Http.GetStringAsync(page);
        }
        (await alice.Http.GetStringAsync(failedPage)).Should().NotContain("action-retry");
        (await PressAsync(failedPage, "Retry", [])).Should().Contain("Refused: alice has the read-only role");
        (await PressAsync(queuedPage, "Priority", new() { ["priority"] = "7" })).Should().Contain("Refused: alice has the read-only role");
        (await LatestAsync(failed)).State.Should().Be("Failed");
        (await LatestAsync(queued)).Priority.Should().Be(0);

        // Given the user role on the repository she may write: both act.
        await t.Service.Services.GetRequiredService<ApiKeyStore>().CreateUserAsync("alice", ApiRoles.User, [Repo]);
        (await PressAsync(failedPage, "Retry", [])).Should().Contain("Done:");
        (await PressAsync(queuedPage, "Priority", new() { ["priority"] = "7" })).Should().Contain("Done:");
        (await LatestAsync(failed)).State.Should().BeOneOf("Requested", "Queued");
        (await LatestAsync(queued)).Priority.Should().Be(7);
    }
}
