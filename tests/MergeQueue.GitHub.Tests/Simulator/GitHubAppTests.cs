using System.Security.Cryptography;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.GitHub.Tests.Simulator;

/// <summary>The adapter as a GitHub App against the simulator; one fake clock for GitHub and for the adapter's token renewal.</summary>
[CancelAfter(60_000)]
public sealed class GitHubAppTests
{
    private static readonly CancellationToken None = CancellationToken.None;
    private FakeTimeProvider clock = null!;
    private GitHubSimulator sim = null!;
    private string keyPath = null!;
    private AppInfo app = null!;
    private InstallationInfo acme = null!;
    private InstallationInfo octo = null!;
    private readonly RepoId widgets = new("acme", "widgets");
    private readonly RepoId gadgets = new("octo", "gadgets");

    private SimulatorClient Control => sim.Control;

    [SetUp]
    public async Task Start()
    {
        clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        sim = await GitHubSimulator.StartAsync(new SimulatorOptions { Time = clock });
        await Control.CreateRepositoryAsync("acme/widgets");
        await Control.CreateRepositoryAsync("octo/gadgets");
        await Control.CreateRepositoryAsync("octo/private-stuff");
        app = await Control.RegisterAppAsync(new AppRequest("merge-queue", TokenLifetimeSeconds: 20));
        acme = await Control.InstallAppAsync(app.Id, "acme", ["widgets"]);
        octo = await Control.InstallAppAsync(app.Id, "octo", ["gadgets"]);
        keyPath = Path.GetTempFileName();
        await File.WriteAllTextAsync(keyPath, app.PrivateKeyPem);
    }

    [TearDown]
    public async Task Stop()
    {
        await sim.DisposeAsync();
        File.Delete(keyPath);
    }

    private OctokitGitHub Adapter(long? appId = null) =>
        new(new GitHubApp(sim.BaseUrl, (appId ?? app.Id).ToString(System.Globalization.CultureInfo.InvariantCulture), keyPath, clock, NullLogger.Instance),
            TimeProvider.System, NullLogger.Instance);

    private async Task<IReadOnlyList<ApiCall>> CallsAsync(string pathPart) =>
        (await Control.ApiCallsAsync()).Where(c => c.Path.Contains(pathPart, StringComparison.Ordinal)).ToList();

    private async Task<StatusSnapshot> SetStatusAsync(OctokitGitHub github, RepoId repo)
    {
        var sha = (await github.GetBranchAsync(repo, "main", None))!.Value;
        await github.SetStatusAsync(repo, sha, "ci", StatusState.Success, "green", null, None);
        return (await Control.ChecksAsync(repo.ToString(), sha.Value)).Statuses.Single();
    }

    [Test]
    public async Task App_TwoInstallations_EachRepositoryUsesItsInstallationsTokenAndActsAsTheBot()
    {
        var github = Adapter();

        var a = await SetStatusAsync(github, widgets);
        var b = await SetStatusAsync(github, gadgets);
        await SetStatusAsync(github, widgets);

        a.Creator.Should().Be("merge-queue[bot]");
        b.Creator.Should().Be("merge-queue[bot]");
        (await github.GetOwnLoginAsync(None)).Should().Be("merge-queue[bot]");
        (await CallsAsync("/access_tokens")).Select(c => c.Path).Should().BeEquivalentTo(
            $"/app/installations/{acme.Id}/access_tokens", $"/app/installations/{octo.Id}/access_tokens");
        (await CallsAsync("/installation")).Where(c => c.Path.EndsWith("/installation", StringComparison.Ordinal)).Should().HaveCount(2, "each repository's installation is looked up once");
        (await Control.ApiCallsAsync()).Should().NotContain(c => c.Status == 401);
    }

    [Test]
    public async Task App_TokenNearItsExpiry_RenewedBeforeGitHubRefusesIt()
    {
        var github = Adapter();
        await github.GetDefaultBranchAsync(widgets, None);

        clock.Advance(TimeSpan.FromSeconds(16));
        await github.GetDefaultBranchAsync(widgets, None);
        clock.Advance(TimeSpan.FromSeconds(16));
        await github.GetDefaultBranchAsync(widgets, None);

        (await CallsAsync("/access_tokens")).Should().HaveCount(3, "a 20 s token is renewed once a quarter of its life is left");
        (await Control.ApiCallsAsync()).Should().NotContain(c => c.Status == 401);
    }

    [Test]
    public async Task App_TokenRevoked_The401RenewsOnceAndTheCallSucceeds()
    {
        var github = Adapter();
        await github.GetDefaultBranchAsync(widgets, None);
        await Control.RevokeInstallationTokensAsync(acme.Id);

        var branch = await github.GetDefaultBranchAsync(widgets, None);

        branch.Should().Be("main");
        // The installation is looked up again: the repository may have moved to another one.
        (await CallsAsync("/repos/acme/widgets")).Select(c => $"{c.Path} {c.Status}").Should().Equal(
            "/repos/acme/widgets/installation 200", "/repos/acme/widgets 200",
            "/repos/acme/widgets 401", "/repos/acme/widgets/installation 200", "/repos/acme/widgets 200");
        (await CallsAsync("/access_tokens")).Should().HaveCount(2);
    }

    [Test]
    public async Task App_RepositoryNotInstalled_NotFoundNamingTheApp()
    {
        var github = Adapter();

        var e = await github.Invoking(g => g.GetDefaultBranchAsync(new RepoId("octo", "private-stuff"), None)).Should().ThrowAsync<Octokit.NotFoundException>();

        e.Which.Message.Should().Be($"GitHub App {app.Id} is not installed on octo/private-stuff");
    }

    [Test]
    public async Task App_KeyOfAnotherApp_ErrorNamesTheAppAndTheKeyFile()
    {
        using var other = RSA.Create(2048);
        await File.WriteAllTextAsync(keyPath, other.ExportRSAPrivateKeyPem());
        var github = Adapter();

        var e = await github.Invoking(g => g.GetOwnLoginAsync(None)).Should().ThrowAsync<InvalidOperationException>();

        e.Which.Message.Should().Contain($"GitHub App {app.Id}").And.Contain(keyPath).And.Contain("A JSON web token could not be decoded");
    }

    [Test]
    public void App_KeyFileNotAKey_ErrorNamesTheAppAndTheKeyFile()
    {
        File.WriteAllText(keyPath, "not a key");

        var act = () => Adapter();

        act.Should().Throw<InvalidOperationException>().Which.Message.Should().Contain($"GitHub App {app.Id}").And.Contain(keyPath);
    }
}
