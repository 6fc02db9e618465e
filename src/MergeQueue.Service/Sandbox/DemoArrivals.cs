namespace MergeQueue.Service.Sandbox;

/// <summary>A pull request the demo team is about to open, and what it is meant to show.</summary>
/// <param name="Parent">The commit its branch starts from; null for the default branch's head.</param>
public sealed record DemoPullRequest(string Branch, string Title, string Author, IReadOnlyDictionary<string, string?> Files, string? Parent, string Shows);

/// <summary>
/// The sandbox's stream of new pull requests after the initial five, so the dashboard and trends
/// show a living queue. Which kind comes next is a seeded choice, so a seed gives the same sequence
/// of kinds on every run (only which of a clashing pair conflicts depends on timing): most add a
/// widget and merge, some add a name the demo's <c>test.sh</c> rejects, and some add the same file
/// as the last merging one from the same base, which git cannot merge with it.
/// </summary>
public sealed class DemoArrivals(int seed)
{
    private static readonly string[] Names = ["flange", "ratchet", "spindle", "gizmo", "pulley", "hinge", "gasket", "piston", "lever", "bracket", "valve", "spring"];
    private static readonly string[] BadNames = ["Turbo Encabulator!", "SPROCKET", "gear 2.0", "spring_loaded"];
    private static readonly string[] Authors = ["alice", "carol"];

    private readonly Random random = new(seed);
    private int count;
    private (int Number, string Path, string? Parent)? clashable;

    /// <summary>The next pull request to open, branched from <paramref name="mainSha"/> unless it is meant to clash.</summary>
    public DemoPullRequest Next(string mainSha)
    {
        var n = ++count;
        var roll = random.Next(10);
        var author = Authors[random.Next(Authors.Length)];
        var name = Names[random.Next(Names.Length)];
        if (roll < 2 && clashable is { } earlier)
        {
            // Consumed: a third PR on the same file would make the demo's story harder to follow.
            clashable = null;
            return new DemoPullRequest($"arrival/{n}-{name}", $"Add a {name} at {earlier.Path}", author,
                new Dictionary<string, string?> { [earlier.Path] = name + "\n" }, earlier.Parent,
                $"adds {earlier.Path} like #{earlier.Number} from the same base: one of the two is reported as a merge conflict");
        }
        if (roll < 4)
        {
            var bad = BadNames[random.Next(BadNames.Length)];
            return new DemoPullRequest($"arrival/{n}-bad-name", $"Add the {bad} widget", author,
                new Dictionary<string, string?> { [$"src/arrival-{n}.txt"] = bad + "\n" }, null,
                $"fails its checks: test.sh rejects the widget name \"{bad}\"");
        }
        return new DemoPullRequest($"arrival/{n}-{name}", $"Add a {name}", author,
            new Dictionary<string, string?> { [$"src/arrival-{n}.txt"] = name + "\n" }, mainSha, "merges");
    }

    /// <summary>Records the number <paramref name="pr"/> was opened as: a merging one is what the next clash is built against.</summary>
    public void Opened(DemoPullRequest pr, int number)
    {
        if (pr.Shows == "merges") clashable = (number, pr.Files.Keys.Single(), pr.Parent);
    }
}
