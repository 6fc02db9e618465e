using MergeQueue.Simulator;
using Octokit;

namespace MergeQueue.Simulator.Tests.Support;

/// <summary>
/// One simulator per test fixture (starting Kestrel per test would cost more than the tests);
/// every test gets its own repository so tests stay independent.
/// </summary>
public abstract class SimulatorTestBase
{
    protected GitHubSimulator Sim { get; private set; } = null!;
    protected SimulatorClient Control => Sim.Control;

    /// <summary>A bot with admin rights on every repository, as the merge queue's GitHub App has.</summary>
    protected string BotToken { get; private set; } = null!;
    protected GitHubClient Bot { get; private set; } = null!;

    [OneTimeSetUp]
    public async Task StartSimulator()
    {
        Sim = await GitHubSimulator.StartAsync(new SimulatorOptions { Ci = new Control.CiConfig(DelayMs: 5) });
        var bot = await Control.CreateUserAsync("mergequeue[bot]", globalPermission: "admin");
        BotToken = bot.Token;
        Bot = Octokit(bot.Token);
    }

    [OneTimeTearDown]
    public async Task StopSimulator()
    {
        // No REST call of the fixture may have needed the last-resort 500.
        var unexpected = await Control.UnexpectedErrorsAsync();
        await Sim.DisposeAsync();
        unexpected.Should().BeEmpty();
    }

    protected GitHubClient Octokit(string token) =>
        new(new ProductHeaderValue("mq-tests"), Sim.BaseUrl) { Credentials = new Credentials(token, AuthenticationType.Bearer) };

    private static int repoCounter;

    /// <summary>A fresh repository "acme/repoN" with the given files on main.</summary>
    protected async Task<string> NewRepoAsync(IReadOnlyDictionary<string, string>? files = null)
    {
        var name = $"acme/repo{Interlocked.Increment(ref repoCounter)}-{GetType().Name.ToLowerInvariant()}";
        await Control.CreateRepositoryAsync(name, files ?? new Dictionary<string, string> { ["README.md"] = "hello\n" });
        return name;
    }

    protected static (string Owner, string Name) Split(string fullName) => (fullName.Split('/')[0], fullName.Split('/')[1]);

    protected static Dictionary<string, string?> Files(params (string Path, string? Content)[] files) => files.ToDictionary(f => f.Path, f => f.Content);
}
