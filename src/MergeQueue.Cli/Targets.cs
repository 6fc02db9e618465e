using System.Text.RegularExpressions;

namespace MergeQueue.Cli;

/// <summary>A bad command line: the CLI exits 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The server refused or could not be reached: the CLI exits 1.</summary>
public sealed class ApiException(string message) : Exception(message);

public readonly record struct RepoRef(string Owner, string Name)
{
    private static readonly Regex Shape = new(@"^(?<owner>[A-Za-z0-9][A-Za-z0-9._-]*)/(?<name>[A-Za-z0-9._-]+)$", RegexOptions.CultureInvariant);

    public string Path => $"{Uri.EscapeDataString(Owner)}/{Uri.EscapeDataString(Name)}";

    public override string ToString() => $"{Owner}/{Name}";

    public static RepoRef Parse(string text)
    {
        var m = Shape.Match(text);
        if (!m.Success) throw new UsageException($"'{text}' is not a repository: expected owner/repo");
        return new RepoRef(m.Groups["owner"].Value, m.Groups["name"].Value);
    }
}

public readonly record struct PullRef(RepoRef Repo, int Number)
{
    public override string ToString() => $"{Repo}#{Number}";

    public static PullRef Parse(string text)
    {
        var hash = text.LastIndexOf('#');
        if (hash < 0 || !int.TryParse(text.AsSpan(hash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number <= 0)
            throw new UsageException($"'{text}' is not a pull request: expected owner/repo#number");
        return new PullRef(RepoRef.Parse(text[..hash]), number);
    }
}
