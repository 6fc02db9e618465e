using System.Globalization;
using Dapper;
using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using Microsoft.Extensions.Time.Testing;
using static MergeQueue.Data.Tests.Build;

namespace MergeQueue.Data.Tests;

/// <summary>
/// migrate-db's copy (issue 15, "Moving up"): an installation written by the real stores on SQLite is
/// copied to a fresh PostgreSQL database, and the stores read the same data back from there.
/// </summary>
public sealed class DatabaseCopyTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly QueueId Release = new(Repo, "release");
    private static readonly RepoId Gadgets = new("acme", "gadgets");

    private readonly FakeTimeProvider _time = new(T0);
    private TestDatabase _sqlite = null!;
    private TestDatabase _postgres = null!;
    private SqliteDatabase _source = null!;
    private PostgresDatabase _target = null!;

    [SetUp]
    public void SetUp()
    {
        _sqlite = TestDatabase.Create("sqlite");
        _postgres = TestDatabase.Create("postgres");
        _source = (SqliteDatabase)_sqlite.Open(_time);
        _target = (PostgresDatabase)_postgres.Open(_time);
    }

    [TearDown]
    public void TearDown()
    {
        _sqlite.Dispose();
        _postgres.Dispose();
    }

    /// <summary>What the installation handed out, to look for on the other side.</summary>
    private sealed record Installation(string UserKey, long LastEventId);

    /// <summary>
    /// A running installation: requests active and finished with their attempts and history, deliveries
    /// handled and pending, keys (one revoked), a user, a disabled repository, notifications with their
    /// tries, a stuck target, a freeze and a try build.
    /// </summary>
    private async Task<Installation> InstallationAsync()
    {
        await _source.MigrateAsync();
        var queue = new QueueStore(_source, _time);
        var finished = new MergeAttempt(await queue.NextAttemptIdAsync(Ct), Queue, MergeAttemptState.Merged, T0)
        {
            BaseSha = Sha('b'),
            StagingSha = Sha('s'),
            Reason = "merged",
        };
        var testing = new MergeAttempt(await queue.NextAttemptIdAsync(Ct), Queue, MergeAttemptState.Testing, T0.AddMinutes(5))
        {
            BaseSha = Sha('s'),
            StagingSha = Sha('t'),
            AheadId = finished.Id,
            FlakeRetries = 1,
            RequiredChecks = ["ci", "lint"],
        };
        var merged = PullRequest.Restore(0, Repo, 1, "main", Sha('1'), PullRequestState.Merged, null, 0, T0, T0.AddMinutes(4), T0, "alice", "First", "bob", "merged", Sha('m'), 0);
        var merging = PullRequest.Restore(0, Repo, 3, "main", Sha('3'), PullRequestState.Merging, testing.Id, 2, T0, T0.AddMinutes(5), T0, "alice", "Third", "carol", "testing", null, 0);
        merging.LandedSha = Sha('l');
        var held = PullRequest.Restore(0, Repo, 4, "release", Sha('4'), PullRequestState.Queued, null, 0, T0, T0, T0, "bob", "Fourth", "bob", "held back: draft", null, 0);
        held.Held = true;
        await queue.SaveAsync(new Changes { Attempts = { finished, testing }, PullRequests = { merged, merging, held, Requested(5) } }, Cause.Test(), Ct);
        var failed = PullRequest.Create(Repo, 2, "main", Sha('2'), 0, T0);
        await queue.SaveAsync(new Changes { PullRequests = { failed } }, Cause.Command("d-1", "alice"), Ct);
        failed.Fail("checks failed", T0.AddMinutes(1));
        await queue.SaveAsync(new Changes { PullRequests = { failed } }, Cause.Poll("tick-1"), Ct);
        await queue.SetFreezeAsync(new QueueFreeze(Release, "carol", T0, "release day"), Ct);
        await queue.SaveTryAsync(new TryBuild(Repo, 4, "release", Sha('4'), Sha('y'), TryState.Running, "bob", T0, "running"), Ct);

        var inbox = new WebhookInbox(_source, _time);
        await inbox.TryAcceptAsync(new WebhookDelivery("d-1", "issue_comment", "created", Repo, """{"comment":{"body":"@mergequeue merge ✓"}}""", T0), Ct);
        await inbox.TryAcceptAsync(new WebhookDelivery("d-2", "pull_request", "synchronize", Repo, """{"number":3}""", T0.AddSeconds(1)), Ct);
        await inbox.TryAcceptAsync(new WebhookDelivery("d-3", "ping", null, null, "{}", T0.AddSeconds(2)), Ct);
        await inbox.MarkProcessedAsync("d-1", "handled", null, Ct);
        await inbox.ScheduleRetryAsync("d-2", "GitHub unavailable", T0.AddMinutes(1), holds: true, Ct);

        var keys = new ApiKeyStore(_source, _time);
        var (_, userKey) = await keys.CreateKeyAsync("ci", ApiRoles.User, ["acme/widgets"], "alice", Ct);
        var (old, _) = await keys.CreateKeyAsync("old", ApiRoles.Admin, [], "alice", Ct);
        await keys.RevokeKeyAsync(old.Id, Ct);
        await keys.CreateUserAsync("Alice", ApiRoles.Admin, [], Ct);
        await keys.SetRepoEnabledAsync(Gadgets, false, "alice", Ct);

        var notifications = new NotificationStore(_source);
        var (_, upTo) = await notifications.ReadEventsAsync(100, Ct);
        await notifications.EnqueueAsync(
        [
            new NewNotification("event_log:1", "merged", Repo, "main", 1, "webhook", "ops", """{"event":"merged"}"""),
            new NewNotification("event_log:1", "merged", Repo, "main", 1, "slack", "team", """{"text":"merged"}"""),
        ], upTo, T0, Ct);
        var first = (await notifications.DueAsync(T0, 10, Ct))[0];
        await notifications.RecordAttemptAsync(new NotificationAttempt(first.Id, T0, 500, "HTTP 500", 12), delivered: false, T0.AddSeconds(10), Ct);
        await notifications.RecordAttemptAsync(new NotificationAttempt(first.Id, T0.AddSeconds(10), 200, null, 8), delivered: true, null, Ct);
        await notifications.MarkStuckAsync(Repo, "release", null, T0, [new NewNotification("stuck:acme/widgets:release:0", "stuck", Repo, "release", null, "webhook", "ops", "{}")], Ct);

        await using var connection = await _source.OpenAsync();
        // The service's sign-in keys (DatabaseKeyRepository, encrypted XML).
        await connection.ExecuteAsync("INSERT INTO data_protection_key (name, xml, created_at) VALUES ('key-1', 'encrypted', 0)");
        // Retention took the newest event row since: its id must not be handed out again.
        var lastEventId = await connection.ExecuteScalarAsync<long>("SELECT max(id) FROM event_log");
        await connection.ExecuteAsync("DELETE FROM event_log WHERE id = @lastEventId", new { lastEventId });
        return new Installation(userKey, lastEventId);
    }

    [Test]
    public async Task Copy_ARunningInstallation_CopiesEveryTableInForeignKeyOrderAndEveryRowReadsBackTheSame()
    {
        await InstallationAsync();

        var copied = await new DatabaseCopy(_source, _target).CopyAsync(Ct);

        var names = copied.Select(t => t.Name).ToList();
        IReadOnlyList<string> tables;
        await using (var connection = await _source.OpenAsync())
            tables = (await connection.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")).AsList();
        names.Should().BeEquivalentTo(tables.Except(["schema_migrations", "lease", "service_instance"]), "every table but the history and the running processes' rows");
        names.IndexOf("merge_attempt").Should().BeLessThan(names.IndexOf("pull_request"));
        names.IndexOf("notification").Should().BeLessThan(names.IndexOf("notification_attempt"));
        copied.ToDictionary(t => t.Name, t => t.Rows).Should().Contain(new Dictionary<string, long>
        {
            ["pull_request"] = 5,
            ["merge_attempt"] = 2,
            ["webhook_delivery"] = 3,
            ["api_key"] = 2,
            ["api_user"] = 1,
            ["repo_setting"] = 1,
            ["notification"] = 3,
            ["notification_attempt"] = 2,
            ["notification_stuck"] = 1,
            ["queue_freeze"] = 1,
            ["try_build"] = 1,
            ["attempt_sequence"] = 1,
            ["notification_cursor"] = 1,
            ["data_protection_key"] = 1,
        });
        foreach (var table in copied)
            (await RowsAsync(_target, table.Name)).Should().Equal(await RowsAsync(_source, table.Name), $"{table.Name} reads back the same");
        (await RowsAsync(_target, "attempt_sequence")).Should().Equal("merge_attempt|2");
    }

    [Test]
    public async Task Copy_ARunningInstallation_TheStoresReadTheSameDataFromPostgres()
    {
        var installation = await InstallationAsync();

        await new DatabaseCopy(_source, _target).CopyAsync(Ct);

        var (from, to) = (new QueueStore(_source, _time), new QueueStore(_target, _time));
        (await to.GetActivePullRequestsAsync(null, Ct)).Should().BeEquivalentTo(await from.GetActivePullRequestsAsync(null, Ct), o => o.WithStrictOrdering());
        (await to.GetActivePullRequestsAsync(null, Ct)).Select(p => p.Number).Should().Equal(3, 4, 5);
        foreach (var number in new[] { 1, 2 })
            (await to.GetPullRequestHistoryAsync(Repo, number, Ct)).Should().BeEquivalentTo(await from.GetPullRequestHistoryAsync(Repo, number, Ct));
        (await to.GetActiveAttemptsAsync(null, Ct)).Should().BeEquivalentTo(await from.GetActiveAttemptsAsync(null, Ct)).And.ContainSingle();
        (await to.GetAttemptAsync(new AttemptId(1), Ct)).Should().BeEquivalentTo(await from.GetAttemptAsync(new AttemptId(1), Ct));
        (await to.GetFreezeAsync(Release, Ct)).Should().Be(new QueueFreeze(Release, "carol", T0, "release day"));
        (await to.GetTryAsync(Repo, 4, Ct)).Should().Be(await from.GetTryAsync(Repo, 4, Ct)).And.NotBeNull();

        var (fromInbox, toInbox) = (new WebhookInbox(_source, _time), new WebhookInbox(_target, _time));
        foreach (var id in new[] { "d-1", "d-2", "d-3" })
            (await toInbox.GetAsync(id, Ct)).Should().Be(await fromInbox.GetAsync(id, Ct));
        (await toInbox.GetUnprocessedAsync(10, Ct)).Should().Equal(await fromInbox.GetUnprocessedAsync(10, Ct));

        var (fromKeys, toKeys) = (new ApiKeyStore(_source, _time), new ApiKeyStore(_target, _time));
        (await toKeys.FindKeyAsync(installation.UserKey, Ct)).Should().BeEquivalentTo(await fromKeys.FindKeyAsync(installation.UserKey, Ct)).And.NotBeNull();
        (await toKeys.ListKeysAsync(Ct)).Should().BeEquivalentTo(await fromKeys.ListKeysAsync(Ct));
        (await toKeys.FindUserByLoginAsync("alice", Ct)).Should().BeEquivalentTo(await fromKeys.FindUserByLoginAsync("alice", Ct));
        (await toKeys.IsRepoEnabledAsync(Gadgets, Ct)).Should().BeFalse();
        (await toKeys.IsRepoEnabledAsync(Repo, Ct)).Should().BeTrue();

        var (fromOutbox, toOutbox) = (new NotificationStore(_source), new NotificationStore(_target));
        (await toOutbox.RecentAsync(10, Ct)).Should().BeEquivalentTo(await fromOutbox.RecentAsync(10, Ct));
        (await toOutbox.StuckAsync(Ct)).Should().Equal(await fromOutbox.StuckAsync(Ct));
        (await toOutbox.ReadEventsAsync(100, Ct)).ReadUpTo.Should().BeNull("the cursor came along: nothing is announced twice");

        (await new DashboardQueries(_target).RepositoriesAsync(Ct)).Should().Equal(await new DashboardQueries(_source).RepositoriesAsync(Ct)).And.Contain(Repo);
    }

    [Test]
    public async Task Copy_ARunningInstallation_NewIdsContinueAfterTheCopiedOnes()
    {
        var installation = await InstallationAsync();
        long maxPullRequestId;
        await using (var connection = await _source.OpenAsync())
            maxPullRequestId = await connection.ExecuteScalarAsync<long>("SELECT max(id) FROM pull_request");

        await new DatabaseCopy(_source, _target).CopyAsync(Ct);

        var queue = new QueueStore(_target, _time);
        (await queue.NextAttemptIdAsync(Ct)).Should().Be(new AttemptId(3));
        var pr = PullRequest.Create(Repo, 6, "main", Sha('6'), 0, T0);
        await queue.SaveAsync(new Changes { PullRequests = { pr } }, Cause.Test(), Ct);
        pr.Id.Should().Be(maxPullRequestId + 1);
        (await new ApiKeyStore(_target, _time).CreateKeyAsync("new", ApiRoles.ReadOnly, [], "alice", Ct)).Record.Id.Should().Be(3);
        (await new WebhookInbox(_target, _time).TryAcceptAsync(new WebhookDelivery("d-4", "ping", null, null, "{}", T0), Ct)).Should().BeTrue();
        await using var target = await _target.OpenAsync();
        (await target.ExecuteScalarAsync<long>("SELECT id FROM webhook_delivery WHERE delivery_id = 'd-4'")).Should().Be(4);
        (await target.ExecuteScalarAsync<long>("SELECT min(id) FROM event_log WHERE pr_number = 6")).Should().Be(installation.LastEventId + 1,
            "an event id retention deleted is not handed out again (the notification cursor may be past it)");
        var (events, _) = await new NotificationStore(_target).ReadEventsAsync(100, Ct);
        events.Should().BeEmpty("a new request announces nothing, but the cursor sees it");
    }

    [Test]
    public async Task Copy_SourceAtAnOlderSchema_MigratesItFirst()
    {
        await _source.MigrateAsync(_source.Migrations, upTo: 4, Ct);
        await using (var connection = await _source.OpenAsync())
            await connection.ExecuteAsync(
                """
                INSERT INTO merge_attempt (id, owner, repo, target_branch, state, created_at, timestamp, version) VALUES (7, 'acme', 'widgets', 'main', 'Testing', 0, 0, 1);
                INSERT INTO pull_request (owner, repo, number, target_branch, commit_hash, state, merge_attempt, requested_at, timestamp, version)
                    VALUES ('acme', 'widgets', 9, 'main', 'abc', 'Merging', 7, 0, 0, 1);
                UPDATE attempt_sequence SET value = 7;
                """);

        var copied = await new DatabaseCopy(_source, _target).CopyAsync(Ct);

        (await _source.GetAppliedMigrationsAsync()).Should().Equal(_source.Migrations.Select(m => m.Version), "the source was brought up to date first");
        copied.Single(t => t.Name == "pull_request").Rows.Should().Be(1);
        var pr = (await new QueueStore(_target, _time).GetActivePullRequestsAsync(null, Ct)).Single();
        (pr.Number, pr.State, pr.AttemptId, pr.Held).Should().Be((9, PullRequestState.Merging, new AttemptId(7), false));
        (await new QueueStore(_target, _time).NextAttemptIdAsync(Ct)).Should().Be(new AttemptId(8));
    }

    [Test]
    public async Task Copy_TargetAlreadyHoldsData_RefusesAndWritesNothing()
    {
        var installation = await InstallationAsync();
        await _target.MigrateAsync();
        var (existing, _) = await new ApiKeyStore(_target, _time).CreateKeyAsync("already here", ApiRoles.Admin, [], "dave", Ct);

        var copy = () => new DatabaseCopy(_source, _target).CopyAsync(Ct);

        (await copy.Should().ThrowAsync<CopyRefusedException>()).Which.Message.Should().Contain("already holds data: api_key (1 rows)");
        var keys = new ApiKeyStore(_target, _time);
        (await keys.ListKeysAsync(Ct)).Should().ContainSingle().Which.Should().BeEquivalentTo(existing);
        (await keys.FindKeyAsync(installation.UserKey, Ct)).Should().BeNull();
        (await new QueueStore(_target, _time).GetActivePullRequestsAsync(null, Ct)).Should().BeEmpty();
        (await new QueueStore(_target, _time).NextAttemptIdAsync(Ct)).Should().Be(new AttemptId(1), "the counters are untouched");
    }

    [Test]
    public async Task Copy_TargetHoldsSomeoneElsesTables_RefusesBeforeMigratingIt()
    {
        await InstallationAsync();
        await using (var connection = await _target.OpenAsync())
            await connection.ExecuteAsync("CREATE TABLE invoices (id BIGINT PRIMARY KEY)");

        var copy = () => new DatabaseCopy(_source, _target).CopyAsync(Ct);

        (await copy.Should().ThrowAsync<CopyRefusedException>()).Which.Message.Should().Contain("not MergeQueue's (invoices)");
        (await _target.GetAppliedMigrationsAsync()).Should().BeEmpty();
    }

    [Test]
    public async Task Copy_AValueThatDoesNotFit_FailsByNameAndLeavesTheTargetEmpty()
    {
        await InstallationAsync();
        // SQLite keeps whatever it is given; PostgreSQL's integer column cannot take it.
        await using (var connection = await _source.OpenAsync())
            await connection.ExecuteAsync("UPDATE pull_request SET held = 'yes' WHERE number = 5");

        var copy = () => new DatabaseCopy(_source, _target).CopyAsync(Ct);

        (await copy.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("pull_request.held holds yes (String)");
        await using var target = await _target.OpenAsync();
        foreach (var table in new[] { "merge_attempt", "pull_request", "api_key", "event_log" })
            (await target.ExecuteScalarAsync<long>($"SELECT count(*) FROM {table}")).Should().Be(0, $"{table} was rolled back");
        (await new QueueStore(_target, _time).NextAttemptIdAsync(Ct)).Should().Be(new AttemptId(1));
    }

    /// <summary>A table's rows as text, in the SQLite column order, sorted: the same on both sides when nothing was lost or changed.</summary>
    private async Task<List<string>> RowsAsync(Database db, string table)
    {
        IReadOnlyList<string> columns;
        await using (var sqlite = await _source.OpenAsync())
            columns = (await sqlite.QueryAsync<string>("SELECT name FROM pragma_table_info(@table) ORDER BY cid", new { table })).AsList();
        await using var connection = await db.OpenAsync();
        var rows = await connection.QueryAsync($"SELECT {string.Join(", ", columns.Select(c => $"\"{c}\""))} FROM {table}");
        return rows
            .Select(row => string.Join("|", ((IDictionary<string, object?>)row).Values.Select(v => v is null ? "NULL" : Convert.ToString(v, CultureInfo.InvariantCulture))))
            .Order(StringComparer.Ordinal)
            .ToList();
    }
}
