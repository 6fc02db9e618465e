using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Engine;
using MergeQueue.Simulator.Tests.Support;
using Microsoft.Extensions.Time.Testing;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>
/// GitHub App authentication as GitHub does it: JWTs checked against the App's public key, installations
/// on accounts, installation tokens that reach their installation's repositories only and expire, and the
/// App's webhook naming the installation.
/// </summary>
public class GitHubAppTests
{
    private FakeTimeProvider clock = null!;
    private GitHubSimulator sim = null!;
    private SimulatorClient Control => sim.Control;

    [SetUp]
    public async Task Start()
    {
        clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        sim = await GitHubSimulator.StartAsync(new SimulatorOptions { Time = clock });
        await Control.CreateRepositoryAsync("octo/widgets", new Dictionary<string, string> { ["README.md"] = "w\n" });
        await Control.CreateRepositoryAsync("octo/gadgets", new Dictionary<string, string> { ["README.md"] = "g\n" });
        await Control.CreateRepositoryAsync("acme/tools", new Dictionary<string, string> { ["README.md"] = "t\n" });
    }

    [TearDown]
    public async Task Stop()
    {
        var unexpected = await Control.UnexpectedErrorsAsync();
        await sim.DisposeAsync();
        unexpected.Should().BeEmpty();
    }

    /// <summary>An RS256 JWT, signed by hand so tests can make the wrong ones too.</summary>
    internal static string Jwt(string privateKeyPem, long appId, DateTimeOffset iat, DateTimeOffset exp)
    {
        using var key = RSA.Create();
        key.ImportFromPem(privateKeyPem);
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var header = B64(Encoding.UTF8.GetBytes("""{"alg":"RS256","typ":"JWT"}"""));
        var claims = B64(Encoding.UTF8.GetBytes(new JsonObject { ["iat"] = iat.ToUnixTimeSeconds(), ["exp"] = exp.ToUnixTimeSeconds(), ["iss"] = appId.ToString(System.Globalization.CultureInfo.InvariantCulture) }.ToJsonString()));
        var signature = key.SignData(Encoding.ASCII.GetBytes(header + "." + claims), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return header + "." + claims + "." + B64(signature);
    }

    private string Jwt(AppInfo app) => Jwt(app.PrivateKeyPem!, app.Id, clock.GetUtcNow().AddSeconds(-60), clock.GetUtcNow().AddMinutes(9));

    private GitHubClient Client(string bearer) =>
        new(new ProductHeaderValue("app-tests"), sim.BaseUrl) { Credentials = new Credentials(bearer, AuthenticationType.Bearer) };

    [Test, CancelAfter(30_000)]
    public async Task App_JwtAndInstallationToken_ActAsBotOnInstalledRepositoriesOnly()
    {
        var app = await Control.RegisterAppAsync(new AppRequest("merge-queue"));
        var installation = await Control.InstallAppAsync(app.Id, "octo", ["widgets"]);
        var asApp = Client(Jwt(app));

        var me = await asApp.GitHubApps.GetCurrent();
        var found = await asApp.GitHubApps.GetRepositoryInstallationForCurrent("octo", "widgets");
        var token = await asApp.GitHubApps.CreateInstallationToken(found.Id);
        var asBot = Client(token.Token);
        var status = await asBot.Repository.Status.Create("octo", "widgets", (await Control.BranchesAsync("octo/widgets"))[0].Sha,
            new NewCommitStatus { State = CommitState.Success, Context = "ci" });

        me.Slug.Should().Be("merge-queue");
        app.BotLogin.Should().Be("merge-queue[bot]");
        found.Id.Should().Be(installation.Id);
        found.Account.Login.Should().Be("octo");
        token.Token.Should().StartWith("ghs_");
        token.ExpiresAt.Should().BeCloseTo(clock.GetUtcNow().AddHours(1), TimeSpan.FromSeconds(2));
        status.Creator.Login.Should().Be("merge-queue[bot]");
        // Another repository of the same account, not installed: it does not exist for this token.
        await asBot.Invoking(c => c.Repository.Get("octo", "gadgets")).Should().ThrowAsync<NotFoundException>();
        await asApp.Invoking(c => c.GitHubApps.GetRepositoryInstallationForCurrent("acme", "tools")).Should().ThrowAsync<NotFoundException>();
        // A JWT is for the App's endpoints; an installation token is not.
        await asApp.Invoking(c => c.Repository.Get("octo", "widgets")).Should().ThrowAsync<ForbiddenException>();
        (await asBot.Invoking(c => c.GitHubApps.GetCurrent()).Should().ThrowAsync<AuthorizationException>())
            .Which.Message.Should().Be(GitHubEngine.JwtUndecodable);
    }

    [Test, CancelAfter(30_000)]
    public async Task InstallationToken_AfterItsLifetime_Answers401BadCredentials()
    {
        var app = await Control.RegisterAppAsync(new AppRequest("short-lived", TokenLifetimeSeconds: 20));
        var installation = await Control.InstallAppAsync(app.Id, "octo", ["widgets"]);
        var token = await Client(Jwt(app)).GitHubApps.CreateInstallationToken(installation.Id);
        var asBot = Client(token.Token);
        await asBot.Repository.Get("octo", "widgets");

        clock.Advance(TimeSpan.FromSeconds(20));

        token.ExpiresAt.Should().Be(DateTimeOffset.FromUnixTimeSeconds((clock.GetUtcNow() - TimeSpan.FromSeconds(20)).ToUnixTimeSeconds()).AddSeconds(20));
        (await asBot.Invoking(c => c.Repository.Get("octo", "widgets")).Should().ThrowAsync<AuthorizationException>())
            .Which.Message.Should().Be("Bad credentials");
    }

    [Test, CancelAfter(30_000)]
    public async Task InstallationTokens_Revoked_Answer401()
    {
        var app = await Control.RegisterAppAsync(new AppRequest("revoked"));
        var installation = await Control.InstallAppAsync(app.Id, "octo", ["widgets"]);
        var asBot = Client((await Client(Jwt(app)).GitHubApps.CreateInstallationToken(installation.Id)).Token);

        (await Control.RevokeInstallationTokensAsync(installation.Id)).Should().Be(1);

        await asBot.Invoking(c => c.Repository.Get("octo", "widgets")).Should().ThrowAsync<AuthorizationException>();
    }

    public static IEnumerable<TestCaseData> RefusedJwts()
    {
        yield return new TestCaseData(-700, -60, false, GitHubEngine.JwtExpired).SetName("Jwt_Expired_Answers401WithGitHubsMessage");
        yield return new TestCaseData(60, 540, false, GitHubEngine.JwtIssuedInFuture).SetName("Jwt_IssuedInTheFuture_Answers401WithGitHubsMessage");
        yield return new TestCaseData(-60, 900, false, GitHubEngine.JwtTooFarAhead).SetName("Jwt_ExpiringAfterTenMinutes_Answers401WithGitHubsMessage");
        yield return new TestCaseData(-60, 540, true, GitHubEngine.JwtUndecodable).SetName("Jwt_SignedWithAnotherKey_Answers401WithGitHubsMessage");
    }

    [TestCaseSource(nameof(RefusedJwts)), CancelAfter(30_000)]
    public async Task Jwt_Refused(int iatSeconds, int expSeconds, bool otherKey, string message)
    {
        var app = await Control.RegisterAppAsync(new AppRequest("refusing"));
        using var other = RSA.Create(2048);
        var key = otherKey ? other.ExportRSAPrivateKeyPem() : app.PrivateKeyPem!;
        var now = clock.GetUtcNow();

        var jwt = Jwt(key, app.Id, now.AddSeconds(iatSeconds), now.AddSeconds(expSeconds));

        (await Client(jwt).Invoking(c => c.GitHubApps.GetCurrent()).Should().ThrowAsync<AuthorizationException>())
            .Which.Message.Should().Be(message);
    }

    [Test, CancelAfter(30_000)]
    public async Task App_RegisteredWithPublicKey_AcceptsJwtsOfItsPrivateKey()
    {
        using var key = RSA.Create(2048);
        var app = await Control.RegisterAppAsync(new AppRequest("own-key", Id: 4242, PublicKeyPem: key.ExportSubjectPublicKeyInfoPem()));

        var me = await Client(Jwt(key.ExportRSAPrivateKeyPem(), 4242, clock.GetUtcNow().AddSeconds(-60), clock.GetUtcNow().AddMinutes(9))).GitHubApps.GetCurrent();

        app.PrivateKeyPem.Should().BeNull();
        me.Id.Should().Be(4242);
    }

    [Test, CancelAfter(60_000)]
    public async Task AppWebhook_InstallationsAndRepositoryEvents_NameTheInstallation()
    {
        await using var receiver = new WebhookReceiver("app-secret");
        var app = await Control.RegisterAppAsync(new AppRequest("hooked", WebhookUrl: receiver.Url, WebhookSecret: "app-secret"));
        var octo = await Control.InstallAppAsync(app.Id, "octo", ["widgets"]);
        var acme = await Control.InstallAppAsync(app.Id, "acme", ["tools"]);

        await Control.AddInstallationRepositoriesAsync(octo.Id, ["gadgets"]);
        await Control.CommitAsync("octo/gadgets", "feature", new Dictionary<string, string?> { ["a"] = "1" }, "A", "octo");
        await Control.CommitAsync("acme/tools", "feature", new Dictionary<string, string?> { ["b"] = "1" }, "B", "acme");
        await Control.RemoveInstallationRepositoryAsync(octo.Id, "octo/gadgets");
        await Control.CommitAsync("octo/gadgets", "feature", new Dictionary<string, string?> { ["a"] = "2" }, "A2", "octo");
        await Control.UninstallAppAsync(acme.Id);
        await Control.WaitForIdleAsync(TimeSpan.FromSeconds(20));
        string[] told = ["installation", "installation_repositories", "push"];
        await SimulatorClient.WaitUntilAsync(_ => Task.FromResult(receiver.Received.Count(w => told.Contains(w.Event)) >= 7), TimeSpan.FromSeconds(20));

        var received = receiver.Received.Where(w => told.Contains(w.Event)).ToList();
        received.Should().OnlyContain(w => w.SignatureValid);
        received.Select(w => $"{w.Event}.{w.Action} {w.Payload["installation"]!["id"]} {w.Payload["repository"]?["full_name"]}").Should().Equal(
            $"installation.created {octo.Id} ",
            $"installation.created {acme.Id} ",
            $"installation_repositories.added {octo.Id} ",
            $"push. {octo.Id} octo/gadgets",
            $"push. {acme.Id} acme/tools",
            $"installation_repositories.removed {octo.Id} ",
            $"installation.deleted {acme.Id} ");
        received[2].Payload["repositories_added"]!.AsArray().Select(r => r!["full_name"]!.ToString()).Should().Equal("octo/gadgets");
        received[5].Payload["repositories_removed"]!.AsArray().Select(r => r!["full_name"]!.ToString()).Should().Equal("octo/gadgets");
    }

    [Test]
    public async Task Install_RepositoryOfAnotherAccount_Refused()
    {
        var app = await Control.RegisterAppAsync(new AppRequest("picky"));

        (await Control.Invoking(c => c.InstallAppAsync(app.Id, "octo", ["acme/tools"])).Should().ThrowAsync<SimulatorClientException>())
            .Which.Status.Should().Be(System.Net.HttpStatusCode.UnprocessableEntity);
    }

    // Golden: the installation payloads have every field of GitHub's, with the same JSON types.

    private static readonly HashSet<string> Exempt =
    [
        // null unless an organization member asked an owner to approve the change
        "$.requester",
        // null unless the App asks for access to single files
        "$.single_file_name",
        // permissions are what each App asks for; the fixtures' Apps asked for more than a merge queue needs
        "$.permissions.administration", "$.permissions.deployments", "$.permissions.pages",
        "$.permissions.repository_hooks", "$.permissions.repository_projects", "$.permissions.vulnerability_alerts",
    ];

    public static IEnumerable<TestCaseData> InstallationPayloads()
    {
        yield return new TestCaseData("installation", "created").SetName("WebhookPayload_installation.created_HasEveryFixtureFieldWithSameType");
        yield return new TestCaseData("installation", "deleted").SetName("WebhookPayload_installation.deleted_HasEveryFixtureFieldWithSameType");
        yield return new TestCaseData("installation_repositories", "added").SetName("WebhookPayload_installation_repositories.added_HasEveryFixtureFieldWithSameType");
        yield return new TestCaseData("installation_repositories", "removed").SetName("WebhookPayload_installation_repositories.removed_HasEveryFixtureFieldWithSameType");
    }

    [TestCaseSource(nameof(InstallationPayloads))]
    public void InstallationPayload_ComparedWithFixture(string @event, string action)
    {
        var s = new GitHubJsonSamples();
        using var key = RSA.Create(2048);
        var app = new SimApp { Id = 29310, Slug = "merge-queue", Owner = s.Owner, Bot = s.Bot, PublicKey = key };
        var installation = new SimInstallation { Id = 957387, App = app, Account = s.Owner };
        installation.Repositories.Add(s.Repo.FullName);

        var payload = @event == "installation"
            ? s.Json.InstallationEvent(action, installation, [s.Repo], s.Owner)
            : s.Json.InstallationRepositoriesEvent(action, installation, action == "added" ? [s.Repo] : [], action == "removed" ? [s.Repo] : [], s.Owner);

        var fixtures = WebhookFixtures.Load(@event, action);
        var sent = JsonNode.Parse(payload.ToJsonString())!;
        // "installation" is optional at the top of other events; here it is the subject, so compare it too.
        var problems = WebhookFixtures.ShapeDifferences(fixtures.Select(f => (JsonNode?)f.Payload), sent, Exempt)
            .Concat(WebhookFixtures.ShapeDifferences(fixtures.Select(f => f.Payload["installation"]), sent["installation"], Exempt))
            .ToList();
        problems.Should().BeEmpty();
    }
}
