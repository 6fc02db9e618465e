using System.Text.Json.Nodes;
using MergeQueue.Simulator.Git;

namespace MergeQueue.Simulator.Api;

/// <summary>
/// REST response shapes that <see cref="GitHubJson"/> has no builder for (combined status,
/// compare, trees, contents, merge result, collaborator permission, hooks). Every object nested in
/// them (repositories, users, commits, statuses, check runs) still comes from GitHubJson.
/// </summary>
internal static class ApiJson
{
    public static JsonObject CombinedStatus(GitHubJson json, SimRepository repo, string sha, string state, IReadOnlyList<SimStatus> latest) => new()
    {
        ["state"] = state,
        ["statuses"] = new JsonArray(latest.Select(s => (JsonNode)json.Status(repo, s)).ToArray()),
        ["sha"] = sha,
        ["total_count"] = latest.Count,
        ["repository"] = json.Repository(repo),
        ["commit_url"] = json.ApiUrl($"repos/{repo.FullName}/commits/{sha}"),
        ["url"] = json.ApiUrl($"repos/{repo.FullName}/commits/{sha}/status"),
    };

    public static JsonObject CheckRuns(GitHubJson json, SimRepository repo, IReadOnlyList<(SimCheckRun Run, SimCheckSuite Suite)> runs) => new()
    {
        ["total_count"] = runs.Count,
        ["check_runs"] = new JsonArray(runs.Select(r => (JsonNode)CheckRun(json, repo, r.Run, r.Suite)).ToArray()),
    };

    /// <summary>A check run as the checks API returns it: GitHub nests its suite's id.</summary>
    public static JsonObject CheckRun(GitHubJson json, SimRepository repo, SimCheckRun run, SimCheckSuite suite)
    {
        var obj = json.CheckRun(repo, run);
        obj.TryAdd("check_suite", new JsonObject { ["id"] = suite.Id });
        return obj;
    }

    public static JsonObject CheckSuites(GitHubJson json, SimRepository repo, IReadOnlyList<SimCheckSuite> suites) => new()
    {
        ["total_count"] = suites.Count,
        ["check_suites"] = new JsonArray(suites.Select(s => (JsonNode)json.CheckSuite(repo, s)).ToArray()),
    };

    public static JsonObject Compare(GitHubJson json, SimRepository repo, string basehead, SimCommit baseCommit, SimCommit? mergeBase, string status, int aheadBy, int behindBy, IReadOnlyList<SimCommit> commits) => new()
    {
        ["url"] = json.ApiUrl($"repos/{repo.FullName}/compare/{basehead}"),
        ["html_url"] = json.HtmlUrl($"{repo.FullName}/compare/{basehead}"),
        ["permalink_url"] = json.HtmlUrl($"{repo.FullName}/compare/{basehead}"),
        ["diff_url"] = json.HtmlUrl($"{repo.FullName}/compare/{basehead}.diff"),
        ["patch_url"] = json.HtmlUrl($"{repo.FullName}/compare/{basehead}.patch"),
        ["base_commit"] = json.RepoCommit(repo, baseCommit),
        ["merge_base_commit"] = mergeBase is null ? null : json.RepoCommit(repo, mergeBase),
        ["status"] = status,
        ["ahead_by"] = aheadBy,
        ["behind_by"] = behindBy,
        ["total_commits"] = aheadBy,
        ["commits"] = new JsonArray(commits.Select(c => (JsonNode)json.RepoCommit(repo, c)).ToArray()),
        ["files"] = new JsonArray(),
    };

    public static JsonObject Tree(GitHubJson json, SimRepository repo, string sha, IReadOnlyList<TreeEntry> entries) => new()
    {
        ["sha"] = sha,
        ["url"] = json.ApiUrl($"repos/{repo.FullName}/git/trees/{sha}"),
        ["tree"] = new JsonArray(entries.Select(e =>
        {
            var o = new JsonObject { ["path"] = e.Path, ["mode"] = e.Mode, ["type"] = e.Type, ["sha"] = e.Sha };
            if (e.Size is { } size) o["size"] = size;
            o["url"] = json.ApiUrl($"repos/{repo.FullName}/git/{(e.Type == "tree" ? "trees" : "blobs")}/{e.Sha}");
            return (JsonNode)o;
        }).ToArray()),
        ["truncated"] = false,
    };

    public static JsonObject ContentFile(GitHubJson json, SimRepository repo, TreeEntry entry, string gitRef, byte[]? content)
    {
        var name = entry.Path.Split('/')[^1];
        var type = entry.Type == "tree" ? "dir" : entry.Type == "commit" ? "submodule" : entry.Mode == "120000" ? "symlink" : "file";
        var obj = new JsonObject
        {
            ["type"] = type,
            ["size"] = entry.Size ?? 0,
            ["name"] = name,
            ["path"] = entry.Path,
            ["sha"] = entry.Sha,
            ["url"] = json.ApiUrl($"repos/{repo.FullName}/contents/{entry.Path}?ref={Uri.EscapeDataString(gitRef)}"),
            ["git_url"] = json.ApiUrl($"repos/{repo.FullName}/git/{(entry.Type == "tree" ? "trees" : "blobs")}/{entry.Sha}"),
            ["html_url"] = json.HtmlUrl($"{repo.FullName}/{(entry.Type == "tree" ? "tree" : "blob")}/{gitRef}/{entry.Path}"),
            ["download_url"] = type == "file" ? json.HtmlUrl($"raw/{repo.FullName}/{gitRef}/{entry.Path}") : null,
        };
        if (content is not null)
        {
            // GitHub wraps base64 content at 60 characters per line.
            var b64 = Convert.ToBase64String(content);
            obj["content"] = string.Concat(Enumerable.Range(0, (b64.Length + 59) / 60).Select(i => b64.Substring(i * 60, Math.Min(60, b64.Length - i * 60)) + "\n"));
            obj["encoding"] = "base64";
        }
        obj["_links"] = new JsonObject { ["self"] = obj["url"]!.DeepClone(), ["git"] = obj["git_url"]!.DeepClone(), ["html"] = obj["html_url"]!.DeepClone() };
        return obj;
    }

    public static JsonObject MergeResult(string sha, string message) => new() { ["sha"] = sha, ["merged"] = true, ["message"] = message };

    public static JsonObject CollaboratorPermission(GitHubJson json, SimUser user, string role)
    {
        // The legacy "permission" field folds maintain into write and triage into read.
        var permission = role switch { "maintain" => "write", "triage" => "read", _ => role };
        var u = json.User(user);
        u["role_name"] = role;
        return new JsonObject { ["permission"] = permission, ["role_name"] = role, ["user"] = u };
    }

    public static JsonObject Hook(GitHubJson json, SimRepository repo, SimHook hook) => new()
    {
        ["type"] = "Repository",
        ["id"] = hook.Id,
        ["name"] = "web",
        ["active"] = hook.Active,
        ["events"] = new JsonArray(hook.Events.Select(e => (JsonNode)JsonValue.Create(e)!).ToArray()),
        ["config"] = new JsonObject { ["content_type"] = hook.ContentType, ["url"] = hook.Url, ["insecure_ssl"] = "0", ["secret"] = hook.Secret is null ? null : "********" },
        ["updated_at"] = hook.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        ["created_at"] = hook.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        ["url"] = json.ApiUrl($"repos/{repo.FullName}/hooks/{hook.Id}"),
        ["test_url"] = json.ApiUrl($"repos/{repo.FullName}/hooks/{hook.Id}/test"),
        ["ping_url"] = json.ApiUrl($"repos/{repo.FullName}/hooks/{hook.Id}/pings"),
        ["deliveries_url"] = json.ApiUrl($"repos/{repo.FullName}/hooks/{hook.Id}/deliveries"),
        ["last_response"] = new JsonObject { ["code"] = null, ["status"] = "unused", ["message"] = null },
    };
}
