using System.Net;
using MergeQueue.Service.Sandbox;
using Microsoft.Extensions.DependencyInjection;

namespace MergeQueue.EndToEnd.Tests.SignIn;

/// <summary>The sandbox signs its visitor in through the simulator as alice, an admin.</summary>
public sealed class SandboxSignInTests
{
    [Test]
    [CancelAfter(60_000)]
    public async Task Sandbox_SignIn_ThroughTheSimulator_SignsInAliceAsAdmin(CancellationToken ct)
    {
        await using var sandbox = await SandboxMode.StartAsync(["--Urls=http://127.0.0.1:0", "--Serilog:MinimumLevel:Default=Warning"], ct);
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = sandbox.ServiceUrl };

        // Redirects followed: the sandbox, the simulator's authorize page, the callback, back to the page.
        var page = await http.GetStringAsync("signin?returnUrl=%2F", ct);

        page.Should().Contain("<span id=\"signed-in-as\">alice</span>");
        var alice = await sandbox.Service.Services.GetRequiredService<MergeQueue.Data.ApiKeyStore>().FindUserByLoginAsync("alice", ct);
        alice!.Role.Should().Be(MergeQueue.Data.ApiRoles.Admin);
    }
}
