using MergeQueue.Core;
using MergeQueue.GitHub.Tests.Support;
using MergeQueue.Simulator;
using Microsoft.Extensions.Logging.Abstractions;
using Octokit;
using Octokit.Internal;

namespace MergeQueue.GitHub.Tests.Simulator;

/// <summary>
/// One simulator per fixture; every test gets its own repository and a fresh adapter that
/// talks to the simulator as the bot, with retry waits that end at once (and are recorded).
/// </summary>
[CancelAfter(60_000)]
public abstract class SimulatorTest
{
    protected const string Bot = "mq-bot";
    protected const string Owner = "acme";
    private static int repoCounter;

    protected GitHubSimulator Sim { get; private set; } = null!;
    protected SimulatorClient Control => Sim.Control;
    protected string BotToken { get; private set; } = null!;

    protected RepoId Repo { get; private set; }
    protected string RepoName => Repo.ToString();
    protected string MainSha { get; private set; } = null!;
    protected InstantWaits Waits { get; private set; } = null!;
    protected DroppedResponses Drops { get; private set; } = null!;
    protected OctokitGitHub GitHub { get; private set; } = null!;
    /// <summary>A plain Octokit client as the bot, for arranging what the port cannot do (check runs).</summary>
    protected GitHubClient Octokit { get; private set; } = null!;

    protected static readonly IReadOnlyDictionary<string, string> InitialFiles = new Dictionary<string, string>
    {
        ["README.md"] = "hello\n",
        [".github/mergequeue.yml"] = "required_approvals: 1\n",
        ["src/shared.txt"] = "one\ntwo\nthree\n",
    };

    [OneTimeSetUp]
    public async Task StartSimulator()
    {
        Sim = await GitHubSimulator.StartAsync();
        BotToken = (await Control.CreateUserAsync(Bot, globalPermission: "write")).Token;
    }

    [OneTimeTearDown]
    public async Task StopSimulator() => await Sim.DisposeAsync();

    [SetUp]
    public async Task NewRepository()
    {
        Repo = new RepoId(Owner, $"widgets-{Interlocked.Increment(ref repoCounter)}");
        MainSha = (await Control.CreateRepositoryAsync(RepoName, InitialFiles)).HeadSha;
        Waits = new InstantWaits();
        Drops = new DroppedResponses();
        var connection = new Connection(new ProductHeaderValue("MergeQueue.Tests"), new Uri(Sim.BaseUrl, "api/v3/"),
            new InMemoryCredentialStore(new Credentials(BotToken)), new HttpClientAdapter(() => Drops), new SimpleJsonSerializer());
        GitHub = new OctokitGitHub(new GitHubClient(connection), Waits, NullLogger.Instance);
        Octokit = new GitHubClient(new ProductHeaderValue("MergeQueue.Tests"), Sim.BaseUrl) { Credentials = new Credentials(BotToken) };
    }

    [TearDown]
    public async Task ClearFaults()
    {
        Drops.Dispose();
        await Control.ClearApiFaultsAsync();
        (await Control.UnexpectedErrorsAsync()).Should().BeEmpty("the simulator should never answer a last-resort 500");
    }

    protected static CancellationToken None => CancellationToken.None;

    /// <summary>The REST path of this test's repository as the simulator logs it (after /api/v3).</summary>
    protected string RepoPath => $"/repos/{Repo.Owner}/{Repo.Name}";

    /// <summary>A branch off main with one commit changing <paramref name="files"/>; returns its head.</summary>
    protected async Task<CommitSha> BranchWith(string branch, IReadOnlyDictionary<string, string?> files, string? parent = null) =>
        new((await Control.CommitAsync(RepoName, branch, files, $"change on {branch}", parent: parent)).Sha);

    /// <summary>Calls the simulator received for paths of this repository ending in <paramref name="suffix"/>.</summary>
    protected async Task<int> CallsTo(string method, string suffix) =>
        (await Control.ApiCallsAsync()).Count(c => c.Method == method && c.Path.StartsWith(RepoPath, StringComparison.Ordinal) && c.Path.EndsWith(suffix, StringComparison.Ordinal));
}
