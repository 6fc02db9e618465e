using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using MergeQueue.Core;

namespace MergeQueue.Data;

/// <summary>
/// The three roles of the REST API and the dashboard (seed 002), and <see cref="Runner"/>, a role for API
/// keys only: an external runner process's key, which may claim and run jobs and do nothing else.
/// </summary>
public static class ApiRoles
{
    public const string Admin = "admin";
    public const string User = "user";
    public const string ReadOnly = "read-only";
    public const string Runner = "runner";

    /// <summary>The roles of people (dashboard users).</summary>
    public static readonly IReadOnlyList<string> All = [Admin, User, ReadOnly];

    /// <summary>The roles of API keys.</summary>
    public static readonly IReadOnlyList<string> ForKeys = [Admin, User, ReadOnly, Runner];

    public static bool IsValid(string? role) => role is not null && All.Contains(role);

    public static bool IsValidForKey(string? role) => role is not null && ForKeys.Contains(role);
}

/// <summary>An API key as listed: never its secret.</summary>
public sealed record ApiKeyRecord(long Id, string Name, string Role, IReadOnlyList<string> Repos, DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? RevokedAt);

/// <summary>A person (GitHub login) and the role an admin gave them.</summary>
public sealed record ApiUserRecord(long Id, string Login, string Role, IReadOnlyList<string> Repos, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A repository an admin switched on or off.</summary>
public sealed record RepoSettingRecord(RepoId Repo, bool Enabled, string ChangedBy, DateTimeOffset ChangedAt);

/// <summary>
/// API keys (stored as SHA-256 hashes only), users and their roles, and repository switches.
/// Keys are 32 random bytes: a hash without salt is enough for a secret that cannot be guessed.
/// </summary>
public sealed class ApiKeyStore(Database database, TimeProvider time)
{
    public const string KeyPrefix = "mq_";

    /// <summary>A new high-entropy key: <c>mq_</c> and 32 random bytes, base64url.</summary>
    public static string NewKey() => KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>The stored form of a key: SHA-256, hex.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Creates a key; the answer is the only place its secret ever appears.</summary>
    public async Task<(ApiKeyRecord Record, string Key)> CreateKeyAsync(string name, string role, IReadOnlyList<string> repos, string createdBy, CancellationToken ct = default)
    {
        var key = NewKey();
        var now = time.GetUtcNow();
        await using var connection = await database.OpenAsync(ct);
        var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            INSERT INTO api_key (name, key_hash, role, repos, created_at, created_by)
            VALUES (@name, @hash, @role, @repos, @now, @createdBy)
            RETURNING id
            """,
            new { name, hash = Hash(key), role, repos = JsonSerializer.Serialize(repos), now = now.ToUnixTimeMilliseconds(), createdBy },
            cancellationToken: ct));
        return (new ApiKeyRecord(id, name, role, repos, now, createdBy, null), key);
    }

    /// <summary>
    /// The active key with this secret, looked up by its hash (key_hash is a unique, indexed column).
    /// The lookup's time depends only on the hash, which says nothing usable about the key.
    /// </summary>
    public async Task<ApiKeyRecord?> FindKeyAsync(string key, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            $"SELECT {KeyColumns} FROM api_key WHERE key_hash = @hash AND revoked_at IS NULL", new { hash = Hash(key) }, cancellationToken: ct));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListKeysAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<KeyRow>(new CommandDefinition($"SELECT {KeyColumns} FROM api_key ORDER BY id", cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    /// <summary>Revokes a key; false when there is no active key with this id.</summary>
    public async Task<bool> RevokeKeyAsync(long id, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_key SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL",
            new { id, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: ct)) == 1;
    }

    /// <summary>Creates a user; null when the login is taken.</summary>
    public async Task<ApiUserRecord?> CreateUserAsync(string login, string role, IReadOnlyList<string> repos, CancellationToken ct = default)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var connection = await database.OpenAsync(ct);
        var id = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            """
            INSERT INTO api_user (login, role, repos, created_at, updated_at) VALUES (@login, @role, @repos, @now, @now)
            ON CONFLICT (login) DO NOTHING
            RETURNING id;
            """,
            new { login, role, repos = JsonSerializer.Serialize(repos), now }, cancellationToken: ct));
        return id is null ? null : await GetUserAsync(id.Value, ct);
    }

    public async Task<IReadOnlyList<ApiUserRecord>> ListUsersAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<UserRow>(new CommandDefinition($"SELECT {UserColumns} FROM api_user ORDER BY login", cancellationToken: ct));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public async Task<ApiUserRecord?> GetUserAsync(long id, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"SELECT {UserColumns} FROM api_user WHERE id = @id", new { id }, cancellationToken: ct));
        return row?.ToRecord();
    }

    /// <summary>
    /// The role an admin gave this GitHub login (case-insensitive), or null when none was given:
    /// the dashboard's sign-in treats that as read-only.
    /// </summary>
    public async Task<ApiUserRecord?> FindUserByLoginAsync(string login, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            $"SELECT {UserColumns} FROM api_user WHERE login = @login", new { login }, cancellationToken: ct));
        return row?.ToRecord();
    }

    /// <summary>Changes a user's login, role and repositories; null when there is no such user or the login is taken.</summary>
    public async Task<ApiUserRecord?> UpdateUserAsync(long id, string login, string role, IReadOnlyList<string> repos, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var taken = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT id FROM api_user WHERE login = @login AND id <> @id", new { id, login }, cancellationToken: ct));
        if (taken is not null) return null;
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_user SET login = @login, role = @role, repos = @repos, updated_at = @now WHERE id = @id",
            new { id, login, role, repos = JsonSerializer.Serialize(repos), now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: ct));
        return changed == 1 ? await GetUserAsync(id, ct) : null;
    }

    public async Task<bool> DeleteUserAsync(long id, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition("DELETE FROM api_user WHERE id = @id", new { id }, cancellationToken: ct)) == 1;
    }

    /// <summary>Switches a repository on or off (the API's enable/disable).</summary>
    public async Task SetRepoEnabledAsync(RepoId repo, bool enabled, string changedBy, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO repo_setting (owner, repo, enabled, changed_by, changed_at) VALUES (@owner, @name, @enabled, @changedBy, @now)
            ON CONFLICT (owner, repo) DO UPDATE SET enabled = excluded.enabled, changed_by = excluded.changed_by, changed_at = excluded.changed_at
            """,
            new { owner = repo.Owner, name = repo.Name, enabled = enabled ? 1 : 0, changedBy, now = time.GetUtcNow().ToUnixTimeMilliseconds() },
            cancellationToken: ct));
    }

    /// <summary>False only for a repository an admin disabled.</summary>
    public async Task<bool> IsRepoEnabledAsync(RepoId repo, CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        var enabled = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT enabled FROM repo_setting WHERE owner = @owner AND repo = @name",
            new { owner = repo.Owner, name = repo.Name }, cancellationToken: ct));
        return enabled is null or 1;
    }

    private const string KeyColumns = "id AS Id, name AS Name, role AS Role, repos AS Repos, created_at AS CreatedAt, created_by AS CreatedBy, revoked_at AS RevokedAt";
    private const string UserColumns = "id AS Id, login AS Login, role AS Role, repos AS Repos, created_at AS CreatedAt, updated_at AS UpdatedAt";

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static IReadOnlyList<string> ReadRepos(string json) => JsonSerializer.Deserialize<List<string>>(json) ?? [];

    private static DateTimeOffset At(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private sealed class KeyRow
    {
        public long Id { get; set; }
        public string Name { get; set; } = "";
        public string Role { get; set; } = "";
        public string Repos { get; set; } = "[]";
        public long CreatedAt { get; set; }
        public string CreatedBy { get; set; } = "";
        public long? RevokedAt { get; set; }

        public ApiKeyRecord ToRecord() => new(Id, Name, Role, ReadRepos(Repos), At(CreatedAt), CreatedBy, RevokedAt is { } r ? At(r) : null);
    }

    private sealed class UserRow
    {
        public long Id { get; set; }
        public string Login { get; set; } = "";
        public string Role { get; set; } = "";
        public string Repos { get; set; } = "[]";
        public long CreatedAt { get; set; }
        public long UpdatedAt { get; set; }

        public ApiUserRecord ToRecord() => new(Id, Login, Role, ReadRepos(Repos), At(CreatedAt), At(UpdatedAt));
    }
}
