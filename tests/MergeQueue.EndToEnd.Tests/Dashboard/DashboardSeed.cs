using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Data;
using MergeQueue.Service;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.EndToEnd.Tests.Dashboard;

/// <summary>
/// A database with three days of history written through the real store (so event_log rows are the
/// ones the flows write), and the service started on it, its clock pinned at the end of the history.
/// </summary>
public sealed class DashboardSeed : IAsyncDisposable
{
    public static readonly RepoId Repo = new("acme", "rockets");
    public static readonly DateTimeOffset Day1 = new(2026, 1, 10, 9, 0, 0, TimeSpan.Zero);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mq-dash-" + Guid.NewGuid().ToString("N")[..10]);
    private QueueStore _store = null!;
    private WebhookInbox _inbox = null!;
    private long _attempts;

    public FakeTimeProvider Clock { get; } = new(Day1);
    public WebApplication Service { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    private string? _postgres;

    /// <param name="provider">"sqlite" (a file) or "postgres" (a database of its own on the run's server).</param>
    public static async Task<DashboardSeed> StartAsync(bool dashboardPublic = true, string provider = "sqlite")
    {
        var seed = new DashboardSeed();
        Directory.CreateDirectory(seed._dir);
        if (provider == "postgres") seed._postgres = await (await MergeQueue.Tests.Shared.PostgresServer.SharedAsync()).CreateDatabaseAsync("dashboard");
        Database database = seed._postgres is { } connection
            ? new PostgresDatabase(connection, seed.Clock)
            : SqliteDatabase.ForFile(Path.Combine(seed._dir, "mergequeue.db"), time: seed.Clock);
        await database.MigrateAsync();
        seed._store = new QueueStore(database, seed.Clock);
        seed._inbox = new WebhookInbox(database, seed.Clock);
        await seed.WriteHistoryAsync();

        seed.Service = ServiceHost.Build([], new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["ConnectionStrings:MergeQueue"] = seed._postgres ?? ((SqliteDatabase)database).ConnectionString,
            ["MergeQueue:Database:Provider"] = provider,
            // Nothing listens here: pages never call GitHub, and the queue has read nothing, which the pages say.
            ["MergeQueue:GitHub:ApiUrl"] = "http://127.0.0.1:9/",
            ["MergeQueue:GitHub:Token"] = "t",
            ["MergeQueue:GitHub:WebhookSecret"] = "s",
            ["MergeQueue:GitHub:Retry:MaxAttempts"] = "1",
            ["MergeQueue:Poller:Interval"] = "01:00:00",
            ["MergeQueue:Dashboard:Public"] = dashboardPublic ? "true" : "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
        }, seed.Clock);
        await seed.Service.MigrateAsync();
        await seed.Service.StartAsync();
        var address = seed.Service.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        seed.Http = new HttpClient { BaseAddress = new Uri(address.TrimEnd('/') + "/") };
        return seed;
    }

    /// <summary>
    /// Day 1: #1 merged. Day 2: #2 failed its checks. Day 3: #3 merged; then the queue as it stands:
    /// #12 (p=0, queued first), #11 (p=5, queued last), #10 (p=0), and #13 requested, waiting for approval;
    /// main frozen by dora.
    /// </summary>
    private async Task WriteHistoryAsync()
    {
        await MergedAsync(1, "Add boosters", "alice", succeed: true);
        Clock.SetUtcNow(Day1.AddDays(1));
        await MergedAsync(2, "Break the fins", "carol", succeed: false);
        Clock.SetUtcNow(Day1.AddDays(2));
        await MergedAsync(3, "Paint the nose", "alice", succeed: true);

        Clock.Advance(TimeSpan.FromHours(1));
        foreach (var (number, priority) in new[] { (12, 0), (11, 5), (10, 0) })
        {
            var pr = await RequestAsync(number, $"Queued change {number}", "bob", priority);
            pr.Initiate(Clock.GetUtcNow());
            await SaveAsync(Cause.Delivery($"d-{number}-review"), pr);
            Clock.Advance(TimeSpan.FromMinutes(2));
        }
        var waiting = await RequestAsync(13, "Needs a review", "carol", 0);
        waiting.Reason = "waiting for 1 more approving review";
        await SaveAsync(Cause.Delivery("d-13-touch"), waiting);
        await _store.SetFreezeAsync(new QueueFreeze(new QueueId(Repo, "main"), "dora", Clock.GetUtcNow(), "release in progress"), CancellationToken.None);
        Clock.Advance(TimeSpan.FromMinutes(5));
    }

    private async Task<PullRequest> RequestAsync(int number, string title, string author, int priority)
    {
        var delivery = $"d-{number}-merge";
        await DeliveryAsync(delivery, "issue_comment", "created", "{\"action\":\"created\",\"issue\":{\"number\":" + number + "},\"comment\":{\"body\":\"@mergequeue merge p=" + priority + "\",\"user\":{\"login\":\"bob\"}}}");
        var pr = PullRequest.Create(Repo, number, "main", new CommitSha(new string((char)('a' + number % 6), 40)), priority, Clock.GetUtcNow());
        pr.Title = title;
        pr.Author = author;
        pr.RequestedBy = "bob";
        await SaveAsync(Cause.Command(delivery, "bob"), pr);
        return pr;
    }

    private async Task MergedAsync(int number, string title, string author, bool succeed)
    {
        var pr = await RequestAsync(number, title, author, 0);
        Clock.Advance(TimeSpan.FromMinutes(1));
        pr.Initiate(Clock.GetUtcNow());
        await SaveAsync(Cause.Delivery($"d-{number}-review"), pr,
            new EventLogEntry(Clock.GetUtcNow(), Repo, number, null, "github", null, null, $"set-status mergequeue pending on {pr.HeadSha.Short}: queued (position 1)", Cause.Delivery($"d-{number}-review")));
        await DeliveryAsync($"d-{number}-review", "pull_request_review", "submitted", "{\"action\":\"submitted\"}");

        Clock.Advance(TimeSpan.FromMinutes(10));
        var tick = Cause.Poll($"tick-{number}");
        var attempt = MergeAttempt.Create(new AttemptId(++_attempts), new QueueId(Repo, "main"), MergeAttemptState.Constructing, null, null, Clock.GetUtcNow());
        pr.Batch(attempt.Id, Clock.GetUtcNow());
        attempt.Built(new CommitSha(new string('0', 40)), new CommitSha(new string('5', 39) + number), Clock.GetUtcNow());
        await SaveAsync(tick, pr, attempt);

        Clock.Advance(TimeSpan.FromMinutes(20));
        var ci = Cause.Delivery($"d-{number}-status");
        await DeliveryAsync(ci.Id!, "status", null, "{\"state\":\"" + (succeed ? "success" : "failure") + "\"}");
        if (succeed)
        {
            attempt.ChecksPassed(Clock.GetUtcNow());
            attempt.Completed(Clock.GetUtcNow());
            pr.MarkMerged(attempt.StagingSha!.Value, "Merged", Clock.GetUtcNow());
        }
        else
        {
            attempt.ChecksFailed("Checks failed: ci", Clock.GetUtcNow());
            attempt.Blame("Checks failed: ci", Clock.GetUtcNow());
            pr.Fail("Checks failed: ci", Clock.GetUtcNow());
        }
        await SaveAsync(ci, pr, attempt,
            new EventLogEntry(Clock.GetUtcNow(), Repo, null, null, "github", null, null, $"set-status mergequeue {(succeed ? "success" : "failure")} on {pr.HeadSha.Short}", ci));
    }

    private async Task DeliveryAsync(string id, string @event, string? action, string payload)
    {
        await _inbox.TryAcceptAsync(new WebhookDelivery(id, @event, action, Repo, payload, Clock.GetUtcNow()));
        await _inbox.MarkProcessedAsync(id, "handled");
    }

    private Task SaveAsync(Cause cause, PullRequest pr, MergeAttempt? attempt = null, EventLogEntry? effect = null)
    {
        var changes = new Changes();
        changes.PullRequests.Add(pr);
        if (attempt is not null) changes.Attempts.Add(attempt);
        if (effect is not null) changes.Events.Add(effect);
        return _store.SaveAsync(changes, cause, CancellationToken.None);
    }

    private Task SaveAsync(Cause cause, PullRequest pr, EventLogEntry effect) => SaveAsync(cause, pr, null, effect);

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Service is not null)
        {
            await Service.StopAsync();
            await Service.DisposeAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_postgres is not null) await (await MergeQueue.Tests.Shared.PostgresServer.SharedAsync()).DropDatabaseAsync(_postgres);
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // a file still open is the OS's to clean
        }
    }
}
