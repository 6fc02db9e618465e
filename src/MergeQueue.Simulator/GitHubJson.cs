using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace MergeQueue.Simulator;

/// <summary>
/// Builds the JSON objects GitHub returns from its REST API and sends in webhook payloads,
/// shaped like the real ones (field names, nesting, JSON types). REST responses and webhook
/// payloads share these builders, as they share shapes on GitHub.
/// </summary>
/// <remarks>
/// Values come from the model; where GitHub reports account data we don't model (stars, forks,
/// licence, site admin...) the builders emit the value a fresh private-ish repository would have.
/// Every call builds fresh nodes, so results can be attached anywhere.
/// </remarks>
/// <param name="baseUrl">The simulator's root, e.g. http://127.0.0.1:5123/ ; API urls are under api/v3/.</param>
public sealed class GitHubJson(Uri baseUrl)
{
    private const string ZeroSha = "0000000000000000000000000000000000000000";

    /// <summary>
    /// Optional: reads a commit from the repository's git. Used where a payload needs a commit the
    /// caller did not pass (a check suite's head_commit, a synchronize's before, a push's head_commit).
    /// </summary>
    public Func<SimRepository, string, SimCommit?>? CommitReader { get; init; }

    /// <summary>Optional: finds the GitHub account a commit email belongs to (commit author/committer users, push usernames).</summary>
    public Func<string, SimUser?>? UserByEmail { get; init; }

    public string ApiUrl(string path) => new Uri(baseUrl, "api/v3/" + path.TrimStart('/')).ToString();
    public string HtmlUrl(string path) => new Uri(baseUrl, path.TrimStart('/')).ToString();

    /// <summary>GitHub's legacy global node id: base64 of "0{type length}:{type}{id}" (e.g. MDQ6VXNlcjE= for User 1).</summary>
    public static string NodeId(string type, string id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"0{type.Length}:{type}{id}"));

    public static string NodeId(string type, long id) => NodeId(type, id.ToString(CultureInfo.InvariantCulture));

    /// <summary>GitHub's timestamp format: UTC, seconds precision, e.g. 2019-05-15T15:20:33Z.</summary>
    public static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string? Timestamp(DateTimeOffset? time) => time is { } t ? Timestamp(t) : null;

    private static JsonObject Href(string href) => new() { ["href"] = href };

    private static JsonArray JsonList(IEnumerable<JsonNode?> items) => new(items.ToArray());

    // ---- users and repositories ----

    public JsonObject User(SimUser user)
    {
        var url = ApiUrl($"users/{user.Login}");
        return new()
        {
            ["login"] = user.Login,
            ["id"] = user.Id,
            ["node_id"] = NodeId(user.Type == "Bot" ? "Bot" : user.Type == "Organization" ? "Organization" : "User", user.Id),
            ["avatar_url"] = HtmlUrl($"avatars/u/{user.Id}?v=4"),
            ["gravatar_id"] = "",
            ["url"] = url,
            ["html_url"] = HtmlUrl(user.Login),
            ["followers_url"] = url + "/followers",
            ["following_url"] = url + "/following{/other_user}",
            ["gists_url"] = url + "/gists{/gist_id}",
            ["starred_url"] = url + "/starred{/owner}{/repo}",
            ["subscriptions_url"] = url + "/subscriptions",
            ["organizations_url"] = url + "/orgs",
            ["repos_url"] = url + "/repos",
            ["events_url"] = url + "/events{/privacy}",
            ["received_events_url"] = url + "/received_events",
            ["type"] = user.Type,
            ["site_admin"] = false,
        };
    }

    public JsonObject Repository(SimRepository repo) => RepositoryCore(repo, forPush: false);

    // Push payloads carry an older repository shape: created_at/pushed_at as unix seconds, plus
    // "stargazers" and "master_branch".
    private JsonObject RepositoryCore(SimRepository repo, bool forPush)
    {
        var api = ApiUrl($"repos/{repo.FullName}");
        var html = HtmlUrl(repo.FullName);
        var openIssues = repo.Pulls.Count(p => p.State == "open");
        var json = new JsonObject
        {
            ["id"] = repo.Id,
            ["node_id"] = NodeId("Repository", repo.Id),
            ["name"] = repo.Name,
            ["full_name"] = repo.FullName,
            ["private"] = repo.Private,
            ["owner"] = User(repo.Owner),
            ["html_url"] = html,
            ["description"] = repo.Description,
            ["fork"] = false,
            ["url"] = api,
            ["forks_url"] = api + "/forks",
            ["keys_url"] = api + "/keys{/key_id}",
            ["collaborators_url"] = api + "/collaborators{/collaborator}",
            ["teams_url"] = api + "/teams",
            ["hooks_url"] = api + "/hooks",
            ["issue_events_url"] = api + "/issues/events{/number}",
            ["events_url"] = api + "/events",
            ["assignees_url"] = api + "/assignees{/user}",
            ["branches_url"] = api + "/branches{/branch}",
            ["tags_url"] = api + "/tags",
            ["blobs_url"] = api + "/git/blobs{/sha}",
            ["git_tags_url"] = api + "/git/tags{/sha}",
            ["git_refs_url"] = api + "/git/refs{/sha}",
            ["trees_url"] = api + "/git/trees{/sha}",
            ["statuses_url"] = api + "/statuses/{sha}",
            ["languages_url"] = api + "/languages",
            ["stargazers_url"] = api + "/stargazers",
            ["contributors_url"] = api + "/contributors",
            ["subscribers_url"] = api + "/subscribers",
            ["subscription_url"] = api + "/subscription",
            ["commits_url"] = api + "/commits{/sha}",
            ["git_commits_url"] = api + "/git/commits{/sha}",
            ["comments_url"] = api + "/comments{/number}",
            ["issue_comment_url"] = api + "/issues/comments{/number}",
            ["contents_url"] = api + "/contents/{+path}",
            ["compare_url"] = api + "/compare/{base}...{head}",
            ["merges_url"] = api + "/merges",
            ["archive_url"] = api + "/{archive_format}{/ref}",
            ["downloads_url"] = api + "/downloads",
            ["issues_url"] = api + "/issues{/number}",
            ["pulls_url"] = api + "/pulls{/number}",
            ["milestones_url"] = api + "/milestones{/number}",
            ["notifications_url"] = api + "/notifications{?since,all,participating}",
            ["labels_url"] = api + "/labels{/name}",
            ["releases_url"] = api + "/releases{/id}",
            ["deployments_url"] = api + "/deployments",
            ["created_at"] = forPush ? (JsonNode)repo.CreatedAt.ToUnixTimeSeconds() : Timestamp(repo.CreatedAt),
            ["updated_at"] = Timestamp(repo.UpdatedAt),
            ["pushed_at"] = forPush ? (JsonNode)repo.PushedAt.ToUnixTimeSeconds() : Timestamp(repo.PushedAt),
            ["git_url"] = "git://" + new Uri(html).Authority + new Uri(html).AbsolutePath + ".git",
            ["ssh_url"] = $"git@{new Uri(html).Host}:{repo.FullName}.git",
            ["clone_url"] = html + ".git",
            ["svn_url"] = html,
            ["homepage"] = repo.Homepage,
            ["size"] = 0,
            ["stargazers_count"] = 0,
            ["watchers_count"] = 0,
            ["language"] = repo.Language,
            ["has_issues"] = true,
            ["has_projects"] = true,
            ["has_downloads"] = true,
            ["has_wiki"] = true,
            ["has_pages"] = false,
            ["has_discussions"] = false,
            ["forks_count"] = 0,
            ["mirror_url"] = null,
            ["archived"] = false,
            ["disabled"] = false,
            ["open_issues_count"] = openIssues,
            ["license"] = null,
            ["allow_forking"] = true,
            ["is_template"] = false,
            ["web_commit_signoff_required"] = false,
            ["topics"] = JsonList(repo.Topics.Select(t => (JsonNode?)t)),
            ["visibility"] = repo.Private ? "private" : "public",
            ["forks"] = 0,
            ["open_issues"] = openIssues,
            ["watchers"] = 0,
            ["default_branch"] = repo.DefaultBranch,
            ["custom_properties"] = new JsonObject(),
        };
        if (forPush)
        {
            // Push payloads describe the owner with its commit identity too.
            var owner = json["owner"]!.AsObject();
            owner["name"] = repo.Owner.Login;
            owner["email"] = NoReplyEmail(repo.Owner);
            json["stargazers"] = 0;
            json["master_branch"] = repo.DefaultBranch;
            if (repo.Owner.Type == "Organization") json["organization"] = repo.Owner.Login;
        }
        return json;
    }

    /// <summary>The user's public commit email, or GitHub's noreply address for it.</summary>
    private static string NoReplyEmail(SimUser user) => user.Email ?? $"{user.Id}+{user.Login}@users.noreply.github.com";

    /// <summary>OWNER, COLLABORATOR or NONE: how GitHub relates a user to the repository in author_association.</summary>
    public static string AuthorAssociation(SimRepository repo, SimUser user) =>
        user.Id == repo.Owner.Id ? "OWNER"
        : repo.Permissions.ContainsKey(user.Login) ? "COLLABORATOR"
        : "NONE";

    // ---- pull requests, reviews, issues, comments ----

    /// <param name="stats">Commits/additions/deletions/changed files, computed from git by the caller; zeros when not given.</param>
    public JsonObject PullRequest(SimRepository repo, SimPullRequest pr, bool? mergeable, SimDiffStats? stats = null)
    {
        var api = ApiUrl($"repos/{repo.FullName}/pulls/{pr.Number}");
        var html = HtmlUrl($"{repo.FullName}/pull/{pr.Number}");
        var issue = ApiUrl($"repos/{repo.FullName}/issues/{pr.Number}");
        var statuses = ApiUrl($"repos/{repo.FullName}/statuses/{pr.HeadSha}");
        return new()
        {
            ["url"] = api,
            ["id"] = pr.Id,
            ["node_id"] = NodeId("PullRequest", pr.Id),
            ["html_url"] = html,
            ["diff_url"] = html + ".diff",
            ["patch_url"] = html + ".patch",
            ["issue_url"] = issue,
            ["number"] = pr.Number,
            ["state"] = pr.State,
            ["locked"] = false,
            ["title"] = pr.Title,
            ["user"] = User(pr.User),
            ["body"] = pr.Body,
            ["created_at"] = Timestamp(pr.CreatedAt),
            ["updated_at"] = Timestamp(pr.UpdatedAt),
            ["closed_at"] = Timestamp(pr.ClosedAt),
            ["merged_at"] = Timestamp(pr.MergedAt),
            ["merge_commit_sha"] = pr.MergeCommitSha,
            ["assignee"] = pr.Assignees.Count > 0 ? User(pr.Assignees[0]) : null,
            ["assignees"] = JsonList(pr.Assignees.Select(u => (JsonNode?)User(u))),
            ["requested_reviewers"] = JsonList(pr.RequestedReviewers.Select(u => (JsonNode?)User(u))),
            ["requested_teams"] = new JsonArray(),
            ["labels"] = PullRequestLabels(repo, pr),
            ["milestone"] = pr.Milestone is { } m ? Milestone(repo, m) : null,
            ["draft"] = pr.Draft,
            ["commits_url"] = api + "/commits",
            ["review_comments_url"] = api + "/comments",
            ["review_comment_url"] = ApiUrl($"repos/{repo.FullName}/pulls/comments") + "{/number}",
            ["comments_url"] = issue + "/comments",
            ["statuses_url"] = statuses,
            ["head"] = PullRequestBranch(repo, pr.HeadRef, pr.HeadSha),
            ["base"] = PullRequestBranch(repo, pr.BaseRef, pr.BaseSha),
            ["_links"] = new JsonObject
            {
                ["self"] = Href(api),
                ["html"] = Href(html),
                ["issue"] = Href(issue),
                ["comments"] = Href(issue + "/comments"),
                ["review_comments"] = Href(api + "/comments"),
                ["review_comment"] = Href(ApiUrl($"repos/{repo.FullName}/pulls/comments") + "{/number}"),
                ["commits"] = Href(api + "/commits"),
                ["statuses"] = Href(statuses),
            },
            ["author_association"] = AuthorAssociation(repo, pr.User),
            ["auto_merge"] = null,
            ["active_lock_reason"] = null,
            ["merged"] = pr.Merged,
            ["mergeable"] = mergeable,
            ["rebaseable"] = mergeable,
            ["mergeable_state"] = mergeable switch { null => "unknown", false => "dirty", true => pr.Draft ? "draft" : "clean" },
            ["merged_by"] = pr.MergedBy is { } by ? User(by) : null,
            ["comments"] = repo.Comments.Count(c => c.IssueNumber == pr.Number),
            ["review_comments"] = 0,
            ["maintainer_can_modify"] = false,
            ["commits"] = stats?.Commits ?? 0,
            ["additions"] = stats?.Additions ?? 0,
            ["deletions"] = stats?.Deletions ?? 0,
            ["changed_files"] = stats?.ChangedFiles ?? 0,
        };
    }

    // Head and base live in the same repository: the simulator has no forks.
    private JsonObject PullRequestBranch(SimRepository repo, string branch, string sha) => new()
    {
        ["label"] = $"{repo.Owner.Login}:{branch}",
        ["ref"] = branch,
        ["sha"] = sha,
        ["user"] = User(repo.Owner),
        ["repo"] = Repository(repo),
    };

    private JsonArray PullRequestLabels(SimRepository repo, SimPullRequest pr) =>
        JsonList(pr.Labels.Select(name => (JsonNode?)Label(repo, FindLabel(repo, name))));

    // A PR may carry a label name the repository doesn't list (added through the API by name,
    // which creates it on GitHub); give it a stable id derived from the name.
    private static SimLabel FindLabel(SimRepository repo, string name) =>
        repo.Labels.FirstOrDefault(l => string.Equals(l.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? new SimLabel { Id = StableId(repo.FullName + "/label/" + name), Name = name };

    private static long StableId(string text)
    {
        // FNV-1a, folded to a positive 31-bit number so it fits every client's id type.
        var hash = 2166136261u;
        foreach (var c in text) hash = (hash ^ c) * 16777619u;
        return (hash & 0x7FFFFFFF) + 1;
    }

    public JsonObject Milestone(SimRepository repo, SimMilestone milestone)
    {
        var api = ApiUrl($"repos/{repo.FullName}/milestones/{milestone.Number}");
        var members = repo.Pulls.Where(p => p.Milestone?.Id == milestone.Id).ToList();
        return new()
        {
            ["url"] = api,
            ["html_url"] = HtmlUrl($"{repo.FullName}/milestone/{milestone.Number}"),
            ["labels_url"] = api + "/labels",
            ["id"] = milestone.Id,
            ["node_id"] = NodeId("Milestone", milestone.Id),
            ["number"] = milestone.Number,
            ["title"] = milestone.Title,
            ["description"] = milestone.Description,
            ["creator"] = User(milestone.Creator),
            ["open_issues"] = members.Count(p => p.State == "open"),
            ["closed_issues"] = members.Count(p => p.State != "open"),
            ["state"] = milestone.State,
            ["created_at"] = Timestamp(milestone.CreatedAt),
            ["updated_at"] = Timestamp(milestone.UpdatedAt),
            ["due_on"] = Timestamp(milestone.DueOn),
            ["closed_at"] = Timestamp(milestone.ClosedAt),
        };
    }

    /// <summary>A review as the REST API returns it (state upper case: APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED).</summary>
    public JsonObject Review(SimRepository repo, SimPullRequest pr, SimReview review)
    {
        var pull = ApiUrl($"repos/{repo.FullName}/pulls/{pr.Number}");
        var html = HtmlUrl($"{repo.FullName}/pull/{pr.Number}") + $"#pullrequestreview-{review.Id}";
        return new()
        {
            ["id"] = review.Id,
            ["node_id"] = NodeId("PullRequestReview", review.Id),
            ["user"] = User(review.User),
            ["body"] = review.Body ?? "",
            ["commit_id"] = review.CommitId,
            ["submitted_at"] = Timestamp(review.SubmittedAt),
            ["state"] = review.State,
            ["html_url"] = html,
            ["pull_request_url"] = pull,
            ["author_association"] = AuthorAssociation(repo, review.User),
            ["_links"] = new JsonObject { ["html"] = Href(html), ["pull_request"] = Href(pull) },
        };
    }

    public JsonObject IssueComment(SimRepository repo, SimIssueComment comment)
    {
        var api = ApiUrl($"repos/{repo.FullName}/issues/comments/{comment.Id}");
        var isPull = repo.Pulls.Any(p => p.Number == comment.IssueNumber);
        return new()
        {
            ["url"] = api,
            ["html_url"] = HtmlUrl($"{repo.FullName}/{(isPull ? "pull" : "issues")}/{comment.IssueNumber}") + $"#issuecomment-{comment.Id}",
            ["issue_url"] = ApiUrl($"repos/{repo.FullName}/issues/{comment.IssueNumber}"),
            ["id"] = comment.Id,
            ["node_id"] = NodeId("IssueComment", comment.Id),
            ["user"] = User(comment.User),
            ["created_at"] = Timestamp(comment.CreatedAt),
            ["updated_at"] = Timestamp(comment.UpdatedAt),
            ["author_association"] = AuthorAssociation(repo, comment.User),
            ["body"] = comment.Body,
            ["reactions"] = ReactionSummary(api + "/reactions", comment.Reactions),
            ["performed_via_github_app"] = null,
        };
    }

    private static readonly string[] ReactionContents = ["+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"];

    private static JsonObject ReactionSummary(string url, IReadOnlyCollection<SimReaction> reactions)
    {
        var json = new JsonObject { ["url"] = url, ["total_count"] = reactions.Count };
        foreach (var content in ReactionContents) json[content] = reactions.Count(r => r.Content == content);
        return json;
    }

    public JsonObject Reaction(SimReaction reaction) => new()
    {
        ["id"] = reaction.Id,
        ["node_id"] = NodeId("Reaction", reaction.Id),
        ["user"] = User(reaction.User),
        ["content"] = reaction.Content,
        ["created_at"] = Timestamp(reaction.CreatedAt),
    };

    /// <summary>An issue, as issue_comment payloads and the issues API show a pull request.</summary>
    public JsonObject Issue(SimRepository repo, SimPullRequest pr)
    {
        var api = ApiUrl($"repos/{repo.FullName}/issues/{pr.Number}");
        var pullApi = ApiUrl($"repos/{repo.FullName}/pulls/{pr.Number}");
        var html = HtmlUrl($"{repo.FullName}/pull/{pr.Number}");
        return new()
        {
            ["url"] = api,
            ["repository_url"] = ApiUrl($"repos/{repo.FullName}"),
            ["labels_url"] = api + "/labels{/name}",
            ["comments_url"] = api + "/comments",
            ["events_url"] = api + "/events",
            ["html_url"] = html,
            ["id"] = pr.Id,
            ["node_id"] = NodeId("PullRequest", pr.Id),
            ["number"] = pr.Number,
            ["title"] = pr.Title,
            ["user"] = User(pr.User),
            ["labels"] = PullRequestLabels(repo, pr),
            ["state"] = pr.State,
            ["locked"] = false,
            ["assignee"] = pr.Assignees.Count > 0 ? User(pr.Assignees[0]) : null,
            ["assignees"] = JsonList(pr.Assignees.Select(u => (JsonNode?)User(u))),
            ["milestone"] = pr.Milestone is { } m ? Milestone(repo, m) : null,
            ["comments"] = repo.Comments.Count(c => c.IssueNumber == pr.Number),
            ["created_at"] = Timestamp(pr.CreatedAt),
            ["updated_at"] = Timestamp(pr.UpdatedAt),
            ["closed_at"] = Timestamp(pr.ClosedAt),
            ["author_association"] = AuthorAssociation(repo, pr.User),
            ["active_lock_reason"] = null,
            ["draft"] = pr.Draft,
            ["pull_request"] = new JsonObject
            {
                ["url"] = pullApi,
                ["html_url"] = html,
                ["diff_url"] = html + ".diff",
                ["patch_url"] = html + ".patch",
                ["merged_at"] = Timestamp(pr.MergedAt),
            },
            ["body"] = pr.Body,
            ["reactions"] = ReactionSummary(api + "/reactions", []),
            ["timeline_url"] = api + "/timeline",
            ["performed_via_github_app"] = null,
            ["state_reason"] = pr.State == "closed" ? (pr.Merged ? "completed" : "not_planned") : null,
        };
    }

    // ---- statuses and checks ----

    public JsonObject Status(SimRepository repo, SimStatus status) => new()
    {
        ["url"] = ApiUrl($"repos/{repo.FullName}/statuses/{status.Sha}"),
        ["avatar_url"] = HtmlUrl($"avatars/u/{status.Creator.Id}?v=4"),
        ["id"] = status.Id,
        ["node_id"] = NodeId("StatusContext", status.Id),
        ["state"] = status.State,
        ["description"] = status.Description,
        ["target_url"] = status.TargetUrl,
        ["context"] = status.Context,
        ["created_at"] = Timestamp(status.CreatedAt),
        ["updated_at"] = Timestamp(status.CreatedAt),
        ["creator"] = User(status.Creator),
    };

    // Checks on GitHub are always written by an App. The simulator has no Apps, so every check
    // suite and run is attributed to one simulated App owned by the repository owner.
    private JsonObject App(SimRepository repo) => new()
    {
        ["id"] = 1,
        ["slug"] = "simulator-ci",
        ["node_id"] = NodeId("App", 1),
        ["owner"] = User(repo.Owner),
        ["name"] = "Simulator CI",
        ["description"] = "Checks posted through the MergeQueue GitHub simulator",
        ["external_url"] = HtmlUrl(""),
        ["html_url"] = HtmlUrl("apps/simulator-ci"),
        ["created_at"] = Timestamp(repo.CreatedAt),
        ["updated_at"] = Timestamp(repo.CreatedAt),
        ["permissions"] = new JsonObject
        {
            ["actions"] = "write",
            ["administration"] = "read",
            ["checks"] = "write",
            ["contents"] = "write",
            ["deployments"] = "read",
            ["emails"] = "read",
            ["issues"] = "write",
            ["members"] = "read",
            ["metadata"] = "read",
            ["organization_administration"] = "read",
            ["organization_hooks"] = "read",
            ["organization_packages"] = "read",
            ["organization_plan"] = "read",
            ["organization_projects"] = "read",
            ["organization_user_blocking"] = "read",
            ["packages"] = "read",
            ["pages"] = "read",
            ["pull_requests"] = "write",
            ["repository_hooks"] = "read",
            ["repository_projects"] = "read",
            ["security_events"] = "read",
            ["statuses"] = "write",
            ["team_discussions"] = "read",
            ["vulnerability_alerts"] = "read",
        },
        ["events"] = new JsonArray(),
    };

    // The minimal pull request objects checks carry: open PRs whose head is the checked commit.
    private JsonArray CheckPullRequests(SimRepository repo, string headSha)
    {
        JsonObject RepoRef() => new() { ["id"] = repo.Id, ["url"] = ApiUrl($"repos/{repo.FullName}"), ["name"] = repo.Name };
        return JsonList(repo.Pulls
            .Where(p => p.State == "open" && p.HeadSha == headSha)
            .Select(p => (JsonNode?)new JsonObject
            {
                ["url"] = ApiUrl($"repos/{repo.FullName}/pulls/{p.Number}"),
                ["id"] = p.Id,
                ["number"] = p.Number,
                ["head"] = new JsonObject { ["ref"] = p.HeadRef, ["sha"] = p.HeadSha, ["repo"] = RepoRef() },
                ["base"] = new JsonObject { ["ref"] = p.BaseRef, ["sha"] = p.BaseSha, ["repo"] = RepoRef() },
            }));
    }

    /// <param name="headCommit">The suite's head commit; read through <see cref="CommitReader"/> when not given.</param>
    public JsonObject CheckSuite(SimRepository repo, SimCheckSuite suite, SimCommit? headCommit = null)
    {
        var api = ApiUrl($"repos/{repo.FullName}/check-suites/{suite.Id}");
        headCommit ??= CommitReader?.Invoke(repo, suite.HeadSha);
        return new()
        {
            ["id"] = suite.Id,
            ["node_id"] = NodeId("CheckSuite", suite.Id),
            ["head_branch"] = suite.HeadBranch,
            ["head_sha"] = suite.HeadSha,
            ["status"] = suite.Status,
            ["conclusion"] = suite.Conclusion,
            ["url"] = api,
            ["before"] = suite.Before ?? headCommit?.Parents.FirstOrDefault() ?? ZeroSha,
            ["after"] = suite.HeadSha,
            ["pull_requests"] = CheckPullRequests(repo, suite.HeadSha),
            ["app"] = App(repo),
            ["created_at"] = Timestamp(suite.CreatedAt),
            ["updated_at"] = Timestamp(suite.UpdatedAt),
            ["rerequestable"] = true,
            ["runs_rerequestable"] = true,
            ["latest_check_runs_count"] = repo.CheckRuns.Where(r => r.CheckSuiteId == suite.Id).Select(r => r.Name).Distinct().Count(),
            ["check_runs_url"] = api + "/check-runs",
            ["head_commit"] = headCommit is null
                ? new JsonObject { ["id"] = suite.HeadSha }
                : new JsonObject
                {
                    ["id"] = headCommit.Sha,
                    ["tree_id"] = headCommit.TreeSha,
                    ["message"] = headCommit.Message,
                    ["timestamp"] = Timestamp(headCommit.Committer.Date),
                    ["author"] = new JsonObject { ["name"] = headCommit.Author.Name, ["email"] = headCommit.Author.Email },
                    ["committer"] = new JsonObject { ["name"] = headCommit.Committer.Name, ["email"] = headCommit.Committer.Email },
                },
        };
    }

    public JsonObject CheckRun(SimRepository repo, SimCheckRun run)
    {
        var api = ApiUrl($"repos/{repo.FullName}/check-runs/{run.Id}");
        var html = HtmlUrl($"{repo.FullName}/runs/{run.Id}");
        var suite = repo.CheckSuites.FirstOrDefault(s => s.Id == run.CheckSuiteId);
        return new()
        {
            ["id"] = run.Id,
            ["name"] = run.Name,
            ["node_id"] = NodeId("CheckRun", run.Id),
            ["head_sha"] = run.HeadSha,
            ["external_id"] = run.ExternalId ?? "",
            ["url"] = api,
            ["html_url"] = html,
            ["details_url"] = run.DetailsUrl ?? html,
            ["status"] = run.Status,
            ["conclusion"] = run.Conclusion,
            ["started_at"] = Timestamp(run.StartedAt),
            ["completed_at"] = Timestamp(run.CompletedAt),
            ["output"] = new JsonObject
            {
                ["title"] = run.OutputTitle,
                ["summary"] = run.OutputSummary,
                ["text"] = run.OutputText,
                ["annotations_count"] = 0,
                ["annotations_url"] = api + "/annotations",
            },
            ["check_suite"] = suite is null ? new JsonObject { ["id"] = run.CheckSuiteId } : CheckSuite(repo, suite),
            ["app"] = App(repo),
            ["pull_requests"] = CheckPullRequests(repo, run.HeadSha),
        };
    }

    public JsonObject Label(SimRepository repo, SimLabel label) => new()
    {
        ["id"] = label.Id,
        ["node_id"] = NodeId("Label", label.Id),
        ["url"] = ApiUrl($"repos/{repo.FullName}/labels/{Uri.EscapeDataString(label.Name)}"),
        ["name"] = label.Name,
        ["color"] = label.Color,
        ["default"] = false,
        ["description"] = label.Description,
    };

    // ---- git data ----

    private static JsonObject Signature(SimSignature signature) => new()
    {
        ["name"] = signature.Name,
        ["email"] = signature.Email,
        ["date"] = Timestamp(signature.Date),
    };

    // The simulator never signs commits; this is what GitHub reports for unsigned ones.
    private static JsonObject Unsigned() => new()
    {
        ["verified"] = false,
        ["reason"] = "unsigned",
        ["signature"] = null,
        ["payload"] = null,
        ["verified_at"] = null,
    };

    private JsonArray CommitParents(SimRepository repo, SimCommit commit, string apiKind, string htmlKind) =>
        JsonList(commit.Parents.Select(p => (JsonNode?)new JsonObject
        {
            ["sha"] = p,
            ["url"] = ApiUrl($"repos/{repo.FullName}/{apiKind}/{p}"),
            ["html_url"] = HtmlUrl($"{repo.FullName}/{htmlKind}/{p}"),
        }));

    /// <summary>A git commit object (git data API: GET/POST /git/commits).</summary>
    public JsonObject GitCommit(SimRepository repo, SimCommit commit) => new()
    {
        ["sha"] = commit.Sha,
        ["node_id"] = NodeId("Commit", $"{repo.Id}:{commit.Sha}"),
        ["url"] = ApiUrl($"repos/{repo.FullName}/git/commits/{commit.Sha}"),
        ["html_url"] = HtmlUrl($"{repo.FullName}/commit/{commit.Sha}"),
        ["author"] = Signature(commit.Author),
        ["committer"] = Signature(commit.Committer),
        ["tree"] = new JsonObject { ["sha"] = commit.TreeSha, ["url"] = ApiUrl($"repos/{repo.FullName}/git/trees/{commit.TreeSha}") },
        ["message"] = commit.Message,
        ["parents"] = CommitParents(repo, commit, "git/commits", "commit"),
        ["verification"] = Unsigned(),
    };

    /// <summary>A repository commit (GET /commits/{ref}, compare, merges): the git commit nested under "commit".</summary>
    public JsonObject RepoCommit(SimRepository repo, SimCommit commit)
    {
        var api = ApiUrl($"repos/{repo.FullName}/commits/{commit.Sha}");
        return new()
        {
            ["sha"] = commit.Sha,
            ["node_id"] = NodeId("Commit", $"{repo.Id}:{commit.Sha}"),
            ["commit"] = new JsonObject
            {
                ["author"] = Signature(commit.Author),
                ["committer"] = Signature(commit.Committer),
                ["message"] = commit.Message,
                ["tree"] = new JsonObject { ["sha"] = commit.TreeSha, ["url"] = ApiUrl($"repos/{repo.FullName}/git/trees/{commit.TreeSha}") },
                ["url"] = ApiUrl($"repos/{repo.FullName}/git/commits/{commit.Sha}"),
                ["comment_count"] = 0,
                ["verification"] = Unsigned(),
            },
            ["url"] = api,
            ["html_url"] = HtmlUrl($"{repo.FullName}/commit/{commit.Sha}"),
            ["comments_url"] = api + "/comments",
            ["author"] = FindUser(repo, commit.Author.Email) is { } author ? User(author) : null,
            ["committer"] = FindUser(repo, commit.Committer.Email) is { } committer ? User(committer) : null,
            ["parents"] = CommitParents(repo, commit, "commits", "commit"),
        };
    }

    // The account a commit email belongs to: the engine's lookup if it gave one, else the users the
    // repository knows (owner, PR authors, reviewers, commenters, status creators), matched by their
    // email or GitHub's noreply addresses.
    private SimUser? FindUser(SimRepository repo, string email)
    {
        if (UserByEmail?.Invoke(email) is { } user) return user;
        var known = new[] { repo.Owner }
            .Concat(repo.Pulls.Select(p => p.User))
            .Concat(repo.Pulls.SelectMany(p => p.Reviews.Select(r => r.User)))
            .Concat(repo.Comments.Select(c => c.User))
            .Concat(repo.Statuses.Select(s => s.Creator));
        return known.FirstOrDefault(u => Owns(u, email)) ?? FromNoReplyEmail(email);
    }

    // GitHub links its noreply addresses "{id}+{login}@users.noreply.github.com" to the account they name.
    private static SimUser? FromNoReplyEmail(string email)
    {
        const string domain = "@users.noreply.github.com";
        if (!email.EndsWith(domain, StringComparison.OrdinalIgnoreCase)) return null;
        var local = email[..^domain.Length];
        var plus = local.IndexOf('+');
        return plus > 0 && long.TryParse(local[..plus], NumberStyles.None, CultureInfo.InvariantCulture, out var id) && plus < local.Length - 1
            ? new SimUser { Id = id, Login = local[(plus + 1)..], Type = local.EndsWith("[bot]", StringComparison.Ordinal) ? "Bot" : "User" }
            : null;
    }

    private static bool Owns(SimUser user, string email) =>
        string.Equals(email, user.Email, StringComparison.OrdinalIgnoreCase)
        || string.Equals(email, $"{user.Login}@users.noreply.github.com", StringComparison.OrdinalIgnoreCase)
        || string.Equals(email, $"{user.Id}+{user.Login}@users.noreply.github.com", StringComparison.OrdinalIgnoreCase);

    public JsonObject Reference(SimRepository repo, string fullRef, string sha) => new()
    {
        ["ref"] = fullRef,
        ["node_id"] = NodeId("Ref", $"{repo.Id}:{fullRef}"),
        ["url"] = ApiUrl($"repos/{repo.FullName}/git/{fullRef}"),
        ["object"] = new JsonObject
        {
            ["type"] = "commit",
            ["sha"] = sha,
            ["url"] = ApiUrl($"repos/{repo.FullName}/git/commits/{sha}"),
        },
    };

    // ---- webhook payloads: each is the whole body of one delivery ----

    /// <param name="mergeable">As GitHub computed it at the time of the event (null while unknown).</param>
    /// <param name="before">For synchronize: the head sha before the push; before/after are emitted only when it is given.</param>
    /// <param name="label">For labeled/unlabeled: the label added or removed (labeled falls back to the PR's last label).</param>
    /// <param name="stats">The PR's commits/additions/deletions/changed files.</param>
    public JsonObject PullRequestEvent(string action, SimRepository repo, SimPullRequest pr, SimUser sender, JsonObject? changes = null,
        bool? mergeable = null, string? before = null, SimLabel? label = null, SimDiffStats? stats = null)
    {
        var payload = new JsonObject { ["action"] = action, ["number"] = pr.Number };
        // Only the caller knows the head before the push; without it the caller adds before/after itself.
        if (action == "synchronize" && before is not null)
        {
            payload["before"] = before;
            payload["after"] = pr.HeadSha;
        }
        if (changes is not null) payload["changes"] = changes;
        payload["pull_request"] = PullRequest(repo, pr, mergeable, stats);
        if (action is "labeled" or "unlabeled")
        {
            label ??= action == "labeled" && pr.Labels.Count > 0 ? FindLabel(repo, pr.Labels[^1]) : null;
            if (label is not null) payload["label"] = Label(repo, label);
        }
        payload["repository"] = Repository(repo);
        payload["sender"] = User(sender);
        return payload;
    }

    /// <remarks>Webhooks spell the review state in lower case (approved, changes_requested, commented, dismissed), unlike the REST API.</remarks>
    public JsonObject PullRequestReviewEvent(string action, SimRepository repo, SimPullRequest pr, SimReview review, SimUser sender,
        JsonObject? changes = null, bool? mergeable = null, SimDiffStats? stats = null)
    {
        var reviewJson = Review(repo, pr, review);
        reviewJson["state"] = review.State.ToLowerInvariant();
        reviewJson["body"] = review.Body;
        var payload = new JsonObject { ["action"] = action, ["review"] = reviewJson, ["pull_request"] = PullRequest(repo, pr, mergeable, stats) };
        if (changes is not null) payload["changes"] = changes;
        payload["repository"] = Repository(repo);
        payload["sender"] = User(sender);
        return payload;
    }

    public JsonObject IssueCommentEvent(string action, SimRepository repo, SimPullRequest pr, SimIssueComment comment, SimUser sender, JsonObject? changes = null)
    {
        var payload = new JsonObject { ["action"] = action, ["issue"] = Issue(repo, pr), ["comment"] = IssueComment(repo, comment) };
        if (changes is not null) payload["changes"] = changes;
        payload["repository"] = Repository(repo);
        payload["sender"] = User(sender);
        return payload;
    }

    /// <param name="branches">Branches whose head is the status's commit.</param>
    public JsonObject StatusEvent(SimRepository repo, SimStatus status, SimCommit commit, IReadOnlyList<string> branches, SimUser sender) => new()
    {
        ["id"] = status.Id,
        ["sha"] = status.Sha,
        ["name"] = repo.FullName,
        ["target_url"] = status.TargetUrl,
        ["avatar_url"] = HtmlUrl($"avatars/u/{status.Creator.Id}?v=4"),
        ["context"] = status.Context,
        ["description"] = status.Description,
        ["state"] = status.State,
        ["commit"] = RepoCommit(repo, commit),
        ["branches"] = JsonList(branches.Select(b => (JsonNode?)new JsonObject
        {
            ["name"] = b,
            ["commit"] = new JsonObject { ["sha"] = commit.Sha, ["url"] = ApiUrl($"repos/{repo.FullName}/commits/{commit.Sha}") },
            ["protected"] = false,
        })),
        ["created_at"] = Timestamp(status.CreatedAt),
        ["updated_at"] = Timestamp(status.CreatedAt),
        ["repository"] = Repository(repo),
        ["sender"] = User(sender),
    };

    public JsonObject CheckRunEvent(string action, SimRepository repo, SimCheckRun run, SimCheckSuite suite, SimUser sender)
    {
        var runJson = CheckRun(repo, run);
        runJson["check_suite"] = CheckSuite(repo, suite);
        return new() { ["action"] = action, ["check_run"] = runJson, ["repository"] = Repository(repo), ["sender"] = User(sender) };
    }

    /// <param name="headCommit">The suite's head commit; read through <see cref="CommitReader"/> when not given.</param>
    public JsonObject CheckSuiteEvent(string action, SimRepository repo, SimCheckSuite suite, SimUser sender, SimCommit? headCommit = null) =>
        new() { ["action"] = action, ["check_suite"] = CheckSuite(repo, suite, headCommit), ["repository"] = Repository(repo), ["sender"] = User(sender) };

    /// <param name="before">The branch's old sha (40 zeros when created).</param>
    /// <param name="after">The branch's new sha (40 zeros when deleted).</param>
    /// <param name="commits">Commits new to the branch, oldest first (at most 20, as GitHub sends).</param>
    public JsonObject PushEvent(SimRepository repo, string fullRef, string before, string after, bool forced, IReadOnlyList<SimCommit> commits, SimUser pusher)
    {
        var created = before.All(c => c == '0');
        var deleted = after.All(c => c == '0');
        var head = deleted ? null : commits.FirstOrDefault(c => c.Sha == after) ?? CommitReader?.Invoke(repo, after);
        var compare = created
            ? HtmlUrl($"{repo.FullName}/commit/{after}")
            : HtmlUrl($"{repo.FullName}/compare/{before[..Math.Min(12, before.Length)]}...{after[..Math.Min(12, after.Length)]}");
        return new()
        {
            ["ref"] = fullRef,
            ["before"] = before,
            ["after"] = after,
            ["repository"] = RepositoryCore(repo, forPush: true),
            ["pusher"] = new JsonObject { ["name"] = pusher.Login, ["email"] = NoReplyEmail(pusher) },
            ["sender"] = User(pusher),
            ["created"] = created,
            ["deleted"] = deleted,
            ["forced"] = forced,
            ["base_ref"] = null,
            ["compare"] = compare,
            ["commits"] = JsonList(commits.Select(c => (JsonNode?)PushCommit(repo, c))),
            ["head_commit"] = head is null ? null : PushCommit(repo, head),
        };
    }

    private JsonObject PushCommit(SimRepository repo, SimCommit commit) => new()
    {
        ["id"] = commit.Sha,
        ["tree_id"] = commit.TreeSha,
        ["distinct"] = true,
        ["message"] = commit.Message,
        ["timestamp"] = Timestamp(commit.Committer.Date),
        ["url"] = HtmlUrl($"{repo.FullName}/commit/{commit.Sha}"),
        ["author"] = PushSignature(repo, commit.Author),
        ["committer"] = PushSignature(repo, commit.Committer),
        ["added"] = JsonList(commit.Added.Select(p => (JsonNode?)p)),
        ["removed"] = JsonList(commit.Removed.Select(p => (JsonNode?)p)),
        ["modified"] = JsonList(commit.Modified.Select(p => (JsonNode?)p)),
    };

    // "username" is present only when the email belongs to a GitHub account, as on GitHub.
    private JsonObject PushSignature(SimRepository repo, SimSignature signature)
    {
        var json = new JsonObject { ["name"] = signature.Name, ["email"] = signature.Email };
        if (FindUser(repo, signature.Email) is { } user) json["username"] = user.Login;
        return json;
    }

    // ---- GitHub Apps ----

    /// <summary>The permissions the simulator grants every installation: what a merge queue asks for.</summary>
    private static JsonObject AppPermissions() => new()
    {
        ["checks"] = "write",
        ["contents"] = "write",
        ["issues"] = "write",
        ["metadata"] = "read",
        ["pull_requests"] = "write",
        ["statuses"] = "write",
    };

    private static readonly string[] AppEvents = ["check_run", "check_suite", "issue_comment", "pull_request", "pull_request_review", "push", "status"];

    /// <summary>The <c>installation</c> member of an App's repository deliveries.</summary>
    public static JsonObject InstallationReference(long id) => new() { ["id"] = id, ["node_id"] = NodeId("Integration::Installation", id) };

    public JsonObject App(SimApp app, int installations) => new()
    {
        ["id"] = app.Id,
        ["slug"] = app.Slug,
        ["node_id"] = NodeId("Integration", app.Id),
        ["client_id"] = $"Iv1.{app.Id:x16}",
        ["owner"] = User(app.Owner),
        ["name"] = app.Slug,
        ["description"] = "",
        ["external_url"] = HtmlUrl(""),
        ["html_url"] = HtmlUrl($"apps/{app.Slug}"),
        ["created_at"] = Timestamp(app.CreatedAt),
        ["updated_at"] = Timestamp(app.CreatedAt),
        ["permissions"] = AppPermissions(),
        ["events"] = JsonList(AppEvents.Select(e => (JsonNode?)e)),
        ["installations_count"] = installations,
    };

    /// <param name="forWebhook">Deliveries carry the times as unix seconds; the REST API as timestamps.</param>
    public JsonObject Installation(SimInstallation installation, bool forWebhook = false) => new()
    {
        ["id"] = installation.Id,
        ["account"] = User(installation.Account),
        ["repository_selection"] = "selected",
        ["access_tokens_url"] = ApiUrl($"app/installations/{installation.Id}/access_tokens"),
        ["repositories_url"] = ApiUrl("installation/repositories"),
        ["html_url"] = HtmlUrl($"settings/installations/{installation.Id}"),
        ["app_id"] = installation.App.Id,
        ["app_slug"] = installation.App.Slug,
        ["target_id"] = installation.Account.Id,
        ["target_type"] = installation.Account.Type == "Organization" ? "Organization" : "User",
        ["permissions"] = AppPermissions(),
        ["events"] = JsonList(AppEvents.Select(e => (JsonNode?)e)),
        ["created_at"] = forWebhook ? installation.CreatedAt.ToUnixTimeSeconds() : Timestamp(installation.CreatedAt),
        ["updated_at"] = forWebhook ? installation.UpdatedAt.ToUnixTimeSeconds() : Timestamp(installation.UpdatedAt),
        ["single_file_name"] = null,
        ["has_multiple_single_files"] = false,
        ["single_file_paths"] = new JsonArray(),
        ["suspended_at"] = null,
        ["suspended_by"] = null,
    };

    /// <summary>The short repository shape of installation payloads and token answers.</summary>
    public static JsonObject InstallationRepository(SimRepository repo) => new()
    {
        ["id"] = repo.Id,
        ["node_id"] = NodeId("Repository", repo.Id),
        ["name"] = repo.Name,
        ["full_name"] = repo.FullName,
        ["private"] = repo.Private,
    };

    public JsonObject InstallationEvent(string action, SimInstallation installation, IEnumerable<SimRepository> repositories, SimUser sender) => new()
    {
        ["action"] = action,
        ["installation"] = Installation(installation, forWebhook: true),
        ["repositories"] = JsonList(repositories.Select(r => (JsonNode?)InstallationRepository(r))),
        ["requester"] = null,
        ["sender"] = User(sender),
    };

    public JsonObject InstallationRepositoriesEvent(string action, SimInstallation installation, IEnumerable<SimRepository> added, IEnumerable<SimRepository> removed, SimUser sender) => new()
    {
        ["action"] = action,
        ["installation"] = Installation(installation, forWebhook: true),
        ["repository_selection"] = "selected",
        ["repositories_added"] = JsonList(added.Select(r => (JsonNode?)InstallationRepository(r))),
        ["repositories_removed"] = JsonList(removed.Select(r => (JsonNode?)InstallationRepository(r))),
        ["requester"] = null,
        ["sender"] = User(sender),
    };
}
