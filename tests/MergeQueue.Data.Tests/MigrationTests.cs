using Dapper;
using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using static MergeQueue.Data.Tests.Build;

namespace MergeQueue.Data.Tests;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class MigrationTests(string provider)
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private TestDatabase _file = null!;

    private IReadOnlyList<Migration> Migrations => provider == "postgres" ? Migration.Postgres : Migration.Sqlite;

    [SetUp]
    public void SetUp() => _file = TestDatabase.Create(provider);

    [TearDown]
    public void TearDown() => _file.Dispose();

    [Test]
    public void Embedded_AreNumberedOneToNWithoutGaps()
    {
        Migrations.Should().NotBeEmpty();
        Migrations.Select(m => m.Version).Should().Equal(Enumerable.Range(1, Migrations.Count));
        Migrations[0].Name.Should().Be("initial");
    }

    [Test]
    public async Task MigrateAsync_FreshDatabase_AppliesAllAndIsIdempotent()
    {
        var db = _file.Open();

        await db.MigrateAsync();
        await db.MigrateAsync();

        (await db.GetAppliedMigrationsAsync()).Should().Equal(Migrations.Select(m => m.Version));
    }

    /// <summary>
    /// Data written under the first schema (with 0001's own SQL, which never changes) must survive
    /// every later migration and read back through today's code. Each new migration is covered
    /// without touching this test.
    /// </summary>
    [Test]
    public async Task MigrateAsync_DatabaseHoldingDataFromTheFirstMigration_KeepsItReadable()
    {
        var db = _file.Open();
        await db.MigrateAsync(Migrations, upTo: 1, Ct);
        (await db.GetAppliedMigrationsAsync()).Should().Equal(1);
        var t0 = T0.ToUnixTimeMilliseconds();
        await using (var connection = await db.OpenAsync())
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO merge_attempt (id, owner, repo, target_branch, state, base_sha, staging_sha, parent_id, created_at, timestamp, reason, version)
                VALUES (5, 'Acme', 'Widgets', 'main', 'Testing', @Base, @Staging, 4, @T0, @T1, 'built', 3);
                INSERT INTO pull_request (owner, repo, number, target_branch, commit_hash, state, merge_attempt, priority, requested_at,
                    timestamp, queued_at, requested_by, title, author, reason, merged_sha, version)
                VALUES ('Acme', 'Widgets', 42, 'main', @Head, 'Merging', 5, 2, @T0, @T1, @T0, 'alice', 'Title', 'bob', 'attempt 5', NULL, 4),
                       ('Acme', 'Widgets', 41, 'main', @Head, 'Merged', NULL, 0, @T0, @T1, @T0, 'alice', 'Old', 'bob', 'merged', @Merged, 5);
                UPDATE attempt_sequence SET value = 5 WHERE name = 'merge_attempt';
                INSERT INTO webhook_delivery (delivery_id, event, action, owner, repo, payload, received_at)
                VALUES ('d-1', 'pull_request', 'opened', 'Acme', 'Widgets', '{"n":1}', @T0);
                INSERT INTO event_log (at, owner, repo, pr_number, attempt_id, kind, entity, from_state, to_state, trigger, reason, cause_kind, cause_id, actor)
                VALUES (@T0, 'Acme', 'Widgets', 42, 5, 'transition', 'pull_request', 'Queued', 'Merging', 'Batch', 'attempt 5', 'command', 'd-0', 'alice');
                """,
                new { T0 = t0, T1 = t0 + 1000, Base = Sha('b').Value, Staging = Sha('s').Value, Head = Sha('a').Value, Merged = Sha('m').Value });
        }

        await db.MigrateAsync();

        (await db.GetAppliedMigrationsAsync()).Should().Equal(Migrations.Select(m => m.Version));
        var store = new QueueStore(db);
        var pr = (await store.FindActivePullRequestAsync(Repo, 42, Ct))!;
        pr.Should().BeEquivalentTo(
            PullRequest.Restore(pr.Id, Repo, 42, "main", Sha('a'), PullRequestState.Merging, new AttemptId(5), 2, T0, T0.AddSeconds(1), T0,
                "alice", "Title", "bob", "attempt 5", null, 4),
            o => o.Excluding(p => p.Transitions));
        (await store.GetPullRequestHistoryAsync(Repo, 41, Ct)).Should().ContainSingle()
            .Which.Should().Match<PullRequest>(p => p.State == PullRequestState.Merged && p.MergedSha == Sha('m') && p.Version == 5);
        var attempt = (await store.GetAttemptAsync(new AttemptId(5), Ct))!;
        attempt.Should().BeEquivalentTo(
            new MergeAttempt(new AttemptId(5), Queue, MergeAttemptState.Testing, T0)
            {
                BaseSha = Sha('b'),
                StagingSha = Sha('s'),
                ParentId = new AttemptId(4),
                StateChangedAt = T0.AddSeconds(1),
                Reason = "built",
                Version = 3,
            },
            o => o.Excluding(a => a.Transitions));
        (await store.NextAttemptIdAsync(Ct)).Should().Be(new AttemptId(6));
        (await new WebhookInbox(db).GetUnprocessedAsync(10)).Should().ContainSingle()
            .Which.Should().Be(new WebhookDelivery("d-1", "pull_request", "opened", Repo, """{"n":1}""", T0));
        (await new EventLogReader(db).ForPullRequestAsync(Repo, 42, Ct)).Should().ContainSingle()
            .Which.Should().Match<EventLogRecord>(e => e.Attempt == new AttemptId(5) && e.Trigger == "Batch" && e.Cause == Cause.Command("d-0", "alice"));

        // The migrated rows still take part in optimistic concurrency and the one-active-request rule.
        pr.Split(new AttemptId(5), "conflict", T0);
        await store.SaveAsync(new Changes { PullRequests = { pr } }, Cause.Test(), Ct);
        pr.Version.Should().Be(5);
        var duplicate = () => store.SaveAsync(new Changes { PullRequests = { Requested(42) } }, Cause.Test(), Ct);
        await duplicate.Should().ThrowAsync<ConcurrencyConflictException>();
    }

    [Test]
    public async Task MigrateAsync_NewMigrationOnDatabaseWithData_AppliesOnlyTheNewOne()
    {
        var db = await _file.MigratedAsync();
        var store = new QueueStore(db);
        var pr = Requested();
        await store.SaveAsync(new Changes { PullRequests = { pr } }, Cause.Test(), Ct);
        var next = Migrations.Max(m => m.Version) + 1;
        var added = new Migration(next, "test_note", "ALTER TABLE pull_request ADD COLUMN test_note TEXT NOT NULL DEFAULT 'none';");

        await db.MigrateAsync([.. Migrations, added], upTo: null, Ct);

        (await db.GetAppliedMigrationsAsync()).Should().EndWith(next);
        (await store.GetPullRequestAsync(pr.Id, Ct)).Should().BeEquivalentTo(pr, o => o.Excluding(p => p.Transitions));
        await using var connection = await db.OpenAsync();
        (await connection.ExecuteScalarAsync<string>("SELECT test_note FROM pull_request WHERE id = @Id", new { pr.Id })).Should().Be("none");
    }

    [Test]
    public async Task MigrateAsync_FailingMigration_RollsBackItselfOnlyAndIsRetriedNextTime()
    {
        var db = _file.Open();
        var next = Migrations.Max(m => m.Version) + 1;
        // The first statement succeeds, the second fails: the table must not survive the failure.
        var broken = new Migration(next, "broken", "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);");

        var migrate = () => db.MigrateAsync([.. Migrations, broken], upTo: null, Ct);

        await migrate.Should().ThrowAsync<System.Data.Common.DbException>();
        (await db.GetAppliedMigrationsAsync()).Should().Equal(Migrations.Select(m => m.Version));
        await using (var connection = await db.OpenAsync())
            (await connection.ExecuteScalarAsync<long>(provider == "postgres"
                ? "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half_done'"
                : "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'")).Should().Be(0);

        var fixedMigration = new Migration(next, "fixed", "CREATE TABLE half_done (x INTEGER);");
        await db.MigrateAsync([.. Migrations, fixedMigration], upTo: null, Ct);
        (await db.GetAppliedMigrationsAsync()).Should().EndWith(next);
    }

    [Test]
    public async Task MigrateAsync_AppliedMigrationEdited_Refuses()
    {
        var db = await _file.MigratedAsync();
        var first = Migrations[0];
        var edited = first with { Sql = first.Sql + "\n-- edited after landing\n" };

        var migrate = () => db.MigrateAsync([edited, .. Migrations.Skip(1)], upTo: null, Ct);

        await migrate.Should().ThrowAsync<InvalidOperationException>().WithMessage("*must not be edited*");
    }

    [Test]
    public void Migration_SameTextWithWindowsLineEndings_HasTheSameChecksum()
    {
        var sql = "CREATE TABLE t (x INTEGER);\nCREATE INDEX i ON t (x);\n";
        new Migration(9, "x", sql.Replace("\n", "\r\n", StringComparison.Ordinal)).Checksum.Should().Be(new Migration(9, "x", sql).Checksum);
        new Migration(9, "x", sql + " ").Checksum.Should().NotBe(new Migration(9, "x", sql).Checksum);
    }

    [TestCase("0007_add_things.sql", 7, "add_things")]
    [TestCase("0012_x.sql", 12, "x")]
    public void FromFile_NumberedName_Parses(string file, int version, string name)
    {
        var migration = Migration.FromFile(file, "SELECT 1;");
        migration.Version.Should().Be(version);
        migration.Name.Should().Be(name);
    }

    [TestCase("initial.sql")]
    [TestCase("_initial.sql")]
    [TestCase("0000_zero.sql")]
    [TestCase("v1_initial.sql")]
    public void FromFile_BadName_Throws(string file) =>
        FluentActions.Invoking(() => Migration.FromFile(file, "SELECT 1;")).Should().Throw<FormatException>();

    [Test]
    public void Validate_DuplicateNumbers_Throws() =>
        FluentActions.Invoking(() => Migration.Validate([new Migration(2, "a", ""), new Migration(2, "b", "")]))
            .Should().Throw<InvalidOperationException>().WithMessage("*2*");
}
