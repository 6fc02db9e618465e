using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using MergeQueue.Data;
using MergeQueue.GitHub;
using MergeQueue.Service.Api;
using MergeQueue.Service.Cluster;
using MergeQueue.Service.Config;
using MergeQueue.Service.Dashboard;
using MergeQueue.Service.Jobs;
using MergeQueue.Service.Notifications;
using MergeQueue.Service.Repositories;
using MergeQueue.Service.Setup;
using MergeQueue.Service.SignIn;
using MergeQueue.Service.Webhooks;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;
using Prometheus;
using Quartz;
using Serilog;
using Serilog.Formatting.Compact;

namespace MergeQueue.Service;

/// <summary>Builds the service: settings, database, GitHub, flows, webhook intake, poller, endpoints.</summary>
public static class ServiceHost
{
    /// <param name="args">Command-line settings (<c>--Key=Value</c>), applied last.</param>
    /// <param name="configure">Extra settings for tests and sandbox, applied after appsettings.json and before args.</param>
    public static WebApplication Build(string[] args, IDictionary<string, string?>? configure = null, TimeProvider? clock = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // appsettings.json is copied next to the binaries (from the repository root), whatever the working directory.
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (configure is not null)
        {
            builder.Configuration.AddInMemoryCollection(configure);
            builder.Configuration.AddEnvironmentVariables();
            builder.Configuration.AddCommandLine(args);
        }
        builder.Configuration["Urls"] ??= "http://127.0.0.1:5000";
        var setupFile = SetupSettings.AddSource(builder.Configuration);

        // One id per process for the whole run: the cluster view, leases, lock holders and Quartz all use it.
        if (string.IsNullOrWhiteSpace(builder.Configuration["MergeQueue:Cluster:InstanceId"]))
            builder.Configuration["MergeQueue:Cluster:InstanceId"] = ClusterMember.NewInstanceId();
        var options = builder.Configuration.GetSection(ServiceOptions.Section).Get<ServiceOptions>() ?? new ServiceOptions();
        // Nothing configured at all: start in setup mode (only /setup and /healthz answer) rather than refuse.
        var setupMode = GitHubConnection.HasNoCredentials(options.GitHub);
        if (!setupMode && string.IsNullOrWhiteSpace(options.GitHub.WebhookSecret))
            throw new InvalidOperationException("MergeQueue:GitHub:WebhookSecret is required: GitHub deliveries cannot be verified without it.");
        var useApp = !setupMode && UsesGitHubApp(options.GitHub);
        if (options.Api.AdminKey is { Length: > 0 and < ApiKeyAuthenticator.MinAdminKeyLength } tooShort)
            throw new InvalidOperationException($"MergeQueue:Api:AdminKey must be at least {ApiKeyAuthenticator.MinAdminKeyLength} characters (it has {tooShort.Length}): "
                + "it is a password to the whole API; make one with e.g. `openssl rand -base64 32`.");
        if (options.Retention.MaxAge <= TimeSpan.Zero)
            throw new InvalidOperationException($"MergeQueue:Retention:MaxAge must be positive, not {options.Retention.MaxAge}.");
        if (options.Runner.Slots < 0)
            throw new InvalidOperationException($"MergeQueue:Runner:Slots must be 0 (external runners only) or more, not {options.Runner.Slots}.");
        if (options.Runner.HeartbeatTimeout < TimeSpan.FromSeconds(1))
            throw new InvalidOperationException($"MergeQueue:Runner:HeartbeatTimeout must be at least 1 second, not {options.Runner.HeartbeatTimeout}.");
        if (options.Database.Provider.ToLowerInvariant() is not ("sqlite" or "postgres"))
            throw new InvalidOperationException($"MergeQueue:Database:Provider '{options.Database.Provider}' is not supported: use sqlite (one instance) or postgres (any number).");
        NotificationTargets.Validate(options.Notifications);
        var publicUrl = string.IsNullOrWhiteSpace(options.PublicUrl) ? builder.Configuration["Urls"]!.Split(';')[0] : options.PublicUrl;

        // JSON lines for machines by default; sandbox asks for text a person can follow (MergeQueue:Logging:Format=text).
        var textLogs = string.Equals(builder.Configuration["MergeQueue:Logging:Format"], "text", StringComparison.OrdinalIgnoreCase);
        builder.Services.AddSerilog((services, log) =>
        {
            log.ReadFrom.Configuration(builder.Configuration).Enrich.FromLogContext();
            if (textLogs) log.WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {Message:lj}{NewLine}{Exception}");
            else log.WriteTo.Console(new CompactJsonFormatter());
        });
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = WebhookEndpoint.MaxBodyBytes);

        builder.Services.Configure<ServiceOptions>(builder.Configuration.GetSection(ServiceOptions.Section));
        builder.Services.AddSingleton(clock ?? TimeProvider.System);
        var connectionString = builder.Configuration.GetConnectionString("MergeQueue") ?? "Data Source=mergequeue.db";
        builder.Services.AddSingleton(sp => Database.Create(options.Database.Provider, connectionString, sp.GetRequiredService<TimeProvider>(), options.Cluster.InstanceId));
        builder.Services.AddSingleton(sp => new QueueStore(sp.GetRequiredService<Database>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton<IQueueStore>(sp => new MeteredQueueStore(sp.GetRequiredService<QueueStore>()));
        builder.Services.AddSingleton(sp => new WebhookInbox(sp.GetRequiredService<Database>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new EventLogReader(sp.GetRequiredService<Database>()));
        builder.Services.AddSingleton(sp => new RetentionPurge(sp.GetRequiredService<Database>()));

        builder.Services.AddSingleton(new SetupSettings(setupFile, SetupSettings.DataDirectoryOf(options.Database.Provider, connectionString)));
        builder.Services.AddSingleton(sp => new GitHubConnection(sp.GetRequiredService<IOptionsMonitor<ServiceOptions>>(),
            github => Connect(github, sp.GetRequiredService<ILoggerFactory>().CreateLogger("MergeQueue.GitHub"), builder.Configuration)));
        builder.Services.AddSingleton<GitHubCallRecorder>();
        builder.Services.AddSingleton<GitHubReads>();
        builder.Services.AddSingleton<IGitHub>(sp => new RecordingGitHub(() => sp.GetRequiredService<GitHubConnection>().Required, sp.GetRequiredService<GitHubCallRecorder>(), sp.GetRequiredService<GitHubReads>()));
        builder.Services.AddSingleton<RepoConfigCache>();
        // The flows see no config for a repository an admin disabled through the API: nothing starts there.
        builder.Services.AddSingleton<IRepoConfigs>(sp => sp.GetRequiredService<EnabledRepoConfigs>());
        builder.Services.AddSingleton<PermissionCache>();
        builder.Services.AddSingleton(new FlowOptions { PublicUrl = publicUrl });
        builder.Services.AddSingleton<MergeQueueFlows>();
        builder.Services.AddSingleton<DeliveryHandler>();
        builder.Services.AddSingleton<DeliveryProcessor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeliveryProcessor>());
        builder.Services.AddSingleton<QueueTicker>();
        builder.Services.AddSingleton(sp => new NotificationStore(sp.GetRequiredService<Database>()));
        builder.Services.AddSingleton<NotificationTargets>();
        builder.Services.AddSingleton<Notifier>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Notifier>());

        // Job durations are real time even when the queue's clock is not (tests fake the queue's clock).
        builder.Services.AddSingleton(sp => new RunnerJobStore(sp.GetRequiredService<Database>(), TimeProvider.System));
        builder.Services.AddSingleton<Runner.RunnerSignal>();
        builder.Services.AddSingleton<Runner.JobScheduler>();
        builder.Services.AddSingleton<Runner.StatusReconciler>();
        builder.Services.AddSingleton<Runner.JobHost>();
        if (options.Runner.Enabled) builder.Services.AddHostedService<Runner.RunnerWorker>();

        builder.Services.AddCluster(options);
        builder.Services.AddQuartz(q =>
        {
            q.UseClusteredStore(options, connectionString);
            q.ScheduleJob<PollJob>(t => t
                .WithIdentity(PollJob.Name)
                .StartAt(DateTimeOffset.UtcNow.Add(options.Poller.Interval))
                .WithSimpleSchedule(s => s.WithInterval(options.Poller.Interval).RepeatForever()));
            q.ScheduleJob<RetentionJob>(t => t
                .WithIdentity(RetentionJob.Name)
                .StartAt(DateTimeOffset.UtcNow.AddMinutes(1))
                .WithSimpleSchedule(s => s.WithInterval(RetentionJob.Interval).RepeatForever()));
        });
        builder.Services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        builder.Services.Configure<ForwardedHeadersOptions>(o => TrustProxies(o, options.KnownProxies));
        builder.Services.AddTracing(builder.Configuration);
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database");
        builder.Services.AddDashboard();
        builder.Services.AddApi(options.Api);
        builder.Services.AddGitHubSignIn(options);
        builder.Services.AddSetup();

        var app = builder.Build();
        var settingsFiles = builder.Configuration.Sources.OfType<Microsoft.Extensions.Configuration.Json.JsonConfigurationSource>()
            .Select(source => source.FileProvider?.GetFileInfo(source.Path ?? ""))
            .Where(file => file is { Exists: true })
            .Select(file => file!.PhysicalPath)
            .ToArray();
        app.Logger.LogInformation("Settings read from {SettingsFiles}; database {Provider}; GitHub at {ApiUrl} as {Credentials}; poller every {Interval}",
            settingsFiles, options.Database.Provider, options.GitHub.ApiUrl,
            setupMode ? "nobody (setup mode)" : useApp ? $"GitHub App {options.GitHub.AppId} (key {options.GitHub.PrivateKeyPath})" : "the account of MergeQueue:GitHub:Token", options.Poller.Interval);
        if (setupMode)
            app.Logger.LogWarning("MergeQueue is not set up: no GitHub credentials are configured. Open {SetupUrl} to create its GitHub App (docs/github-app.md, \"One-click setup\"); until then only /setup and /healthz answer",
                publicUrl.TrimEnd('/') + "/setup");
        // First: behind a TLS proxy the request is https (Secure cookies, sign-in callback) and the client is the proxy's client (rate limits).
        app.UseForwardedHeaders();
        app.UseSetupMode();
        app.UseHttpMetrics();
        app.MapWebhooks();
        app.MapHealthChecks("/healthz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { ResponseWriter = ClusterSetup.WriteHealthAsync });
        app.MapMetrics("/metrics");
        app.MapConfigSchema();
        app.UseGitHubSignIn();
        app.MapDashboard();
        app.UseApi();
        app.MapSetup();
        return app;
    }

    /// <summary>
    /// What the service does at every start before serving: creates or migrates the schema (CONTRACT §1)
    /// and, as a GitHub App, asks GitHub who the App is (<c>GET /app</c>), which proves the key: a key
    /// GitHub refuses stops the start with an error naming the App id and the key file. GitHub not
    /// answering does not stop it.
    /// </summary>
    public static async Task MigrateAsync(this WebApplication app)
    {
        var database = app.Services.GetRequiredService<Database>();
        await database.MigrateAsync();
        if (database is PostgresDatabase postgres)
            // Quartz creates its tables when its scheduler is made: one instance at a time.
            await using (await postgres.LockAsync("quartz-schema"))
                await app.Services.GetRequiredService<ISchedulerFactory>().GetScheduler();
        await app.Services.GetRequiredService<ClusterMember>().JoinAsync(CancellationToken.None);
        var github = app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.GitHub;
        if (GitHubConnection.HasNoCredentials(github) || !UsesGitHubApp(github)) return;
        try
        {
            var login = await app.Services.GetRequiredService<GitHubConnection>().Required.GetOwnLoginAsync(CancellationToken.None);
            app.Logger.LogInformation("GitHub App authentication: acting as {Login}", login);
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("MergeQueue:", StringComparison.Ordinal))
        {
            app.Logger.LogCritical("MergeQueue cannot start: {Message}", e.Message);
            throw;
        }
        catch (Exception e) when (e is Octokit.ApiException or HttpRequestException or TaskCanceledException)
        {
            app.Logger.LogWarning("GitHub did not answer who GitHub App {AppId} is ({Error}); starting anyway", app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.GitHub.AppId, e.Message);
        }
    }

    /// <summary>The adapter for these settings: as the App when its settings are given (CONTRACT §1), otherwise with the token.</summary>
    private static OctokitGitHub Connect(ServiceOptions.GitHubOptions settings, Microsoft.Extensions.Logging.ILogger logger, IConfiguration configuration)
    {
        // Retry waits are real time even when the queue's clock is not (tests fake the queue's clock).
        var apiUrl = new Uri(settings.ApiUrl);
        var github = UsesGitHubApp(settings)
            ? new OctokitGitHub(new GitHubApp(apiUrl, settings.AppId!, settings.PrivateKeyPath!, TimeProvider.System, logger), TimeProvider.System, logger, GitHubRetries(configuration))
            : new OctokitGitHub(apiUrl, settings.Token!, TimeProvider.System, logger, GitHubRetries(configuration));
        github.Metrics.CallCompleted += call =>
        {
            ServiceMetrics.GitHubCalls.WithLabels(call.Operation, call.Succeeded ? "ok" : "error").Inc();
            if (call.Attempts > 1) ServiceMetrics.GitHubRetries.WithLabels(call.Operation).Inc(call.Attempts - 1);
        };
        return github;
    }

    /// <summary>App settings win over a token; one of the two is required, and the App's two settings go together.</summary>
    private static bool UsesGitHubApp(ServiceOptions.GitHubOptions github)
    {
        var hasId = !string.IsNullOrWhiteSpace(github.AppId);
        var hasKey = !string.IsNullOrWhiteSpace(github.PrivateKeyPath);
        if (hasId != hasKey)
            throw new InvalidOperationException($"MergeQueue:GitHub:{(hasId ? "PrivateKeyPath" : "AppId")} is missing: GitHub App authentication needs both MergeQueue:GitHub:AppId and MergeQueue:GitHub:PrivateKeyPath.");
        if (!hasId && string.IsNullOrWhiteSpace(github.Token))
            throw new InvalidOperationException("MergeQueue:GitHub: no GitHub credentials: set MergeQueue:GitHub:AppId and MergeQueue:GitHub:PrivateKeyPath (GitHub App, docs/github-app.md), or MergeQueue:GitHub:Token (a personal access token).");
        return hasId;
    }

    /// <summary>Believes X-Forwarded-For and X-Forwarded-Proto from loopback and the proxies the operator named.</summary>
    private static void TrustProxies(ForwardedHeadersOptions forwarded, IEnumerable<string> proxies)
    {
        forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        foreach (var proxy in proxies)
        {
            if (System.Net.IPNetwork.TryParse(proxy, out var network)) forwarded.KnownIPNetworks.Add(network);
            else if (System.Net.IPAddress.TryParse(proxy, out var address)) forwarded.KnownProxies.Add(address);
            else throw new InvalidOperationException($"MergeQueue:KnownProxies: '{proxy}' is neither an IP address nor a network such as 10.0.0.0/8.");
        }
    }

    /// <summary>Retry timings can be shortened for tests and sandbox (<c>MergeQueue:GitHub:Retry:BaseDelay</c> etc.).</summary>
    private static GitHubRetryOptions GitHubRetries(IConfiguration configuration)
    {
        var section = configuration.GetSection("MergeQueue:GitHub:Retry");
        var defaults = new GitHubRetryOptions();
        return defaults with
        {
            MaxAttempts = section.GetValue("MaxAttempts", defaults.MaxAttempts),
            BaseDelay = section.GetValue("BaseDelay", defaults.BaseDelay),
            MaxBackoff = section.GetValue("MaxBackoff", defaults.MaxBackoff),
            SecondaryRateLimitWait = section.GetValue("SecondaryRateLimitWait", defaults.SecondaryRateLimitWait),
            MaxTotalWait = section.GetValue("MaxTotalWait", defaults.MaxTotalWait),
        };
    }
}
