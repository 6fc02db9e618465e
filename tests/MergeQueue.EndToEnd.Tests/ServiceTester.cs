using MergeQueue.Tests.Shared;
using MergeQueue.Data;
using MergeQueue.Service;
using MergeQueue.Service.Jobs;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>
/// The real service and the GitHub simulator on free ports, wired by a signed webhook, with a
/// demo repository. The queue's clock is fake (batch delays and timeouts pass when a test says);
/// everything else is real: HTTP, git, SQLite, Octokit.
/// </summary>
public sealed class ServiceTester : IAsyncDisposable
{
    public const string Repo = "acme/widgets";
    public const string Bot = "mergequeue-bot";
    public const string Secret = "e2e-secret";

    public const string DefaultConfig = """
        target_branches: [main]
        required_approvals: 1
        required_checks: [ci]
        batch_delay: 1m
        max_batch_size: 8
        batch_min_size: 0
        parallel_attempts: 1
        """;

    /// <summary>
    /// CI on staging branches held until the test releases it (<see cref="ReleaseHeldCiAsync"/>):
    /// a test that acts "while the attempt is testing" cannot race the verdict.
    /// </summary>
    public static CiConfig HoldStaging => new(DelayMs: 30, Overrides: [new CiOverride("mergequeue/staging/**", Hold: true)]);

    private readonly string _dataDir;
    private int _branch;

    private ServiceTester(GitHubSimulator simulator, string dataDir)
    {
        Simulator = simulator;
        _dataDir = dataDir;
    }

    public GitHubSimulator Simulator { get; }
    public SimulatorClient Control => Simulator.Control;
    public WebApplication Service { get; private set; } = null!;
    public Uri ServiceUrl { get; private set; } = null!;
    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);
    public string DatabasePath => Path.Combine(_dataDir, "mergequeue.db");

    /// <summary>The service's store: "sqlite" (the file at <see cref="DatabasePath"/>), or "postgres" (a database of its own on the run's server).</summary>
    public string Provider { get; private set; } = "sqlite";

    /// <summary>The PostgreSQL database's connection string when <see cref="Provider"/> is "postgres".</summary>
    public string? PostgresConnection { get; private set; }

    /// <summary>A connection to the service's database, whichever the provider.</summary>
    public Task<System.Data.Common.DbConnection> OpenDatabaseAsync() =>
        (PostgresConnection is null ? (Data.Database)Data.SqliteDatabase.ForFile(DatabasePath) : new Data.PostgresDatabase(PostgresConnection)).OpenAsync();

    /// <summary>
    /// Every byte of text the database holds: the SQLite file and its WAL as they are on disk, or on
    /// PostgreSQL every row of every table as text. For "never stored in clear" checks.
    /// </summary>
    public async Task<string> DatabaseTextAsync()
    {
        if (PostgresConnection is null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            var files = Directory.GetFiles(_dataDir, "mergequeue.db*");
            return System.Text.Encoding.UTF8.GetString(files.SelectMany(File.ReadAllBytes).ToArray());
        }
        await using var connection = await OpenDatabaseAsync();
        var text = new System.Text.StringBuilder();
        foreach (var table in await Dapper.SqlMapper.QueryAsync<string>(connection, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"))
            foreach (var row in await Dapper.SqlMapper.QueryAsync<string>(connection, $"SELECT t::text FROM \"{table}\" t"))
                text.AppendLine(row);
        return text.ToString();
    }
    public string BotToken { get; private set; } = "";
    /// <summary>The login the service acts as: <see cref="Bot"/>, or the App's bot once started as a GitHub App.</summary>
    public string BotLogin { get; private set; } = Bot;
    /// <summary>The GitHub App the service authenticates as (<see cref="StartServiceAsAppAsync"/>); null with a token.</summary>
    public AppInfo? App { get; private set; }
    /// <summary>Repositories whose targets the invariant is asserted on at dispose.</summary>
    public List<string> Repos { get; } = [Repo];
    public RepoConfigText Config { get; private set; } = new(DefaultConfig);

    public sealed record RepoConfigText(string Yaml);

    /// <param name="provider">"sqlite" or "postgres"; default: <c>MQ_E2E_PROVIDER</c>, else sqlite (run the suite on PostgreSQL with MQ_E2E_PROVIDER=postgres).</param>
    public static async Task<ServiceTester> StartAsync(string? config = null, CiConfig? ci = null, IDictionary<string, string?>? settings = null, bool startService = true, string? provider = null)
    {
        var simulator = await GitHubSimulator.StartAsync(new SimulatorOptions { Ci = ci ?? new CiConfig(DelayMs: 30) });
        var dataDir = Path.Combine(Path.GetTempPath(), "mq-e2e-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dataDir);
        var tester = new ServiceTester(simulator, dataDir) { Config = new RepoConfigText(config ?? DefaultConfig) };
        tester.Provider = provider ?? Environment.GetEnvironmentVariable("MQ_E2E_PROVIDER") ?? "sqlite";
        if (tester.Provider == "postgres")
            tester.PostgresConnection = await (await PostgresServer.SharedAsync()).CreateDatabaseAsync("e2e");
        tester.BotToken = (await simulator.Control.CreateUserAsync(Bot, type: "Bot")).Token;
        await simulator.Control.CreateRepositoryAsync(Repo, new Dictionary<string, string>
        {
            [".github/mergequeue.yml"] = tester.Config.Yaml,
            ["README.md"] = "# Widgets\n",
        });
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await simulator.Control.CreateUserAsync(user);
            await simulator.Control.SetPermissionAsync(Repo, user, "write");
        }
        await simulator.Control.SetPermissionAsync(Repo, Bot, "write");
        await simulator.Control.CreateUserAsync("mallory");
        await simulator.Control.SetPermissionAsync(Repo, "mallory", "read");
        if (startService) await tester.StartServiceAsync(settings);
        return tester;
    }

    /// <summary>The settings a service process needs to talk to this simulator and database.</summary>
    public Dictionary<string, string?> Settings(IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["ConnectionStrings:MergeQueue"] = PostgresConnection ?? $"Data Source={DatabasePath}",
            ["MergeQueue:Database:Provider"] = Provider,
            ["MergeQueue:GitHub:ApiUrl"] = Simulator.BaseUrl.ToString(),
            ["MergeQueue:GitHub:Token"] = BotToken,
            ["MergeQueue:GitHub:WebhookSecret"] = Secret,
            ["MergeQueue:GitHub:Retry:BaseDelay"] = "00:00:00.020",
            ["MergeQueue:GitHub:Retry:MaxBackoff"] = "00:00:00.200",
            ["MergeQueue:GitHub:Retry:SecondaryRateLimitWait"] = "00:00:01",
            ["MergeQueue:Poller:Interval"] = "01:00:00",
            ["MergeQueue:PublicUrl"] = "http://mq.example",
            // Quiet unless asked: MQ_E2E_LOGS=1 shows the service's story.
            ["Serilog:MinimumLevel:Default"] = Environment.GetEnvironmentVariable("MQ_E2E_LOGS") == "1" ? "Information" : "Warning",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        return settings;
    }

    public async Task StartServiceAsync(IDictionary<string, string?>? settings = null)
    {
        await BuildAndStartAsync(Settings(settings));
        var hook = new Uri(ServiceUrl, "webhooks/github").ToString();
        if (App is null) await Control.RegisterHookAsync(hook, Secret);
        else await Control.SetAppHookAsync(App.Id, hook, Secret);
    }

    /// <summary>
    /// Starts the service with GitHub App settings only (no token): an App "mergequeue" whose key file is
    /// written to the data folder, installed on acme for <see cref="Repo"/>; its webhook is the service's.
    /// </summary>
    public async Task<AppInfo> StartServiceAsAppAsync(int tokenLifetimeSeconds = 3600, IDictionary<string, string?>? settings = null)
    {
        App = await Control.RegisterAppAsync(new AppRequest("mergequeue", TokenLifetimeSeconds: tokenLifetimeSeconds));
        BotLogin = App.BotLogin;
        await Control.InstallAppAsync(App.Id, "acme", [Repo]);
        var keyPath = Path.Combine(_dataDir, "app.pem");
        await File.WriteAllTextAsync(keyPath, App.PrivateKeyPem);
        var appSettings = new Dictionary<string, string?>
        {
            ["MergeQueue:GitHub:Token"] = "",
            ["MergeQueue:GitHub:AppId"] = App.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MergeQueue:GitHub:PrivateKeyPath"] = keyPath,
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) appSettings[k] = v;
        await StartServiceAsync(appSettings);
        return App;
    }

    private async Task BuildAndStartAsync(Dictionary<string, string?> settings)
    {
        Service = ServiceHost.Build([], settings, Clock);
        await Service.MigrateAsync();
        await Service.StartAsync();
        var address = Service.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        ServiceUrl = new Uri(address.TrimEnd('/') + "/");
    }

    /// <summary>Where <c>/setup</c> writes its settings file in these tests (the data folder, not the working directory).</summary>
    public string SetupFile => Path.Combine(_dataDir, "mergequeue.setup.json");

    /// <summary>
    /// Starts the service with no GitHub credentials and no webhook secret (setup mode), its public URL
    /// where it listens (from the request), and no webhook registered at the simulator.
    /// </summary>
    public Task StartServiceUnconfiguredAsync() => BuildAndStartAsync(Settings(new Dictionary<string, string?>
    {
        ["MergeQueue:GitHub:Token"] = "",
        ["MergeQueue:GitHub:WebhookSecret"] = "",
        ["MergeQueue:PublicUrl"] = "",
        ["MergeQueue:Setup:File"] = SetupFile,
    }));

    /// <summary>The login the queue acts as on GitHub (whose target moves the invariant checks).</summary>
    public void ActsAs(string login) => BotLogin = login;

    public async Task StopServiceAsync()
    {
        await Service.StopAsync();
        await Service.DisposeAsync();
    }

    // Domain verbs

    /// <summary>Opens a PR from a new branch with these files; a file named FAIL makes CI fail.</summary>
    public async Task<int> OpenPrAsync(IReadOnlyDictionary<string, string?>? files = null, string author = "alice", string? title = null)
    {
        var n = Interlocked.Increment(ref _branch);
        var pr = await Control.OpenPullRequestWithFilesAsync(Repo, $"feature/{n}", files ?? new Dictionary<string, string?> { [$"file{n}.txt"] = $"change {n}\n" }, title ?? $"Change {n}", author);
        return pr.Number;
    }

    public Task ApproveAsync(int number, string by = "bob") => Control.ReviewAsync(Repo, number, by);

    public Task<CommentInfo> CommentAsync(int number, string body, string by = "bob") => Control.CommentAsync(Repo, number, by, body);

    public Task<CommentInfo> MergeAsync(int number, string by = "bob") => CommentAsync(number, "@mergequeue merge", by);

    public async Task ApproveAndMergeAsync(params int[] numbers)
    {
        foreach (var n in numbers)
        {
            await ApproveAsync(n);
            await MergeAsync(n);
        }
    }

    public Task<Simulator.Control.PullRequestInfo> PrAsync(int number) => Control.GetPullRequestAsync(Repo, number);

    /// <summary>The reactions on a comment, in the order they were given.</summary>
    public async Task<IReadOnlyList<string>> ReactionsAsync(int number, CommentInfo comment) =>
        (await Control.CommentsAsync(Repo, number)).Single(c => c.Id == comment.Id).Reactions.Select(r => r.Content).ToArray();

    /// <summary>The <c>mergequeue</c> status on the PR's head commit.</summary>
    public async Task<StatusSnapshot?> QueueStatusAsync(int number, string context = "mergequeue")
    {
        var pr = await PrAsync(number);
        var checks = await Control.ChecksAsync(Repo, pr.HeadSha);
        return checks.Statuses.Where(s => s.Context == context).MaxBy(s => s.Id);
    }

    public Task TickAsync() => Service.Services.GetRequiredService<QueueTicker>().TickAsync(CancellationToken.None);

    /// <summary>Waits until the simulator has delivered everything and run all CI, and the service has handled every delivery.</summary>
    public async Task SettleAsync(TimeSpan? timeout = null)
    {
        var inbox = Service.Services.GetRequiredService<WebhookInbox>();
        var quietRounds = 0;
        await SimulatorClient.WaitUntilAsync(async ct =>
        {
            var idle = (await Control.IdleAsync(ct)).Idle && (await inbox.GetUnprocessedAsync(1, ct)).Count == 0;
            quietRounds = idle ? quietRounds + 1 : 0;
            return quietRounds >= 3;
        }, timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits until every webhook was delivered and handled, without waiting for CI runs to finish.</summary>
    public async Task SettleDeliveriesAsync(TimeSpan? timeout = null)
    {
        var inbox = Service.Services.GetRequiredService<WebhookInbox>();
        var quietRounds = 0;
        await SimulatorClient.WaitUntilAsync(async ct =>
        {
            var idle = (await Control.IdleAsync(ct)).PendingDeliveries == 0 && (await inbox.GetUnprocessedAsync(1, ct)).Count == 0;
            quietRounds = idle ? quietRounds + 1 : 0;
            return quietRounds >= 3;
        }, timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>Lets the batch delay (1m in the default config) pass and polls once: the next batch is built and under test.</summary>
    public async Task StartBatchAsync()
    {
        await SettleAsync();
        Clock.Advance(TimeSpan.FromMinutes(1));
        await TickAsync();
        await SettleDeliveriesAsync();
    }

    /// <summary>Lets the batch delay pass and runs the poller, until <paramref name="done"/> holds.</summary>
    public async Task RunUntilAsync(Func<Task<bool>> done, int maxTicks = 40)
    {
        for (var i = 0; i < maxTicks; i++)
        {
            await SettleAsync();
            if (await done()) return;
            Clock.Advance(TimeSpan.FromMinutes(1));
            await TickAsync();
        }
        await SettleAsync();
        (await done()).Should().BeTrue($"the queue should have finished within {maxTicks} poll ticks");
    }

    /// <summary>Waits until <paramref name="count"/> CI runs of the repository are held (their pending status posted); returns them, oldest first.</summary>
    public async Task<IReadOnlyList<CiRun>> WaitForHeldCiAsync(int count = 1) =>
        (await Control.WaitForHeldCiRunsAsync(count, Repo, TimeSpan.FromSeconds(30))).OrderBy(r => r.Id).ToArray();

    /// <summary>
    /// Stops holding CI and releases the held runs one at a time, oldest first, each reporting its
    /// verdict before the next is released: the order in which runs of equal length started would end.
    /// Runs started before the hold was lifted and not yet held are waited for and released too.
    /// </summary>
    public async Task ReleaseHeldCiAsync()
    {
        var ci = await Control.CiConfigAsync();
        await Control.ConfigureCiAsync(new CiConfig(Overrides: ci.Overrides!.Where(o => !o.Hold).ToArray()));
        while (true)
        {
            await SimulatorClient.WaitUntilAsync(async ct => (await Control.IdleAsync(ct)).RunningCi == 0, TimeSpan.FromSeconds(30));
            var held = (await Control.CiRunsAsync(Repo, held: true)).OrderBy(r => r.Id).ToArray();
            if (held.Length == 0) return;
            foreach (var run in held)
            {
                await Control.ReleaseCiAsync(Repo, sha: run.Sha, branch: run.Branch);
                await SimulatorClient.WaitUntilAsync(async ct => (await Control.CiRunsAsync(Repo, run.Branch, ct: ct)).Single(r => r.Id == run.Id).Verdict is not null, TimeSpan.FromSeconds(30));
            }
        }
    }

    public async Task<bool> AllClosedAsync(params int[] numbers)
    {
        foreach (var n in numbers)
        {
            var status = await QueueStatusAsync(n);
            if (status is null || status.State == "pending") return false;
        }
        return true;
    }

    /// <summary>
    /// The shared invariant: the bot only ever moved the target by fast-forward, to commits on which
    /// every required check of the repository's config was present and had passed.
    /// </summary>
    public async Task AssertTargetOnlyMovedToGreenAsync(string branch = "main", string repo = Repo)
    {
        var config = Core.Config.RepoConfigParser.Parse(Config.Yaml).Config;
        var required = config is { RequiredChecksFromBranchProtection: true }
            ? (await Control.GetBranchProtectionAsync(repo, branch))?.RequiredStatusChecks ?? []
            : config?.RequiredChecks ?? ["ci"];
        if (config is { RequiredChecksFromBranchProtection: true }) required.Should().NotBeEmpty($"{branch} must be protected with required checks");
        var moves = await Control.BranchMovesAsync(repo, branch);
        foreach (var move in moves.Where(m => m.Actor == BotLogin))
        {
            move.Forced.Should().BeFalse($"{branch} must only fast-forward");
            move.Checks.Should().NotBeNull();
            foreach (var context in required)
            {
                var status = move.Checks!.Statuses.Where(s => s.Context == context).MaxBy(s => s.Id)?.State;
                var run = move.Checks.CheckRuns.Where(r => r.Name == context).MaxBy(r => r.Id)?.Conclusion;
                (status ?? run).Should().Be("success", $"{branch} moved to {move.NewSha}, which must have passed {context}");
            }
        }
    }

    public async Task<IReadOnlyList<string>> QueueBranchesAsync() =>
        (await Control.BranchesAsync(Repo)).Select(b => b.Name).Where(n => n.StartsWith("mergequeue/", StringComparison.Ordinal)).ToArray();

    public async ValueTask DisposeAsync()
    {
        try
        {
            // Every test asserts the invariant, whether it remembered to or not: on each target branch of the
            // config, the bot only fast-forwarded, to commits whose required checks all passed.
            foreach (var repo in Repos)
                foreach (var target in Core.Config.RepoConfigParser.Parse(Config.Yaml).Config?.TargetBranches ?? ["main"])
                    await AssertTargetOnlyMovedToGreenAsync(target, repo);
        }
        finally
        {
            await StopAndCleanUpAsync();
        }
    }

    private async Task StopAndCleanUpAsync()
    {
        try
        {
            if (Service is not null) await StopServiceAsync();
        }
        catch (ObjectDisposedException)
        {
            // stopped by the test already
        }
        await Simulator.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (PostgresConnection is not null) await (await PostgresServer.SharedAsync()).DropDatabaseAsync(PostgresConnection);
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // leave a locked temp file to the OS
        }
    }
}
