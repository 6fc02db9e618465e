using System.Text.Json.Nodes;

namespace MergeQueue.Simulator.Tests;

/// <summary>
/// GitHub's real webhook payloads (../shared/fixtures/github-webhooks beside the repository) and a
/// shape comparison against them. Test-only: the simulator itself never reads these files.
/// </summary>
internal static class WebhookFixtures
{
    private const string FixturesPath = "shared/fixtures/github-webhooks";

    // Only present in GitHub App or organization deliveries, which the simulator doesn't model.
    private static readonly HashSet<string> OptionalTopLevel = ["installation", "organization", "enterprise"];

    private static readonly Lazy<string> Folder = new(Locate);

    public static string Root => Folder.Value;

    /// <summary>
    /// The plain fixtures of an event and action: "{action}.payload.json" and numbered variants
    /// ("{action}.1.payload.json"); for events without an action (push, status) every file.
    /// </summary>
    public static IReadOnlyList<(string Name, JsonObject Payload)> Load(string @event, string? action)
    {
        var dir = Path.Combine(Root, @event);
        if (!Directory.Exists(dir)) Assert.Fail($"No fixture folder {dir}");
        var files = Directory.GetFiles(dir, "*.json")
            .Where(f => action is null || IsPlain(Path.GetFileName(f), action))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0) Assert.Fail($"No fixture for {@event}/{action} in {dir}");
        return files.Select(f => (Path.GetRelativePath(Root, f), JsonNode.Parse(File.ReadAllText(f))!.AsObject())).ToList();
    }

    /// <summary>Like <see cref="Load"/>, but empty when there is no fixture for the event or action.</summary>
    public static IReadOnlyList<(string Name, JsonObject Payload)> TryLoad(string @event, string? action)
    {
        var dir = Path.Combine(Root, @event);
        if (!Directory.Exists(dir)) return [];
        return Directory.GetFiles(dir, "*.json")
            .Where(f => action is null || IsPlain(Path.GetFileName(f), action))
            .Select(f => (Path.GetRelativePath(Root, f), JsonNode.Parse(File.ReadAllText(f))!.AsObject()))
            .ToList();
    }

    /// <summary>Every fixture of an event, all actions and variants.</summary>
    public static IReadOnlyList<JsonNode?> LoadEvent(string @event) =>
        Directory.GetFiles(Path.Combine(Root, @event), "*.json").Select(f => JsonNode.Parse(File.ReadAllText(f))).ToList();

    private static bool IsPlain(string fileName, string action)
    {
        if (fileName == $"{action}.payload.json") return true;
        var parts = fileName.Split('.');
        return parts.Length == 4 && parts[0] == action && parts[1].All(char.IsDigit) && parts[2] == "payload";
    }

    private static string Locate()
    {
        var start = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        for (var dir = start; dir is not null; dir = dir.Parent)
        {
            // The checkout (the folder with MergeQueue.sln) has shared/ beside it; also accept shared/ inside an ancestor.
            if (File.Exists(Path.Combine(dir.FullName, "MergeQueue.sln")) && dir.Parent is { } parent
                && Directory.Exists(Path.Combine(parent.FullName, FixturesPath)))
                return Path.Combine(parent.FullName, FixturesPath);
            if (Directory.Exists(Path.Combine(dir.FullName, FixturesPath)))
                return Path.Combine(dir.FullName, FixturesPath);
        }
        Assert.Fail($"Could not find {FixturesPath}: looked beside the folder holding MergeQueue.sln and in every ancestor of {start.FullName}. " +
            "The shared/ folder must be checked out next to the repository.");
        return null!;
    }

    /// <summary>
    /// Every field path the fixtures have that <paramref name="actual"/> lacks or has with another JSON type.
    /// Fixtures of one event and action are merged: a path is required if any of them has it, and may be
    /// null if any of them has null there (e.g. status/with-author-committer-null shows GitHub's commit
    /// author can be null). Array elements are compared when both arrays are non-empty. Extra fields are fine.
    /// </summary>
    /// <param name="nullableFrom">
    /// For payloads from a running simulator, whose state a test doesn't fully choose: where any of these
    /// fixtures has null at the same path (e.g. other events carrying the same repository or pull request),
    /// GitHub's value depends on state (a milestone, a computed mergeability), so ours may be null too.
    /// </param>
    /// <param name="absentFrom">
    /// Likewise: where one of these fixtures (the same event, any action) lacks a key that its siblings have
    /// below the top level (e.g. a commit committer's "username" when the email isn't linked to an account), ours may lack it.
    /// </param>
    public static IReadOnlyList<string> ShapeDifferences(IEnumerable<JsonNode?> fixtures, JsonNode? actual, IReadOnlySet<string>? exempt = null,
        IEnumerable<JsonNode?>? nullableFrom = null, IEnumerable<JsonNode?>? absentFrom = null)
    {
        var problems = new SortedSet<string>(StringComparer.Ordinal);
        var relaxed = new Relaxations();
        foreach (var fixture in nullableFrom ?? []) relaxed.Index(fixture, "$", nulls: true);
        foreach (var fixture in absentFrom ?? []) relaxed.Index(fixture, "$", nulls: false);
        Compare(fixtures.ToList(), actual, "$", problems, exempt ?? new HashSet<string>(), relaxed);
        return problems.ToList();
    }

    private sealed class Relaxations
    {
        private readonly HashSet<string> nullable = [];
        private readonly Dictionary<string, List<JsonObject>> objects = [];

        public void Index(JsonNode? node, string path, bool nulls)
        {
            switch (node)
            {
                case null when nulls:
                    nullable.Add(path);
                    break;
                case JsonObject o:
                    if (!nulls)
                    {
                        if (!objects.TryGetValue(path, out var list)) objects[path] = list = [];
                        list.Add(o);
                    }
                    foreach (var (key, child) in o) Index(child, $"{path}.{key}", nulls);
                    break;
                case JsonArray a:
                    foreach (var element in a) Index(element, path + "[]", nulls);
                    break;
            }
        }

        public bool MayBeNull(string path) => nullable.Contains(path);

        // Top-level keys are never relaxed: they are what tells actions apart (label, changes, before/after).
        public bool MayBeAbsent(string parentPath, string key) =>
            parentPath != "$" && objects.TryGetValue(parentPath, out var list) && list.Any(o => !o.ContainsKey(key)) && list.Any(o => o.ContainsKey(key));
    }

    private static void Compare(List<JsonNode?> expected, JsonNode? actual, string path, SortedSet<string> problems, IReadOnlySet<string> exempt, Relaxations relaxed)
    {
        if (exempt.Contains(path)) return;
        var kinds = expected.Select(Kind).ToHashSet();
        var kind = Kind(actual);
        if (kind == "null")
        {
            if (!kinds.Contains("null") && !relaxed.MayBeNull(path)) problems.Add($"{path}: null, fixture has {string.Join("|", kinds)}");
            return;
        }
        var typed = expected.Where(e => e is not null).ToList();
        if (typed.Count == 0) return; // null in every fixture: GitHub gives no type to match
        if (!kinds.Contains(kind))
        {
            problems.Add($"{path}: {kind}, fixture has {string.Join("|", kinds.Where(k => k != "null"))}");
            return;
        }
        if (kind == "object")
        {
            var objects = typed.OfType<JsonObject>().ToList();
            var ours = actual!.AsObject();
            foreach (var key in objects.SelectMany(o => o.Select(p => p.Key)).Distinct())
            {
                if (path == "$" && OptionalTopLevel.Contains(key)) continue;
                var childPath = $"{path}.{key}";
                if (exempt.Contains(childPath)) continue;
                var children = objects.Where(o => o.ContainsKey(key)).Select(o => o[key]).ToList();
                if (!ours.TryGetPropertyValue(key, out var child))
                {
                    if (relaxed.MayBeAbsent(path, key)) continue;
                    problems.Add($"{childPath}: missing (fixture has {string.Join("|", children.Select(Kind).Distinct())})");
                    continue;
                }
                Compare(children, child, childPath, problems, exempt, relaxed);
            }
        }
        else if (kind == "array")
        {
            var elements = typed.OfType<JsonArray>().SelectMany(a => a).ToList();
            if (elements.Count == 0) return;
            foreach (var element in actual!.AsArray()) Compare(elements, element, path + "[]", problems, exempt, relaxed);
        }
    }

    private static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue v => v.GetValueKind() switch
        {
            System.Text.Json.JsonValueKind.String => "string",
            System.Text.Json.JsonValueKind.Number => "number",
            System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "bool",
            System.Text.Json.JsonValueKind.Null => "null",
            var other => other.ToString(),
        },
        _ => "unknown",
    };
}
