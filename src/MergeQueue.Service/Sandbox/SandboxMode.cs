using System.Collections.Concurrent;
using MergeQueue.Simulator;
using MergeQueue.Simulator.Control;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace MergeQueue.Service.Sandbox;

/// <summary>
/// <c>dotnet run --project src/MergeQueue.Service -- sandbox</c> (CONTRACT §1): the service and the
/// GitHub simulator side by side, a fresh temporary database, fast timings, and a demo repository
/// whose pull requests (one failing, one conflicting) are approved and requested, so a newcomer
/// watches PRs merge within minutes without any account. The demo's checks are real: the built-in
/// runner runs the repository's <c>test.sh</c> (simulated CI is off), and new pull requests keep
/// arriving (<see cref="StartArrivals"/>) until the sandbox stops.
/// </summary>
public sealed class SandboxMode : IAsyncDisposable
{
    public const string Repository = "demo/widgets";
    /// <summary>The sandbox's GitHub App; the service acts as its bot.</summary>
    public const string AppSlug = "mergequeue";
    public const string BotLogin = AppSlug + "[bot]";

    private readonly string _dataDir;
    private readonly CancellationTokenSource _stopping = new();
    private Task _arrivals = Task.CompletedTask;

    private SandboxMode(GitHubSimulator simulator, WebApplication service, Uri serviceUrl, string dataDir, long appId)
    {
        Simulator = simulator;
        Service = service;
        ServiceUrl = serviceUrl;
        _dataDir = dataDir;
        AppId = appId;
    }

    /// <summary>The GitHub App registered at the simulator, whose key the service signs its JWTs with.</summary>
    public long AppId { get; }

    public GitHubSimulator Simulator { get; }
    public WebApplication Service { get; }
    public Uri ServiceUrl { get; }
    /// <summary>The demo pull requests, the initial ones and those that arrived since: number → what it is meant to show.</summary>
    public ConcurrentDictionary<int, string> PullRequests { get; } = [];

    public static async Task<int> RunAsync(string[] args)
    {
        await using var sandbox = await StartAsync(args, CancellationToken.None);
        var logger = sandbox.Service.Services.GetRequiredService<ILogger<SandboxMode>>();
        logger.LogInformation("Sandbox ready: MergeQueue at {Service}, GitHub simulator at {Simulator}. Press Ctrl+C to stop.", sandbox.ServiceUrl, sandbox.Simulator.BaseUrl);
        await sandbox.CreateDemoAsync(CancellationToken.None);
        sandbox.StartArrivals();
        await sandbox.Service.WaitForShutdownAsync();
        return 0;
    }

    /// <summary>The OAuth app the sandbox registers at its simulator for dashboard sign-in.</summary>
    public const string SignInClientId = "mergequeue-sandbox";

    /// <summary>Who is signed in at the simulated GitHub: "Sign in with GitHub" makes them an admin of the dashboard.</summary>
    public const string SignInLogin = "alice";

    /// <summary>Starts the simulator and the service, wired together; <paramref name="args"/> may override settings (e.g. <c>--Urls=http://127.0.0.1:0</c>).</summary>
    public static async Task<SandboxMode> StartAsync(string[] args, CancellationToken ct)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "mergequeue-sandbox-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataDir);
        // No simulated CI: the demo repository's own jobs, run by the built-in runner, are its only checks.
        var simulator = await GitHubSimulator.StartAsync(new SimulatorOptions { Ci = new CiConfig(Contexts: [], PullRequestHeads: false) }, ct);
        // GitHub App authentication, as in production: the simulator makes the App's key pair and the
        // service gets the private key's file, never a token.
        var app = await simulator.Control.RegisterAppAsync(new AppRequest(AppSlug), ct);
        var keyPath = Path.Combine(dataDir, "github-app.pem");
        await File.WriteAllTextAsync(keyPath, app.PrivateKeyPem, ct);
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

        var service = ServiceHost.Build(args, new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:5000",
            ["ConnectionStrings:MergeQueue"] = $"Data Source={Path.Combine(dataDir, "mergequeue.db")}",
            ["MergeQueue:GitHub:ApiUrl"] = simulator.BaseUrl.ToString(),
            ["MergeQueue:GitHub:AppId"] = app.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["MergeQueue:GitHub:PrivateKeyPath"] = keyPath,
            ["MergeQueue:GitHub:WebhookSecret"] = secret,
            // CONTRACT §1: the built-in runner runs in sandbox; it runs the demo repository's test.sh.
            ["MergeQueue:Runner:Enabled"] = "true",
            ["MergeQueue:GitHub:Retry:BaseDelay"] = "00:00:00.200",
            ["MergeQueue:Poller:Interval"] = "00:00:05",
            ["MergeQueue:Logging:Format"] = "text",
            // "Sign in with GitHub" through the simulator: alice is signed in there and is an admin here.
            ["MergeQueue:GitHub:OAuthClientId"] = SignInClientId,
            ["MergeQueue:GitHub:OAuthClientSecret"] = secret,
        });
        await service.MigrateAsync();
        await service.StartAsync(ct);
        var address = service.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var serviceUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        await simulator.Control.SetAppHookAsync(app.Id, new Uri(serviceUrl, "webhooks/github").ToString(), secret, ct);
        await simulator.Control.RegisterOAuthAppAsync(SignInClientId, secret, new Uri(serviceUrl, "signin/callback").ToString(), ct);
        await simulator.Control.CreateUserAsync(SignInLogin, ct: ct);
        await simulator.Control.SignInBrowserAsync(SignInLogin, ct);
        await service.Services.GetRequiredService<MergeQueue.Data.ApiKeyStore>().CreateUserAsync(SignInLogin, MergeQueue.Data.ApiRoles.Admin, [], ct);
        return new SandboxMode(simulator, service, serviceUrl, dataDir, app.Id);
    }

    /// <summary>
    /// The demo repository's test suite, which the built-in runner runs on every staging commit (job
    /// <c>test</c>): every line of <c>src/*.txt</c> must be a widget name, lowercase letters and dashes.
    /// </summary>
    public const string TestScript = """
        #!/bin/sh
        # The widgets' tests: every line of src/*.txt is a widget name (lowercase letters and dashes).
        echo "Testing $MERGEQUEUE_REPO at $MERGEQUEUE_SHA"
        failed=0
        for file in src/*.txt; do
          ok=1
          line=0
          while IFS= read -r name || [ -n "$name" ]; do
            line=$((line + 1))
            case "$name" in
              ''|*[!a-z-]*) echo "FAIL $file:$line: \"$name\" is not a widget name (use lowercase letters and dashes)"; ok=0 ;;
            esac
          done < "$file"
          if [ $ok = 1 ]; then echo "ok   $file"; else failed=1; fi
        done
        if [ $failed = 1 ]; then echo "widget tests failed"; exit 1; fi
        echo "all widget tests passed"
        """;

    /// <summary>The demo: five pull requests, approved and requested with a comment, as a team would.</summary>
    public async Task CreateDemoAsync(CancellationToken ct)
    {
        var logger = Service.Services.GetRequiredService<ILogger<SandboxMode>>();
        var control = Simulator.Control;
        await control.CreateRepositoryAsync(Repository, new Dictionary<string, string>
        {
            [".github/mergequeue.yml"] = """
                target_branches: [main]
                strategy: merge
                required_approvals: 1
                required_checks: [test]
                batch_delay: 5s
                max_batch_size: 8
                timeouts: { testing: 10m }
                jobs:
                  test: { run: sh ./test.sh, timeout: 2m }
                """,
            ["README.md"] = "# Widgets\n\nA demo repository for MergeQueue's sandbox.\n",
            ["src/widgets.txt"] = "gear\nsprocket\n",
            ["test.sh"] = TestScript + "\n",
        }, ct: ct);
        // Installing the App on the repository's account tells the service (installation.created): it finds the config.
        await control.InstallAppAsync(AppId, "demo", [Repository], ct);
        foreach (var user in new[] { "alice", "bob", "carol" })
        {
            await control.CreateUserAsync(user, ct: ct);
            await control.SetPermissionAsync(Repository, user, "write", ct);
        }

        var demo = new DemoPullRequest[]
        {
            new("feature/docs", "Document the widgets", "alice", new Dictionary<string, string?> { ["docs/widgets.md"] = "Gears and sprockets.\n" }, null, "merges"),
            new("feature/cog", "Add a cog", "carol", new Dictionary<string, string?> { ["src/cog.txt"] = "cog\n" }, null, "merges"),
            new("feature/broken", "Add the Turbo Encabulator (breaks the tests)", "alice", new Dictionary<string, string?> { ["src/encabulator.txt"] = "Turbo Encabulator!\n" },
                null, "fails its checks (test.sh rejects its widget name) and is found by bisection"),
            new("feature/readme-title", "Retitle the README", "carol", new Dictionary<string, string?> { ["README.md"] = "# Widgets, Inc.\n\nA demo repository for MergeQueue's sandbox.\n" }, null, "merges"),
            new("feature/readme-clash", "Rename the README title", "alice", new Dictionary<string, string?> { ["README.md"] = "# Widget Works\n\nA demo repository for MergeQueue's sandbox.\n" },
                null, "changes the same README line as the one before it: one of the two is reported as a merge conflict"),
        };
        foreach (var pr in demo) await OpenAndApproveAsync(pr, logger, ct);
    }

    /// <summary>How often a new demo pull request arrives (<c>MergeQueue:Sandbox:ArrivalInterval</c>, default a minute; zero: never).</summary>
    public TimeSpan ArrivalInterval => Service.Configuration.GetValue("MergeQueue:Sandbox:ArrivalInterval", TimeSpan.FromMinutes(1));

    /// <summary>
    /// Keeps opening new demo pull requests every <see cref="ArrivalInterval"/> until the sandbox is
    /// disposed; which kind comes next is chosen with <c>MergeQueue:Sandbox:Seed</c> (default 16).
    /// </summary>
    public void StartArrivals()
    {
        var interval = ArrivalInterval;
        if (interval <= TimeSpan.Zero) return;
        var arrivals = new DemoArrivals(Service.Configuration.GetValue("MergeQueue:Sandbox:Seed", 16));
        var logger = Service.Services.GetRequiredService<ILogger<SandboxMode>>();
        // Ctrl+C stops the arrivals at once, not only when the host has finished stopping.
        Service.Lifetime.ApplicationStopping.Register(_stopping.Cancel);
        var ct = _stopping.Token;
        _arrivals = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(ct))
            {
                try
                {
                    var main = await Simulator.Control.BranchShaAsync(Repository, "main", ct);
                    var pr = arrivals.Next(main!);
                    arrivals.Opened(pr, await OpenAndApproveAsync(pr, logger, ct));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // One failed arrival (the simulator busy, a laptop asleep) must not end the demo.
                    logger.LogWarning(e, "Sandbox: a new demo pull request could not be opened");
                }
            }
        }, ct);
    }

    private async Task<int> OpenAndApproveAsync(DemoPullRequest pr, ILogger logger, CancellationToken ct)
    {
        var control = Simulator.Control;
        await control.CommitAsync(Repository, pr.Branch, pr.Files, pr.Title, pr.Author, parent: pr.Parent, ct: ct);
        var opened = await control.OpenPullRequestAsync(Repository, pr.Branch, pr.Title, author: pr.Author, ct: ct);
        PullRequests[opened.Number] = pr.Shows;
        logger.LogInformation("Sandbox: {Author} opened #{Number} \"{Title}\": it {Shows}", pr.Author, opened.Number, pr.Title, pr.Shows);
        await control.ReviewAsync(Repository, opened.Number, "bob", ct: ct);
        await control.CommentAsync(Repository, opened.Number, "bob", "Looks good.\n\n@mergequeue merge", ct);
        logger.LogInformation("Sandbox: bob approved #{Number} and asked @mergequeue to merge it", opened.Number);
        return opened.Number;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _arrivals;
        }
        catch (OperationCanceledException)
        {
            // The arrivals loop ends by cancellation.
        }
        await Service.StopAsync();
        await Service.DisposeAsync();
        await Simulator.DisposeAsync();
        // Last: stopping the host still cancels it (ApplicationStopping).
        _stopping.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
            // A file still open (SQLite WAL) must not fail shutdown; the temp folder is the OS's to clean.
        }
    }
}
