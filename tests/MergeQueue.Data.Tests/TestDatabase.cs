using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;
using Microsoft.Data.Sqlite;

namespace MergeQueue.Data.Tests;

/// <summary>A fresh SQLite file in its own temp directory, deleted with it when the test ends.</summary>
public sealed class TestDatabase : IDisposable
{
    private readonly string _directory;

    private TestDatabase(string directory)
    {
        _directory = directory;
        Path = System.IO.Path.Combine(directory, "mergequeue.db");
    }

    public string Path { get; }

    public static TestDatabase Create()
    {
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mergequeue-data-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return new TestDatabase(directory);
    }

    /// <summary>A new <see cref="SqliteDatabase"/> on the file: each one stands for a separate process or host.</summary>
    public SqliteDatabase Open(TimeProvider? time = null) => SqliteDatabase.ForFile(Path, time: time);

    public async Task<SqliteDatabase> MigratedAsync(TimeProvider? time = null)
    {
        var db = Open(time);
        await db.MigrateAsync();
        return db;
    }

    public void Dispose()
    {
        // Pooled connections keep the file (and its -wal/-shm) open; release them before deleting.
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>Entities with every field set, so a round trip that drops one is noticed.</summary>
internal static class Build
{
    public static readonly DateTimeOffset T0 = new(2025, 3, 4, 5, 6, 7, 890, TimeSpan.Zero);
    public static readonly RepoId Repo = new("Acme", "Widgets");
    public static readonly QueueId Queue = new(Repo, "main");

    public static CommitSha Sha(char c) => new(new string(c, 40));

    public static PullRequest Requested(int number = 42, RepoId? repo = null) =>
        new(repo ?? Repo, number, "main", Sha('a'), PullRequestState.Requested, T0)
        {
            RequestedBy = "alice",
            Title = "Make widgets faster",
            Author = "bob",
            Reason = "waiting for approval",
        };

    public static MergeAttempt Attempt(long id, MergeAttemptState state = MergeAttemptState.Constructing) =>
        new(new AttemptId(id), Queue, state, T0);
}
