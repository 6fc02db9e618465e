using Dapper;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Data.Tests;

public sealed class SqliteDatabaseTests
{
    private TestDatabase _file = null!;

    [SetUp]
    public void SetUp() => _file = TestDatabase.Create();

    [TearDown]
    public void TearDown() => _file.Dispose();

    [Test]
    public async Task Open_AnyConnection_UsesWalFullSyncForeignKeysAndBusyTimeout()
    {
        await _file.MigratedAsync();

        // A second instance stands for another process: WAL is a property of the file, the rest per connection.
        await using var connection = await _file.Open().OpenAsync();

        (await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode")).Should().Be("wal");
        (await connection.ExecuteScalarAsync<long>("PRAGMA foreign_keys")).Should().Be(1);
        (await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout")).Should().Be(5000);
        (await connection.ExecuteScalarAsync<long>("PRAGMA synchronous")).Should().Be(2, "FULL: every commit is on disk before it is acknowledged");
        File.Exists(_file.Path + "-wal").Should().BeTrue();
    }

    [Test]
    public async Task Open_CustomBusyTimeout_IsApplied()
    {
        var db = SqliteDatabase.ForFile(_file.Path, TimeSpan.FromMilliseconds(1234));
        await using var connection = await db.OpenAsync();
        (await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout")).Should().Be(1234);
    }

    [Test]
    public async Task ForeignKeys_PullRequestPointingAtMissingAttempt_IsRefused()
    {
        var db = await _file.MigratedAsync();
        await using var connection = await db.OpenAsync();

        var insert = () => connection.ExecuteAsync(
            """
            INSERT INTO pull_request (owner, repo, number, target_branch, commit_hash, state, merge_attempt, requested_at, timestamp, version)
            VALUES ('o', 'r', 1, 'main', 'abc', 'Merging', 999, 0, 0, 1)
            """);

        await insert.Should().ThrowAsync<Microsoft.Data.Sqlite.SqliteException>().Where(e => e.SqliteExtendedErrorCode == 787);
    }

    // The store's lists of active states, the partial unique index and Core's IsActive must agree, or a
    // new active state would escape the one-active-request rule.
    [Test]
    public async Task ActiveStates_MatchCoreIsActiveAndTheUniqueIndex()
    {
        foreach (var state in Enum.GetValues<PullRequestState>())
        {
            var pr = PullRequest.Restore(1, Build.Repo, 1, "main", Build.Sha('a'), state, null, 0, Build.T0, Build.T0, null, null, null, null, null, null, 1);
            QueueStore.ActivePullRequestStates.Contains(state.ToString()).Should().Be(pr.IsActive, state.ToString());
        }

        foreach (var state in Enum.GetValues<MergeAttemptState>())
            QueueStore.ActiveAttemptStates.Contains(state.ToString()).Should().Be(Build.Attempt(1, state).IsActive, state.ToString());

        // Read the index from a migrated database, so the check follows any later migration that redefines it.
        var db = await _file.MigratedAsync();
        await using var connection = await db.OpenAsync();
        var indexSql = await connection.ExecuteScalarAsync<string>("SELECT sql FROM sqlite_master WHERE name = 'ux_pull_request_active'");
        var predicate = "WHERE state IN (" + string.Join(", ", QueueStore.ActivePullRequestStates.Select(s => $"'{s}'")) + ")";
        indexSql.Should().Contain(predicate);
    }
}
