using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace MergeQueue.Service.Setup;

/// <summary>
/// What <c>/setup</c> stores: the App's private key as a PEM file (mode 0600) in the data directory,
/// next to the database, and its id, slug, webhook secret and OAuth client in a settings file (mode
/// 0600, <c>mergequeue.setup.json</c> in the working directory unless <c>MergeQueue:Setup:File</c>
/// says otherwise), which the service reads as a configuration source: after the settings files,
/// before environment variables and the command line, so an operator's explicit setting still wins.
/// </summary>
public sealed class SetupSettings(string file, string dataDirectory)
{
    public const string DefaultFile = "mergequeue.setup.json";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string File { get; } = file;
    public string DataDirectory { get; } = dataDirectory;

    /// <summary>Adds the setup file as a configuration source and answers its full path.</summary>
    public static string AddSource(ConfigurationManager configuration)
    {
        var file = Path.GetFullPath(configuration["MergeQueue:Setup:File"] is { Length: > 0 } f ? f : DefaultFile);
        var directory = Path.GetDirectoryName(file)!;
        Directory.CreateDirectory(directory);
        var source = new JsonConfigurationSource
        {
            Path = Path.GetFileName(file),
            Optional = true,
            ReloadOnChange = false,
            FileProvider = new PhysicalFileProvider(directory),
        };
        IConfigurationBuilder builder = configuration;
        // Before the last environment source: the command line and environment still win over it.
        var at = builder.Sources.Select((s, i) => (s, i)).LastOrDefault(x => x.s is EnvironmentVariablesConfigurationSource).i;
        if (builder.Sources.Count > 0 && builder.Sources[at] is EnvironmentVariablesConfigurationSource) builder.Sources.Insert(at, source);
        else builder.Sources.Add(source);
        return file;
    }

    /// <summary>The folder of the SQLite database (the working directory for an in-memory one, or with PostgreSQL).</summary>
    public static string DataDirectoryOf(string provider, string connectionString)
    {
        if (!provider.Equals("sqlite", StringComparison.OrdinalIgnoreCase)) return Directory.GetCurrentDirectory();
        var source = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (string.IsNullOrWhiteSpace(source) || source == ":memory:" || source.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            return Directory.GetCurrentDirectory();
        return Path.GetDirectoryName(Path.GetFullPath(source))!;
    }

    /// <summary>The App GitHub created from the manifest, as the conversion answered it.</summary>
    public sealed record CreatedApp(long Id, string Slug, string HtmlUrl, string Pem, string WebhookSecret, string ClientId, string ClientSecret);

    /// <summary>Writes the key and the settings (each readable by this user only); answers the key's path.</summary>
    public string Store(CreatedApp app)
    {
        Directory.CreateDirectory(DataDirectory);
        var keyPath = Path.Combine(DataDirectory, $"github-app-{app.Id}.pem");
        WriteOwnerOnly(keyPath, app.Pem);
        var settings = new JsonObject
        {
            ["MergeQueue"] = new JsonObject
            {
                ["GitHub"] = new JsonObject
                {
                    ["AppId"] = app.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["AppSlug"] = app.Slug,
                    ["PrivateKeyPath"] = keyPath,
                    ["WebhookSecret"] = app.WebhookSecret,
                    ["OAuthClientId"] = app.ClientId,
                    ["OAuthClientSecret"] = app.ClientSecret,
                },
            },
        };
        WriteOwnerOnly(File, settings.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return keyPath;
    }

    /// <summary>Written to a new file created 0600 and moved over the old one: never readable by others, never half written.</summary>
    private static void WriteOwnerOnly(string path, string content)
    {
        var temporary = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
            writer.Write(content);
        System.IO.File.Move(temporary, path, overwrite: true);
    }
}
