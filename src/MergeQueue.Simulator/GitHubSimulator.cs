using MergeQueue.Simulator.Api;
using MergeQueue.Simulator.Ci;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Engine;
using MergeQueue.Simulator.Webhooks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace MergeQueue.Simulator;

/// <summary>
/// A GitHub on this machine: GitHub's REST API (at / and /api/v3/) and webhooks over HTTP,
/// backed by real git repositories, with simulated CI and a control API under /_sim/.
/// Start it with <see cref="StartAsync"/>; dispose it to stop it and delete its repositories.
/// </summary>
public sealed class GitHubSimulator : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly string dataDirectory;
    private readonly bool ownsDataDirectory;

    private GitHubSimulator(WebApplication app, GitHubEngine engine, Uri baseUrl, string dataDirectory, bool ownsDataDirectory)
    {
        this.app = app;
        Engine = engine;
        BaseUrl = baseUrl;
        this.dataDirectory = dataDirectory;
        this.ownsDataDirectory = ownsDataDirectory;
        Control = new SimulatorClient(baseUrl);
    }

    /// <summary>The simulator's root, e.g. http://127.0.0.1:41234/ (Octokit's base address).</summary>
    public Uri BaseUrl { get; }

    /// <summary>A client of the control API.</summary>
    public SimulatorClient Control { get; }

    /// <summary>The in-process engine, for callers that want to skip HTTP.</summary>
    public GitHubEngine Engine { get; }

    public static async Task<GitHubSimulator> StartAsync(SimulatorOptions? options = null, CancellationToken ct = default)
    {
        options ??= new SimulatorOptions();
        var owns = options.DataDirectory is null;
        var dataDirectory = options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "mq-sim-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(GitHubSimulator).Assembly.GetName().Name });
        if (!options.Logging) builder.Logging.ClearProviders();
        builder.WebHost.UseUrls([.. options.Urls]);
        var webhooks = new WebhookDispatcher(options.Time);
        var ciConfig = new SimulatedCiConfigHolder();
        if (options.Ci is not null) ciConfig.Update(options.Ci);
        var engine = new GitHubEngine(dataDirectory, options.Time, webhooks, ciConfig);
        var faults = new ApiFaultInjector();
        var log = new ApiCallLog(options.Time);
        builder.Services.AddSingleton(engine).AddSingleton(faults).AddSingleton(log);
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));

        var app = builder.Build();
        Configure(app, engine, faults, log);
        await app.StartAsync(ct);

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var baseUrl = new Uri(NormalizeHost(address).TrimEnd('/') + "/");
        engine.Json = new GitHubJson(baseUrl);
        return new GitHubSimulator(app, engine, baseUrl, dataDirectory, owns);
    }

    // Kestrel reports wildcard hosts as [::] or 0.0.0.0; clients should dial loopback.
    private static string NormalizeHost(string address) =>
        address.Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://localhost", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://+", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://*", "://127.0.0.1", StringComparison.Ordinal);

    /// <summary>The pipeline: Octokit's /api/v3 prefix, the API middleware, then the endpoints.</summary>
    private static void Configure(WebApplication app, GitHubEngine engine, ApiFaultInjector faults, ApiCallLog log)
    {
        app.UsePathBase("/api/v3");
        app.UseMiddleware<ApiMiddleware>();
        app.UseRouting();
        RepoEndpoints.Map(app, engine);
        PullEndpoints.Map(app, engine);
        GitDataEndpoints.Map(app, engine);
        CommitEndpoints.Map(app, engine);
        IssueEndpoints.Map(app, engine);
        OAuthEndpoints.Map(app, engine);
        AppEndpoints.Map(app, engine);
        ManifestEndpoints.Map(app, engine);
        ControlEndpoints.Map(app, engine, faults, log);
        app.MapFallback(() => { throw SimulatorError.NotFound(); });
    }

    /// <summary>Blocks until the host stops (Ctrl+C for the standalone program).</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => app.WaitForShutdownAsync(ct);

    public async ValueTask DisposeAsync()
    {
        Control.Dispose();
        Engine.Ci.AbandonHeld();
        await app.StopAsync();
        await Engine.Webhooks.DisposeAsync();
        await app.DisposeAsync();
        if (ownsDataDirectory)
        {
            try
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // A CI run still reading git when the host stopped; the OS cleans temp eventually.
            }
        }
    }
}
