using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;
using MergeQueue.Tests.Shared;
using Microsoft.Data.Sqlite;

namespace MergeQueue.Data.Tests;

/// <summary>
/// A fresh database for one test, deleted when it ends: a SQLite file in its own temp directory, or a
/// database of its own on the run's PostgreSQL server. Fixtures that hold for both providers run once
/// per provider (<see cref="Providers"/>).
/// </summary>
public sealed class TestDatabase : IDisposable
{
    /// <summary>For <c>[TestFixtureSource]</c>: every provider the store supports.</summary>
    public static readonly string[] Providers = ["sqlite", "postgres"];

    private readonly string _directory;
    private readonly string? _postgres;
    private readonly List<PostgresDatabase> _opened = [];

    private TestDatabase(string provider, string directory, string? postgres)
    {
        Provider = provider;
        _directory = directory;
        _postgres = postgres;
        Path = System.IO.Path.Combine(directory, "mergequeue.db");
    }

    public string Provider { get; }

    /// <summary>The SQLite file (unused with PostgreSQL).</summary>
    public string Path { get; }

    public static TestDatabase Create(string provider = "sqlite")
    {
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mergequeue-data-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var postgres = provider == "postgres"
            ? PostgresServer.SharedAsync().GetAwaiter().GetResult().CreateDatabaseAsync("data").GetAwaiter().GetResult()
            : null;
        return new TestDatabase(provider, directory, postgres);
    }

    /// <summary>A new <see cref="Database"/> on the same data: each one stands for a separate process or host.</summary>
    public Database Open(TimeProvider? time = null)
    {
        if (_postgres is null) return SqliteDatabase.ForFile(Path, time: time);
        var db = new PostgresDatabase(_postgres, time);
        lock (_opened) _opened.Add(db);
        return db;
    }

    public async Task<Database> MigratedAsync(TimeProvider? time = null)
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
        if (_postgres is null) return;
        foreach (var db in _opened) db.DisposeAsync().AsTask().GetAwaiter().GetResult();
        PostgresServer.SharedAsync().GetAwaiter().GetResult().DropDatabaseAsync(_postgres).GetAwaiter().GetResult();
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
