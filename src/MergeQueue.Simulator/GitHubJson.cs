using System.Text.Json.Nodes;

namespace MergeQueue.Simulator;

/// <summary>
/// Builds the JSON objects GitHub returns from its REST API and sends in webhook payloads,
/// shaped like the real ones (field names, nesting, JSON types). REST responses and webhook
/// payloads share these builders, as they share shapes on GitHub.
/// </summary>
/// <param name="baseUrl">The simulator's root, e.g. http://127.0.0.1:5123/ ; API urls are under api/v3/.</param>
public sealed class GitHubJson(Uri baseUrl)
{
    public string ApiUrl(string path) => new Uri(baseUrl, "api/v3/" + path.TrimStart('/')).ToString();
    public string HtmlUrl(string path) => new Uri(baseUrl, path.TrimStart('/')).ToString();

    public JsonObject User(SimUser user) => new()
    {
        ["login"] = user.Login,
        ["id"] = user.Id,
        ["type"] = user.Type,
        ["url"] = ApiUrl($"users/{user.Login}"),
        ["html_url"] = HtmlUrl(user.Login),
    };

    public JsonObject Repository(SimRepository repo) => new()
    {
        ["id"] = repo.Id,
        ["name"] = repo.Name,
        ["full_name"] = repo.FullName,
        ["owner"] = User(repo.Owner),
        ["private"] = repo.Private,
        ["default_branch"] = repo.DefaultBranch,
        ["url"] = ApiUrl($"repos/{repo.FullName}"),
        ["html_url"] = HtmlUrl(repo.FullName),
    };

    public JsonObject PullRequest(SimRepository repo, SimPullRequest pr, bool? mergeable) => new()
    {
        ["id"] = pr.Id,
        ["number"] = pr.Number,
        ["state"] = pr.State,
        ["title"] = pr.Title,
        ["body"] = pr.Body,
        ["user"] = User(pr.User),
        ["draft"] = pr.Draft,
        ["merged"] = pr.Merged,
        ["mergeable"] = mergeable,
        ["merge_commit_sha"] = pr.MergeCommitSha,
        ["head"] = new JsonObject { ["ref"] = pr.HeadRef, ["sha"] = pr.HeadSha, ["repo"] = Repository(repo), ["user"] = User(repo.Owner), ["label"] = $"{repo.Owner.Login}:{pr.HeadRef}" },
        ["base"] = new JsonObject { ["ref"] = pr.BaseRef, ["sha"] = pr.BaseSha, ["repo"] = Repository(repo), ["user"] = User(repo.Owner), ["label"] = $"{repo.Owner.Login}:{pr.BaseRef}" },
        ["labels"] = new JsonArray(pr.Labels.Select(l => (JsonNode)new JsonObject { ["name"] = l }).ToArray()),
        ["created_at"] = pr.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["updated_at"] = pr.UpdatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["closed_at"] = pr.ClosedAt?.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["merged_at"] = pr.MergedAt?.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["url"] = ApiUrl($"repos/{repo.FullName}/pulls/{pr.Number}"),
        ["html_url"] = HtmlUrl($"{repo.FullName}/pull/{pr.Number}"),
    };

    public JsonObject Review(SimRepository repo, SimPullRequest pr, SimReview review) => new()
    {
        ["id"] = review.Id,
        ["user"] = User(review.User),
        ["body"] = review.Body,
        ["state"] = review.State,
        ["commit_id"] = review.CommitId,
        ["submitted_at"] = review.SubmittedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["pull_request_url"] = ApiUrl($"repos/{repo.FullName}/pulls/{pr.Number}"),
    };

    public JsonObject IssueComment(SimRepository repo, SimIssueComment comment) => new()
    {
        ["id"] = comment.Id,
        ["user"] = User(comment.User),
        ["body"] = comment.Body,
        ["created_at"] = comment.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["updated_at"] = comment.UpdatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["url"] = ApiUrl($"repos/{repo.FullName}/issues/comments/{comment.Id}"),
    };

    public JsonObject Reaction(SimReaction reaction) => new()
    {
        ["id"] = reaction.Id,
        ["user"] = User(reaction.User),
        ["content"] = reaction.Content,
        ["created_at"] = reaction.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    };

    /// <summary>An issue, as issue_comment payloads and the issues API show a pull request.</summary>
    public JsonObject Issue(SimRepository repo, SimPullRequest pr) => new()
    {
        ["id"] = pr.Id,
        ["number"] = pr.Number,
        ["title"] = pr.Title,
        ["state"] = pr.State,
        ["user"] = User(pr.User),
        ["pull_request"] = new JsonObject { ["url"] = ApiUrl($"repos/{repo.FullName}/pulls/{pr.Number}") },
    };

    public JsonObject Status(SimRepository repo, SimStatus status) => new()
    {
        ["id"] = status.Id,
        ["state"] = status.State,
        ["context"] = status.Context,
        ["description"] = status.Description,
        ["target_url"] = status.TargetUrl,
        ["creator"] = User(status.Creator),
        ["created_at"] = status.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
        ["updated_at"] = status.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ssZ"),
    };

    public JsonObject CheckSuite(SimRepository repo, SimCheckSuite suite) => new()
    {
        ["id"] = suite.Id,
        ["head_sha"] = suite.HeadSha,
        ["head_branch"] = suite.HeadBranch,
        ["status"] = suite.Status,
        ["conclusion"] = suite.Conclusion,
    };

    public JsonObject CheckRun(SimRepository repo, SimCheckRun run) => new()
    {
        ["id"] = run.Id,
        ["head_sha"] = run.HeadSha,
        ["name"] = run.Name,
        ["status"] = run.Status,
        ["conclusion"] = run.Conclusion,
        ["details_url"] = run.DetailsUrl,
    };

    public JsonObject Label(SimRepository repo, SimLabel label) => new()
    {
        ["id"] = label.Id,
        ["name"] = label.Name,
        ["color"] = label.Color,
        ["description"] = label.Description,
    };

    /// <summary>A git commit object (git data API: GET/POST /git/commits).</summary>
    public JsonObject GitCommit(SimRepository repo, SimCommit commit) => new()
    {
        ["sha"] = commit.Sha,
        ["tree"] = new JsonObject { ["sha"] = commit.TreeSha },
        ["message"] = commit.Message,
        ["parents"] = new JsonArray(commit.Parents.Select(p => (JsonNode)new JsonObject { ["sha"] = p }).ToArray()),
    };

    /// <summary>A repository commit (GET /commits/{ref}, compare, merges): the git commit nested under "commit".</summary>
    public JsonObject RepoCommit(SimRepository repo, SimCommit commit) => new()
    {
        ["sha"] = commit.Sha,
        ["commit"] = GitCommit(repo, commit),
        ["parents"] = new JsonArray(commit.Parents.Select(p => (JsonNode)new JsonObject { ["sha"] = p }).ToArray()),
    };

    public JsonObject Reference(SimRepository repo, string fullRef, string sha) => new()
    {
        ["ref"] = fullRef,
        ["url"] = ApiUrl($"repos/{repo.FullName}/git/{fullRef}"),
        ["object"] = new JsonObject { ["type"] = "commit", ["sha"] = sha },
    };

    // Webhook payloads. Each is the whole body of one delivery.

    public JsonObject PullRequestEvent(string action, SimRepository repo, SimPullRequest pr, SimUser sender, JsonObject? changes = null)
    {
        var payload = new JsonObject { ["action"] = action, ["number"] = pr.Number, ["pull_request"] = PullRequest(repo, pr, null), ["repository"] = Repository(repo), ["sender"] = User(sender) };
        if (changes is not null) payload["changes"] = changes;
        return payload;
    }

    public JsonObject PullRequestReviewEvent(string action, SimRepository repo, SimPullRequest pr, SimReview review, SimUser sender) =>
        new() { ["action"] = action, ["review"] = Review(repo, pr, review), ["pull_request"] = PullRequest(repo, pr, null), ["repository"] = Repository(repo), ["sender"] = User(sender) };

    public JsonObject IssueCommentEvent(string action, SimRepository repo, SimPullRequest pr, SimIssueComment comment, SimUser sender, JsonObject? changes = null)
    {
        var payload = new JsonObject { ["action"] = action, ["issue"] = Issue(repo, pr), ["comment"] = IssueComment(repo, comment), ["repository"] = Repository(repo), ["sender"] = User(sender) };
        if (changes is not null) payload["changes"] = changes;
        return payload;
    }

    /// <param name="branches">Branches whose head is the status's commit.</param>
    public JsonObject StatusEvent(SimRepository repo, SimStatus status, SimCommit commit, IReadOnlyList<string> branches, SimUser sender) => new()
    {
        ["id"] = status.Id,
        ["sha"] = status.Sha,
        ["name"] = repo.FullName,
        ["state"] = status.State,
        ["context"] = status.Context,
        ["description"] = status.Description,
        ["target_url"] = status.TargetUrl,
        ["commit"] = RepoCommit(repo, commit),
        ["branches"] = new JsonArray(branches.Select(b => (JsonNode)new JsonObject { ["name"] = b, ["commit"] = new JsonObject { ["sha"] = commit.Sha } }).ToArray()),
        ["repository"] = Repository(repo),
        ["sender"] = User(sender),
    };

    public JsonObject CheckRunEvent(string action, SimRepository repo, SimCheckRun run, SimCheckSuite suite, SimUser sender)
    {
        var runJson = CheckRun(repo, run);
        runJson["check_suite"] = CheckSuite(repo, suite);
        return new() { ["action"] = action, ["check_run"] = runJson, ["repository"] = Repository(repo), ["sender"] = User(sender) };
    }

    public JsonObject CheckSuiteEvent(string action, SimRepository repo, SimCheckSuite suite, SimUser sender) =>
        new() { ["action"] = action, ["check_suite"] = CheckSuite(repo, suite), ["repository"] = Repository(repo), ["sender"] = User(sender) };

    /// <param name="before">The branch's old sha (40 zeros when created).</param>
    /// <param name="after">The branch's new sha (40 zeros when deleted).</param>
    /// <param name="commits">Commits new to the branch, oldest first (at most 20, as GitHub sends).</param>
    public JsonObject PushEvent(SimRepository repo, string fullRef, string before, string after, bool forced, IReadOnlyList<SimCommit> commits, SimUser pusher) => new()
    {
        ["ref"] = fullRef,
        ["before"] = before,
        ["after"] = after,
        ["created"] = before.All(c => c == '0'),
        ["deleted"] = after.All(c => c == '0'),
        ["forced"] = forced,
        ["commits"] = new JsonArray(commits.Select(c => (JsonNode)new JsonObject { ["id"] = c.Sha, ["message"] = c.Message }).ToArray()),
        ["repository"] = Repository(repo),
        ["pusher"] = new JsonObject { ["name"] = pusher.Login, ["email"] = $"{pusher.Login}@users.noreply.github.com" },
        ["sender"] = User(pusher),
    };
}
