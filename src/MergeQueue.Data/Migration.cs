using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MergeQueue.Data;

/// <summary>One numbered SQL migration: <c>Migrations/{provider}/NNNN_name.sql</c>. Each provider has its own history.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    private const string ResourcePrefix = "Migrations/";

    /// <summary>SHA-256 of the script, recorded when applied, to catch a landed migration being edited.</summary>
    /// <remarks>Computed on each read, not stored: a <c>with</c> copy must not carry the old script's checksum.</remarks>
    public string Checksum => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Normalize(Sql))));

    /// <summary>SQLite's migrations embedded in this assembly, ascending.</summary>
    public static IReadOnlyList<Migration> Sqlite { get; } = LoadEmbedded("sqlite");

    /// <summary>PostgreSQL's migrations embedded in this assembly, ascending.</summary>
    public static IReadOnlyList<Migration> Postgres { get; } = LoadEmbedded("postgres");

    /// <summary>Parses <c>NNNN_name.sql</c>.</summary>
    public static Migration FromFile(string fileName, string sql)
    {
        var stem = Path.GetFileNameWithoutExtension(fileName);
        var underscore = stem.IndexOf('_');
        if (underscore <= 0 || !int.TryParse(stem.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version <= 0)
            throw new FormatException($"Migration '{fileName}' is not named NNNN_name.sql.");
        return new Migration(version, stem[(underscore + 1)..], sql);
    }

    internal static void Validate(IReadOnlyList<Migration> migrations)
    {
        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidOperationException($"Two migrations are numbered {duplicate.Key}: {string.Join(", ", duplicate.Select(m => m.Name))}.");
    }

    // Line endings depend on how git checked the file out; they must not make a landed migration look edited.
    private static string Normalize(string sql) => sql.Replace("\r\n", "\n", StringComparison.Ordinal);

    private static List<Migration> LoadEmbedded(string provider)
    {
        var assembly = typeof(Migration).Assembly;
        var migrations = new List<Migration>();
        var prefix = $"{ResourcePrefix}{provider}/";
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.Replace('\\', '/').StartsWith(prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded resource '{resource}' vanished.");
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(FromFile(resource[prefix.Length..], reader.ReadToEnd()));
        }

        Validate(migrations);
        return migrations.OrderBy(m => m.Version).ToList();
    }
}
