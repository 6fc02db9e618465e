using System.Security.Cryptography;
using MergeQueue.Core;
using MergeQueue.Service;
using MergeQueue.Service.Repositories;
using MergeQueue.Simulator.Control;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>The service authenticated as a GitHub App only (no token): installations, token renewal, a wrong key.</summary>
[CancelAfter(180_000)]
public class GitHubAppEndToEndTests
{
    private const string Gadgets = "octo/gadgets";

    private static async Task<int> OpenApprovedAndRequestedAsync(ServiceTester t, string repo, string branch)
    {
        var pr = await t.Control.OpenPullRequestWithFilesAsync(repo, branch, new Dictionary<string, string?> { [branch.Replace('/', '-') + ".txt"] = "x\n" }, "Change " + branch, "alice");
        await t.Control.ReviewAsync(repo, pr.Number, "bob");
        await t.Control.CommentAsync(repo, pr.Number, "bob", "@mergequeue merge");
        return pr.Number;
    }

    private static async Task<bool> MergedAsync(ServiceTester t, string repo, int number) => (await t.Control.GetPullRequestAsync(repo, number)).Merged;

    [Test]
    public async Task App_TwoInstallationsOnTwoAccounts_MergesInBothAndFollowsInstallationChanges()
    {
        await using var t = await ServiceTester.StartAsync(startService: false);
        await t.Control.CreateRepositoryAsync(Gadgets, new Dictionary<string, string> { [".github/mergequeue.yml"] = t.Config.Yaml });
        foreach (var user in new[] { "alice", "bob" }) await t.Control.SetPermissionAsync(Gadgets, user, "write");
        var app = await t.StartServiceAsAppAsync();
        var octo = await t.Control.InstallAppAsync(app.Id, "octo", ["gadgets"]);
        t.Repos.Add(Gadgets);

        var a = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a);
        var b = await OpenApprovedAndRequestedAsync(t, Gadgets, "feature/g1");
        await t.RunUntilAsync(async () => await MergedAsync(t, ServiceTester.Repo, a) && await MergedAsync(t, Gadgets, b));

        (await t.Control.BranchMovesAsync(ServiceTester.Repo, "main")).Should().Contain(m => m.Actor == "mergequeue[bot]");
        (await t.Control.BranchMovesAsync(Gadgets, "main")).Should().Contain(m => m.Actor == "mergequeue[bot]");
        (await t.QueueStatusAsync(a))!.Creator.Should().Be("mergequeue[bot]");
        (await t.Control.ApiCallsAsync()).Should().NotContain(c => c.Status == 401);

        // Removed from the installation: no longer managed; added again: managed again.
        var configs = t.Service.Services.GetRequiredService<RepoConfigCache>();
        await t.Control.RemoveInstallationRepositoryAsync(octo.Id, Gadgets);
        await t.SettleDeliveriesAsync();
        configs.Known[RepoId.Parse(Gadgets)].Should().BeNull();
        await t.Control.AddInstallationRepositoriesAsync(octo.Id, [Gadgets]);
        await t.SettleDeliveriesAsync();
        configs.Known[RepoId.Parse(Gadgets)].Should().NotBeNull();

        await t.AssertTargetOnlyMovedToGreenAsync();
        await t.AssertTargetOnlyMovedToGreenAsync("main", Gadgets);
    }

    [Test]
    public async Task App_AndATokenBothSet_ActsAsTheApp()
    {
        // CONTRACT §1: with both, the App is used; the token's account does nothing.
        await using var t = await ServiceTester.StartAsync(startService: false);
        await t.StartServiceAsAppAsync(settings: new Dictionary<string, string?> { ["MergeQueue:GitHub:Token"] = t.BotToken });

        var a = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(a);
        await t.RunUntilAsync(async () => await MergedAsync(t, ServiceTester.Repo, a));

        (await t.QueueStatusAsync(a))!.Creator.Should().Be("mergequeue[bot]");
        (await t.Control.BranchMovesAsync(ServiceTester.Repo, "main")).Should().Contain(m => m.Actor == "mergequeue[bot]")
            .And.NotContain(m => m.Actor == ServiceTester.Bot);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task App_InstallationTokensExpiringEvery20s_RenewedWithoutAFailedCall()
    {
        await using var t = await ServiceTester.StartAsync(startService: false);
        await t.StartServiceAsAppAsync(tokenLifetimeSeconds: 20);
        var started = DateTimeOffset.UtcNow;
        var merged = new List<int>();

        // One PR after another until well past the first token's expiry.
        while (DateTimeOffset.UtcNow - started < TimeSpan.FromSeconds(30))
        {
            var n = await t.OpenPrAsync();
            await t.ApproveAndMergeAsync(n);
            await t.RunUntilAsync(() => t.AllClosedAsync(n));
            (await t.PrAsync(n)).Merged.Should().BeTrue();
            merged.Add(n);
        }

        var calls = await t.Control.ApiCallsAsync();
        calls.Count(c => c.Path.EndsWith("/access_tokens", StringComparison.Ordinal)).Should().BeGreaterThanOrEqualTo(2, "a token lives 20 s and the run took 30 s");
        calls.Should().NotContain(c => c.Status == 401, "tokens are renewed before they expire");
        merged.Should().HaveCountGreaterThanOrEqualTo(2);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task App_KeyNotOfTheApp_ServiceExitsWithAnErrorInTheLogNamingTheAppAndTheKeyFile()
    {
        await using var t = await ServiceTester.StartAsync(startService: false);
        var app = await t.Control.RegisterAppAsync(new AppRequest("mergequeue"));
        var keyPath = Path.Combine(Path.GetTempPath(), $"mq-wrong-{Guid.NewGuid():N}.pem");
        using (var other = RSA.Create(2048)) await File.WriteAllTextAsync(keyPath, other.ExportRSAPrivateKeyPem());
        try
        {
            await using var process = ServiceProcess.Start([ServiceProcess.ServiceDll], t.Settings(new Dictionary<string, string?>
            {
                ["MergeQueue:GitHub:Token"] = "",
                ["MergeQueue:GitHub:AppId"] = app.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["MergeQueue:GitHub:PrivateKeyPath"] = keyPath,
            }), ServiceProcess.FreePort());

            (await process.WaitForExitAsync(TimeSpan.FromSeconds(60))).Should().Be(2, process.Output);

            var log = process.Output.Split('\n').Where(l => l.Contains("\"@l\":\"Fatal\"", StringComparison.Ordinal) || l.Contains("\"@l\":\"Error\"", StringComparison.Ordinal)).ToList();
            log.Should().Contain(l => l.Contains($"GitHub App {app.Id}") && l.Contains(keyPath) && l.Contains("A JSON web token could not be decoded"), process.Output);
            process.Output.Should().Contain($"MergeQueue cannot start: MergeQueue:GitHub:PrivateKeyPath: GitHub refused the JWT of GitHub App {app.Id} signed with the key in {keyPath}");
            process.Output.Should().NotContain("eyJ", "a JWT never reaches the log");
        }
        finally
        {
            File.Delete(keyPath);
        }
    }

    [Test]
    public async Task NoCredentials_StartsInSetupModeInsteadOfRefusing()
    {
        await using var t = await ServiceTester.StartAsync(startService: false);
        await t.StartServiceUnconfiguredAsync();

        t.Service.Services.GetRequiredService<MergeQueue.Service.Setup.GitHubConnection>().IsConfigured.Should().BeFalse();
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        (await http.GetAsync("")).StatusCode.Should().Be(System.Net.HttpStatusCode.ServiceUnavailable);
        (await http.GetStringAsync("setup")).Should().Contain("settings/apps/new");
    }

    [Test]
    public async Task OnlyOneOfAppIdAndKey_StartRefusedSayingWhatToSet()
    {
        await using var t = await ServiceTester.StartAsync(startService: false);

        var act = () => ServiceHost.Build([], t.Settings(new Dictionary<string, string?> { ["MergeQueue:GitHub:Token"] = "", ["MergeQueue:GitHub:AppId"] = "12" }), t.Clock);

        act.Should().Throw<InvalidOperationException>().Which.Message.Should()
            .Contain("MergeQueue:GitHub:PrivateKeyPath is missing").And.Contain("MergeQueue:GitHub:AppId");
    }
}
