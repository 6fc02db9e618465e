using Dapper;

namespace MergeQueue.Data.Tests;

/// <summary>Retention: old handled rows go; what is unprocessed, dead-lettered, recent, or needed by an active PR or attempt stays.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class RetentionPurgeTests(string provider)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly long Old = Now.AddDays(-40).ToUnixTimeMilliseconds(), Recent = Now.AddDays(-1).ToUnixTimeMilliseconds();
    [Test]
    public async Task Purge_RemovesOldHandledRows_KeepsActiveUnprocessedDeadAndRecentOnes()
    {
        using var file = TestDatabase.Create(provider);
        var db = await file.MigratedAsync();
        await using (var connection = await db.OpenAsync())
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO merge_attempt (id, owner, repo, target_branch, state, created_at, timestamp, version) VALUES
                    (1, 'acme', 'widgets', 'main', 'Merged', @Old, @Old, 1),
                    (2, 'acme', 'widgets', 'main', 'Testing', @Old, @Old, 1);
                INSERT INTO pull_request (owner, repo, number, target_branch, commit_hash, state, requested_at, timestamp, version) VALUES
                    ('acme', 'widgets', 1, 'main', 'a', 'Merged', @Old, @Old, 1),
                    ('acme', 'widgets', 2, 'main', 'b', 'Queued', @Old, @Old, 1);
                INSERT INTO event_log (at, owner, repo, pr_number, attempt_id, kind, cause_kind, cause_id) VALUES
                    (@Old, 'acme', 'widgets', 1, 1, 'transition', 'delivery', 'd-finished'),
                    (@Old, 'acme', 'widgets', 2, NULL, 'transition', 'command', 'd-active-pr'),
                    (@Old, 'acme', 'widgets', NULL, 2, 'transition', 'poll', 'tick-1'),
                    (@Recent, 'acme', 'widgets', 1, NULL, 'github', 'poll', 'tick-2');
                INSERT INTO webhook_delivery (delivery_id, event, payload, received_at, processed_at, outcome) VALUES
                    ('d-finished', 'issue_comment', '{}', @Old, @Old, 'merge: accepted'),
                    ('d-active-pr', 'issue_comment', '{}', @Old, @Old, 'merge: accepted'),
                    ('d-unprocessed', 'status', '{}', @Old, NULL, NULL),
                    ('d-dead', 'status', '{}', @Old, @Old, 'dead'),
                    ('d-recent', 'status', '{}', @Recent, @Recent, 'checked');
                """, new { Old, Recent });
        }

        var purged = await new RetentionPurge(db).PurgeAsync(Now.AddDays(-30));

        purged.Should().Be(new RetentionPurge.Purged(Deliveries: 1, Events: 1));
        await using var check = await db.OpenAsync();
        (await check.QueryAsync<string>("SELECT delivery_id FROM webhook_delivery ORDER BY id")).Should()
            .Equal("d-active-pr", "d-unprocessed", "d-dead", "d-recent");
        (await check.QueryAsync<string>("SELECT cause_id FROM event_log ORDER BY id")).Should()
            .Equal("d-active-pr", "tick-1", "tick-2");
        (await new RetentionPurge(db).PurgeAsync(Now.AddDays(-30))).Should().Be(new RetentionPurge.Purged(0, 0), "a second run finds nothing more");
    }

    [Test]
    public async Task Purge_ManyRows_DeletesInBatchesUntilDone()
    {
        using var file = TestDatabase.Create(provider);
        var db = await file.MigratedAsync();
        await using (var connection = await db.OpenAsync())
            await connection.ExecuteAsync(
                "INSERT INTO event_log (at, owner, repo, kind, cause_kind) VALUES (@Old, 'acme', 'widgets', 'github', 'poll')",
                Enumerable.Range(0, RetentionPurge.BatchSize * 2 + 7).Select(_ => new { Old }));

        (await new RetentionPurge(db).PurgeAsync(Now.AddDays(-30))).Events.Should().Be(RetentionPurge.BatchSize * 2 + 7);
    }
}
