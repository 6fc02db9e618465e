namespace MergeQueue.Core;

/// <summary>A GitHub repository, owner/name, compared case-insensitively as GitHub does.</summary>
public readonly record struct RepoId(string Owner, string Name)
{
    public static RepoId Parse(string fullName)
    {
        var slash = fullName.IndexOf('/');
        if (slash <= 0 || slash == fullName.Length - 1 || fullName.IndexOf('/', slash + 1) >= 0)
            throw new FormatException($"'{fullName}' is not owner/name.");
        return new RepoId(fullName[..slash], fullName[(slash + 1)..]);
    }

    public bool Equals(RepoId other) =>
        string.Equals(Owner, other.Owner, StringComparison.OrdinalIgnoreCase)
        && string.Equals(Name, other.Name, StringComparison.OrdinalIgnoreCase);

    public override int GetHashCode() =>
        HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(Owner ?? ""), StringComparer.OrdinalIgnoreCase.GetHashCode(Name ?? ""));

    public override string ToString() => $"{Owner}/{Name}";
}

/// <summary>A git commit id (40 hex digits).</summary>
public readonly record struct CommitSha(string Value)
{
    public string Short => Value.Length > 7 ? Value[..7] : Value;
    public override string ToString() => Value;
}

/// <summary>A merge attempt's id; also part of its branch names.</summary>
public readonly record struct AttemptId(long Value)
{
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>One queue: a repository and one of its target branches. Attempts of different targets never mix.</summary>
public readonly record struct QueueId(RepoId Repo, string Target)
{
    public override string ToString() => $"{Repo}:{Target}";
}
