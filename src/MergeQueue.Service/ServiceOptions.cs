namespace MergeQueue.Service;

/// <summary>The <c>MergeQueue</c> section of the settings (CONTRACT §1). Every default lives here.</summary>
public sealed class ServiceOptions
{
    public const string Section = "MergeQueue";

    public DatabaseOptions Database { get; set; } = new();
    public GitHubOptions GitHub { get; set; } = new();
    public BotOptions Bot { get; set; } = new();
    /// <summary>Base for status <c>target_url</c> links; empty means the first listen URL.</summary>
    public string? PublicUrl { get; set; }
    public PollerOptions Poller { get; set; } = new();
    /// <summary>
    /// Reverse proxies (addresses, or networks as <c>10.0.0.0/8</c>) whose <c>X-Forwarded-For</c> and
    /// <c>X-Forwarded-Proto</c> are believed, besides loopback, which always is.
    /// </summary>
    public string[] KnownProxies { get; set; } = [];
    public ApiOptions Api { get; set; } = new();
    public DashboardOptions Dashboard { get; set; } = new();
    public WebhookOptions Webhooks { get; set; } = new();
    public RetentionOptions Retention { get; set; } = new();
    public NotificationOptions Notifications { get; set; } = new();
    public ClusterOptions Cluster { get; set; } = new();
    public RunnerOptions Runner { get; set; } = new();

    /// <summary>The built-in runner (docs/runner.md): runs the repositories' <c>jobs:</c> in this process.</summary>
    public sealed class RunnerOptions
    {
        public bool Enabled { get; set; }
        /// <summary>Jobs this process runs at once; 0: none (external runner processes run them, docs/runner.md).</summary>
        public int Slots { get; set; } = 1;
        /// <summary>
        /// A running job whose runner (a slot of an instance, or an external runner process) sent no heartbeat for
        /// this long is queued again; runners renew theirs every quarter of it.
        /// </summary>
        public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromMinutes(1);
        /// <summary>Where each job gets its fresh directory; empty: the system's temporary directory.</summary>
        public string? WorkDirectory { get; set; }
        /// <summary>How often an idle slot looks for jobs queued by another instance (this one's wake it at once).</summary>
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);
        /// <summary>A job's address space limit (<c>ulimit -v</c>) in MiB; 0: none (runtimes such as the JVM and .NET reserve much more than they use).</summary>
        public int MemoryLimitMb { get; set; }
        /// <summary>A job's CPU time limit (<c>ulimit -t</c>) in seconds; 0: none (the job's <c>timeout</c> bounds its wall time anyway).</summary>
        public int CpuLimitSeconds { get; set; }
        /// <summary>Log kept per try; beyond it output is dropped (and the log says so).</summary>
        public int MaxLogBytes { get; set; } = 8 * 1024 * 1024;
    }

    public sealed class DatabaseOptions
    {
        public string Provider { get; set; } = "sqlite";
    }

    /// <summary>Instances sharing one database (docs/operations.md, "Scaling out").</summary>
    public sealed class ClusterOptions
    {
        /// <summary>This instance's name in the cluster view and on its locks; default: the host name and a random suffix.</summary>
        public string? InstanceId { get; set; }
        /// <summary>How often an instance says it is alive.</summary>
        public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(5);
        /// <summary>How long a lease (a repository's delivery lane, the notifier) outlives its holder's last renewal: a dead instance's work moves after this.</summary>
        public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);
    }

    public sealed class GitHubOptions
    {
        public string ApiUrl { get; set; } = "https://api.github.com/";
        public string? Token { get; set; }
        public string? WebhookSecret { get; set; }
        public string? AppId { get; set; }
        public string? PrivateKeyPath { get; set; }
        /// <summary>The App's slug, written by /setup (informational: the service asks GitHub who it is).</summary>
        public string? AppSlug { get; set; }
        public string? OAuthClientId { get; set; }
        public string? OAuthClientSecret { get; set; }
        /// <summary>GitHub's web root for the OAuth pages; empty: derived from ApiUrl (github.com for api.github.com).</summary>
        public string? WebUrl { get; set; }
    }

    public sealed class BotOptions
    {
        public string Name { get; set; } = "mergequeue";
    }

    public sealed class PollerOptions
    {
        public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(10);
    }

    public sealed class ApiOptions
    {
        public string? AdminKey { get; set; }
        /// <summary>Requests a minute each API key may make (HTTP 429 with <c>Retry-After</c> beyond).</summary>
        public int RequestsPerMinute { get; set; } = 120;
        /// <summary>Wrong keys a client address may send in a minute; beyond, HTTP 429 with <c>Retry-After</c> until the minute is over.</summary>
        public int FailedAttemptsPerMinute { get; set; } = 10;
    }

    public sealed class RetentionOptions
    {
        /// <summary>Handled deliveries and event log rows older than this are purged (what active PRs need is kept).</summary>
        public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(30);
    }

    public sealed class DashboardOptions
    {
        public bool Public { get; set; } = true;
    }

    /// <summary>How accepted deliveries are handled (docs/operations.md, "Dead deliveries").</summary>
    public sealed class WebhookOptions
    {
        /// <summary>Handling tries before a delivery is parked as dead.</summary>
        public int MaxAttempts { get; set; } = 8;
        /// <summary>The wait after the first failed try; it doubles per try up to <see cref="MaxRetryDelay"/>.</summary>
        public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(30);
        public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(30);
        /// <summary>Repositories whose deliveries are handled side by side.</summary>
        public int Lanes { get; set; } = 8;
    }

    /// <summary>
    /// Outgoing webhooks and Slack incoming webhooks (docs/operations.md, "Notifications"). Targets are
    /// named here with their URLs and secrets; a repository's <c>notify:</c> picks them by name.
    /// </summary>
    public sealed class NotificationOptions
    {
        public List<WebhookTarget> Webhooks { get; set; } = [];
        public List<SlackTarget> Slack { get; set; } = [];
        /// <summary>Delivery tries before a message is given up (dead); every try is in the delivery log.</summary>
        public int MaxAttempts { get; set; } = 8;
        /// <summary>The wait after the first failed try; it doubles per try up to <see cref="MaxRetryDelay"/>.</summary>
        public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(10);
        public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(10);
        /// <summary>How long one try may take before it counts as failed.</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
        /// <summary>How often the event log is read for new events to announce.</summary>
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
        /// <summary>How often targets are checked for being stuck (<c>notify.stuck_after</c>).</summary>
        public TimeSpan StuckCheckInterval { get; set; } = TimeSpan.FromMinutes(1);
    }

    /// <summary>An outgoing webhook: a JSON POST signed with <see cref="Secret"/> (<c>X-MergeQueue-Signature-256</c>).</summary>
    public sealed class WebhookTarget
    {
        public string Name { get; set; } = "";
        public string Url { get; set; } = "";
        public string Secret { get; set; } = "";
        /// <summary>true: hears about every managed repository, whether or not its <c>notify:</c> names it.</summary>
        public bool AllRepositories { get; set; }
    }

    /// <summary>A Slack incoming webhook: a POST of <c>{"text": ...}</c>.</summary>
    public sealed class SlackTarget
    {
        public string Name { get; set; } = "";
        public string Url { get; set; } = "";
        public bool AllRepositories { get; set; }
    }
}
