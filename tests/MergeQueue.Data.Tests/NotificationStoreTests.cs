using Dapper;
using MergeQueue.Core;

namespace MergeQueue.Data.Tests;

/// <summary>The notification outbox: the cursor reads only what is announced, a message is queued once, tries are logged, retention takes finished ones.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class NotificationStoreTests(string provider)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RepoId Repo = new("acme", "widgets");

    private static NewNotification Message(string key) => new(key, "merged", Repo, "main", 1, "webhook", "ops", "{}");

    [Test]
    public async Task Cursor_StartsAtTheEndOfTheLog_ThenReadsOnlyAnnouncedRows_AndQueuesEachOnce()
    {
        using var file = TestDatabase.Create(provider);
        var db = file.Open();
        // SQLite: history written before 0008 added notifications is not announced. PostgreSQL's history starts with the whole schema.
        if (provider == "sqlite")
        {
            await db.MigrateAsync(db.Migrations, upTo: 7, CancellationToken.None);
            await using (var connection = await db.OpenAsync())
                await connection.ExecuteAsync("INSERT INTO event_log (at, owner, repo, pr_number, kind, entity, to_state, cause_kind) VALUES (0, 'acme', 'widgets', 1, 'transition', 'pull_request', 'Merged', 'poll')");
        }
        await db.MigrateAsync();
        var store = new NotificationStore(db);
        (await store.ReadEventsAsync(10)).ReadUpTo.Should().BeNull("history before the upgrade is not announced");

        await using (var connection = await db.OpenAsync())
            await connection.ExecuteAsync(
                """
                INSERT INTO event_log (at, owner, repo, pr_number, kind, entity, to_state, cause_kind) VALUES
                    (1, 'acme', 'widgets', 2, 'transition', 'pull_request', 'Queued', 'poll'),
                    (2, 'acme', 'widgets', 2, 'github', NULL, NULL, 'poll'),
                    (3, 'acme', 'widgets', 2, 'transition', 'pull_request', 'Failed', 'poll'),
                    (4, 'acme', 'widgets', NULL, 'freeze', NULL, 'main', 'command');
                """);
        var (events, upTo) = await store.ReadEventsAsync(10);
        events.Select(e => (e.Kind, e.To)).Should().Equal(("transition", "Failed"), ("freeze", "main"));
        var last = provider == "sqlite" ? 5 : 4; // SQLite's log holds the row from before the upgrade
        upTo.Should().Be(last);

        await store.EnqueueAsync([Message($"event_log:{last}"), Message($"event_log:{last}")], upTo, Now);
        await store.EnqueueAsync([Message($"event_log:{last}")], upTo, Now);
        (await store.ReadEventsAsync(10)).ReadUpTo.Should().BeNull();
        (await store.DueAsync(Now, 10)).Should().ContainSingle();
    }

    [Test]
    public async Task RecordAttempt_FailedThenDelivered_LogsEveryTry_AndRetentionTakesItLater()
    {
        using var file = TestDatabase.Create(provider);
        var db = await file.MigratedAsync();
        var store = new NotificationStore(db);
        await store.EnqueueAsync([Message("a"), Message("b")], null, Now.AddDays(-40));
        var (first, second) = ((await store.DueAsync(Now, 10))[0], (await store.DueAsync(Now, 10))[1]);

        await store.RecordAttemptAsync(new NotificationAttempt(first.Id, Now, 500, "HTTP 500", 3), delivered: false, retryAt: Now.AddSeconds(10));
        (await store.DueAsync(Now, 10)).Select(n => n.Id).Should().Equal(second.Id);
        (await store.NextDueAsync()).Should().Be(Now.AddDays(-40));
        await store.RecordAttemptAsync(new NotificationAttempt(first.Id, Now.AddSeconds(10), 200, null, 2), delivered: true, retryAt: null);

        var (n, attempts) = (await store.RecentAsync(10)).Single(r => r.Notification.Id == first.Id);
        (n.State, n.Attempts, n.LastError).Should().Be((NotificationStore.Delivered, 2, (string?)null));
        attempts.Select(a => a.StatusCode).Should().Equal(500, 200);

        var purged = await new RetentionPurge(db).PurgeAsync(Now.AddDays(-30));
        purged.Notifications.Should().Be(1, "the pending one stays");
        (await store.RecentAsync(10)).Select(r => r.Notification.Id).Should().Equal(second.Id);
        await using var connection = await db.OpenAsync();
        (await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM notification_attempt")).Should().Be(0, "tries go with their notification");
    }
}
