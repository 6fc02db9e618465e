using System.Globalization;
using System.Text.Json;
using MergeQueue.Core;

namespace MergeQueue.Service.Webhooks;

/// <summary>
/// The webhook events the queue acts on, with only the fields it uses. Payloads are parsed here, at
/// the edge; the raw payload stays in the inbox for audit and replay.
/// </summary>
public abstract record GitHubEvent
{
    public sealed record PullRequestChanged(RepoId Repo, string Action, int Number, CommitSha HeadSha, string BaseRef, string? BaseRefBefore, bool Merged, bool Draft) : GitHubEvent;
    public sealed record ReviewChanged(RepoId Repo, string Action, int Number, string Reviewer, string State, CommitSha CommitSha) : GitHubEvent;
    /// <param name="CreatedAt">When the comment was written (<c>comment.created_at</c>): its commands are for the head of that moment.</param>
    public sealed record CommentChanged(RepoId Repo, string Action, int Number, bool OnPullRequest, long CommentId, string Body, string Author, DateTimeOffset? CreatedAt) : GitHubEvent;
    public sealed record StatusChanged(RepoId Repo, CommitSha Sha, string Context, string State) : GitHubEvent;
    /// <summary>A check run or check suite changed on a commit.</summary>
    public sealed record ChecksChanged(RepoId Repo, CommitSha Sha) : GitHubEvent;
    public sealed record Pushed(RepoId Repo, string Ref, CommitSha After, string DefaultBranch, IReadOnlyList<string> ChangedFiles) : GitHubEvent;
    /// <summary>The GitHub App was installed or uninstalled, or repositories were added to or removed from an installation.</summary>
    public sealed record InstallationChanged(string Action, long InstallationId, IReadOnlyList<RepoId> Added, IReadOnlyList<RepoId> Removed) : GitHubEvent;
    public sealed record Ping : GitHubEvent;
    /// <summary>An event or action the queue has no use for.</summary>
    public sealed record Ignored(string Why) : GitHubEvent;

    /// <summary>
    /// Reads a delivery; a payload that is not what GitHub sends (fields missing or of the wrong type,
    /// strings that are not valid Unicode) gets a <see cref="FormatException"/> saying why.
    /// </summary>
    public static GitHubEvent Parse(string eventName, string payload)
    {
        try
        {
            return Read(eventName, payload);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            // InvalidOperationException: a value of another kind than expected, or a lone UTF-16 surrogate in a string.
            throw new FormatException($"the {eventName} payload is not what GitHub sends: {e.Message}", e);
        }
    }

    private static GitHubEvent Read(string eventName, string payload)
    {
        using var doc = JsonDocument.Parse(payload);
        var root = doc.RootElement;
        var action = OptString(root, "action") ?? "";
        switch (eventName)
        {
            case "ping":
                return new Ping();
            case "pull_request":
            {
                var pr = Obj(root, "pull_request");
                string? baseBefore = null;
                if (root.TryGetProperty("changes", out var changes) && changes.ValueKind == JsonValueKind.Object
                    && changes.TryGetProperty("base", out var b) && b.TryGetProperty("ref", out var r) && r.TryGetProperty("from", out var from))
                    baseBefore = from.GetString();
                return new PullRequestChanged(RepoOf(root), action, Int(pr, "number"), new CommitSha(Str(Obj(pr, "head"), "sha")),
                    Str(Obj(pr, "base"), "ref"), baseBefore, Bool(pr, "merged"), Bool(pr, "draft"));
            }
            case "pull_request_review":
            {
                var review = Obj(root, "review");
                return new ReviewChanged(RepoOf(root), action, Int(Obj(root, "pull_request"), "number"), Str(Obj(review, "user"), "login"),
                    Str(review, "state"), new CommitSha(Str(review, "commit_id")));
            }
            case "issue_comment":
            {
                var issue = Obj(root, "issue");
                var comment = Obj(root, "comment");
                var onPr = issue.TryGetProperty("pull_request", out var link) && link.ValueKind == JsonValueKind.Object;
                return new CommentChanged(RepoOf(root), action, Int(issue, "number"), onPr, Long(comment, "id"),
                    OptString(comment, "body") ?? "", Str(Obj(comment, "user"), "login"),
                    OptString(comment, "created_at") is { } created && DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null);
            }
            case "status":
                return new StatusChanged(RepoOf(root), new CommitSha(Str(root, "sha")), Str(root, "context"), Str(root, "state"));
            case "check_run":
                return new ChecksChanged(RepoOf(root), new CommitSha(Str(Obj(root, "check_run"), "head_sha")));
            case "check_suite":
                return new ChecksChanged(RepoOf(root), new CommitSha(Str(Obj(root, "check_suite"), "head_sha")));
            case "push":
            {
                var files = new List<string>();
                if (root.TryGetProperty("commits", out var commits) && commits.ValueKind == JsonValueKind.Array)
                    foreach (var c in commits.EnumerateArray())
                        foreach (var kind in new[] { "added", "modified", "removed" })
                            if (c.TryGetProperty(kind, out var list) && list.ValueKind == JsonValueKind.Array)
                                files.AddRange(list.EnumerateArray().Select(f => f.GetString() ?? ""));
                var repository = Obj(root, "repository");
                return new Pushed(RepoOf(root), Str(root, "ref"), new CommitSha(Str(root, "after")), OptString(repository, "default_branch") ?? "main", files);
            }
            case "installation" or "installation_repositories":
            {
                var id = Long(Obj(root, "installation"), "id");
                var (added, removed) = (eventName, action) switch
                {
                    ("installation", "created") => (Repos(root, "repositories"), []),
                    ("installation", "deleted") => ([], Repos(root, "repositories")),
                    ("installation_repositories", _) => (Repos(root, "repositories_added"), Repos(root, "repositories_removed")),
                    _ => ((IReadOnlyList<RepoId>)[], (IReadOnlyList<RepoId>)[]),
                };
                return new InstallationChanged(action, id, added, removed);
            }
            default:
                return new Ignored($"event '{eventName}' is not used");
        }
    }

    /// <summary>The repository a payload is about, if it names one.</summary>
    public static RepoId? TryRepo(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty("repository", out var repo) && repo.ValueKind == JsonValueKind.Object
        && repo.TryGetProperty("full_name", out var name) && name.ValueKind == JsonValueKind.String && name.GetString() is { } s && s.Contains('/')
            ? RepoId.Parse(s)
            : null;

    /// <summary>The full names of an installation payload's repository list (absent: none).</summary>
    private static IReadOnlyList<RepoId> Repos(JsonElement root, string name) =>
        root.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(r => RepoId.Parse(Str(r, "full_name"))).ToList()
            : [];

    private static RepoId RepoOf(JsonElement root) => TryRepo(root) ?? throw new FormatException("missing repository.full_name");

    private static JsonElement Obj(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : throw new FormatException($"missing object '{name}'");

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new FormatException($"missing string '{name}'");

    private static string? OptString(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : throw new FormatException($"missing number '{name}'");

    private static long Long(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var i) ? i : throw new FormatException($"missing number '{name}'");

    private static bool Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
