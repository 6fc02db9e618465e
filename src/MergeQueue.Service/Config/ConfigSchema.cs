namespace MergeQueue.Service.Config;

/// <summary>
/// The JSON schema of <c>.github/mergequeue.yml</c>, for editors (<c># yaml-language-server: $schema=…</c>).
/// It is an embedded resource; a test keeps it equal to what <see cref="Core.Config.RepoConfigParser"/> accepts.
/// </summary>
public static class ConfigSchema
{
    public const string Route = "/schema/mergequeue.json";
    public const string ResourceName = "schema/mergequeue.json";
    public const string ContentType = "application/schema+json";

    public static Stream Open() =>
        typeof(ConfigSchema).Assembly.GetManifestResourceStream(ResourceName)
        ?? throw new InvalidOperationException($"the embedded resource {ResourceName} is missing");

    /// <summary>No sign-in: the schema says nothing about any repository, and editors fetch it anonymously.</summary>
    public static WebApplication MapConfigSchema(this WebApplication app)
    {
        app.MapGet(Route, () => Results.Stream(Open(), ContentType)).ExcludeFromDescription();
        return app;
    }
}
