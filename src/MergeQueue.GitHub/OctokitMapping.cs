using MergeQueue.Core;
using MergeQueue.Core.Ports;
using Octokit;
using CorePermission = MergeQueue.Core.Ports.Permission;

namespace MergeQueue.GitHub;

/// <summary>
/// Octokit's types to Core's. GitHub adds enum values over time, so everything here reads the raw
/// strings (<c>StringValue</c>) and decides what an unknown value means instead of throwing.
/// </summary>
internal static class OctokitMapping
{
    public static PullRequestInfo PullRequest(PullRequest pr) => new(
        pr.Number,
        pr.Title,
        pr.User?.Login ?? "",
        new CommitSha(pr.Head.Sha),
        pr.Head.Ref,
        pr.Base.Ref,
        Open: string.Equals(pr.State.StringValue, "open", StringComparison.OrdinalIgnoreCase),
        pr.Merged,
        pr.Draft,
        (pr.Labels ?? []).Select(l => l.Name).ToList())
    {
        ChangedLines = pr.Additions + pr.Deletions,
    };

    /// <summary>A pull request's commit (GET /pulls/{n}/commits).</summary>
    public static CommitInfo Commit(PullRequestCommit commit) => new(
        new CommitSha(commit.Sha),
        commit.Commit?.Tree?.Sha ?? "",
        (commit.Parents ?? []).Select(p => new CommitSha(p.Sha)).ToList(),
        commit.Commit?.Message ?? "",
        commit.Commit?.Author?.Name ?? "",
        commit.Commit?.Author?.Email ?? "");

    /// <summary>Null for reviews that are not submitted (PENDING) or of a kind we don't know.</summary>
    public static Review? Review(PullRequestReview review)
    {
        ReviewState? state = review.State.StringValue?.ToUpperInvariant() switch
        {
            "APPROVED" => ReviewState.Approved,
            "CHANGES_REQUESTED" => ReviewState.ChangesRequested,
            "COMMENTED" => ReviewState.Commented,
            "DISMISSED" => ReviewState.Dismissed,
            _ => null,
        };
        return state is null ? null : new Review(review.User?.Login ?? "", state.Value, new CommitSha(review.CommitId), review.SubmittedAt);
    }

    public static CheckState StatusState(string? state) => state?.ToLowerInvariant() switch
    {
        "success" => CheckState.Success,
        "failure" or "error" => CheckState.Failure,
        _ => CheckState.Pending,
    };

    /// <summary>
    /// A check run is pending until completed; then neutral and skipped pass (GitHub's own branch
    /// protection treats them so), and every other conclusion, known or new, fails.
    /// </summary>
    public static CheckState CheckRunState(string? status, string? conclusion)
    {
        if (!string.Equals(status, "completed", StringComparison.OrdinalIgnoreCase)) return CheckState.Pending;
        return conclusion?.ToLowerInvariant() switch
        {
            "success" or "neutral" or "skipped" => CheckState.Success,
            null or "" => CheckState.Pending,
            _ => CheckState.Failure,
        };
    }

    /// <summary>
    /// The latest status per context (statuses arrive newest first, contexts compare
    /// case-insensitively), then the latest check run per name.
    /// </summary>
    public static IReadOnlyList<Check> Checks(IEnumerable<CommitStatus> statuses, IEnumerable<CheckRun> checkRuns)
    {
        var result = new List<Check>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var status in statuses.OrderByDescending(s => s.UpdatedAt).ThenByDescending(s => s.Id))
        {
            if (seen.Add(status.Context))
                result.Add(new Check(status.Context, StatusState(status.State.StringValue), status.Description, status.TargetUrl));
        }

        // Run ids grow with time, so the highest id per name is the latest run.
        foreach (var run in checkRuns.GroupBy(r => r.Name, StringComparer.Ordinal).Select(g => g.MaxBy(r => r.Id)!).OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            result.Add(new Check(run.Name, CheckRunState(run.Status.StringValue, run.Conclusion?.StringValue), Describe(run.Output), run.DetailsUrl ?? run.HtmlUrl));
        }
        return result;
    }

    /// <summary>
    /// role_name is exact (it knows maintain and triage); the legacy permission field folds them
    /// into write and read and is the fallback for custom roles.
    /// </summary>
    public static CorePermission Permission(string? roleName, string? permission) =>
        Level(roleName) ?? Level(permission) ?? CorePermission.None;

    private static CorePermission? Level(string? value) => value?.ToLowerInvariant() switch
    {
        "admin" => CorePermission.Admin,
        "maintain" => CorePermission.Maintain,
        "write" or "push" => CorePermission.Write,
        "triage" => CorePermission.Triage,
        "read" or "pull" => CorePermission.Read,
        "none" => CorePermission.None,
        _ => null,
    };

    public static CommitInfo Commit(Commit commit) => new(
        new CommitSha(commit.Sha),
        commit.Tree.Sha,
        (commit.Parents ?? []).Select(p => new CommitSha(p.Sha)).ToList(),
        commit.Message,
        commit.Author?.Name ?? "",
        commit.Author?.Email ?? "")
    {
        AuthorDate = commit.Author?.Date,
    };

    /// <summary>A repository commit (compare lists these): the git commit is nested, the parents are not.</summary>
    public static CommitInfo Commit(GitHubCommit commit) => new(
        new CommitSha(commit.Sha),
        commit.Commit.Tree.Sha,
        (commit.Parents ?? []).Select(p => new CommitSha(p.Sha)).ToList(),
        commit.Commit.Message,
        commit.Commit.Author?.Name ?? "",
        commit.Commit.Author?.Email ?? "")
    {
        AuthorDate = commit.Commit.Author?.Date,
    };

    /// <summary>Null stays null: GitHub then uses the token's user and the current time.</summary>
    public static Committer? Signature(GitIdentity? identity, TimeProvider time) =>
        identity is null ? null : new Committer(identity.Name, identity.Email, identity.Date ?? time.GetUtcNow());

    public static CommitState CommitState(StatusState state) => state switch
    {
        Core.Ports.StatusState.Pending => Octokit.CommitState.Pending,
        Core.Ports.StatusState.Success => Octokit.CommitState.Success,
        Core.Ports.StatusState.Failure => Octokit.CommitState.Failure,
        Core.Ports.StatusState.Error => Octokit.CommitState.Error,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    /// <summary>GitHub's reaction names (the REST "content" values) to Octokit's enum.</summary>
    public static ReactionType Reaction(string content) => content.ToLowerInvariant() switch
    {
        "+1" => ReactionType.Plus1,
        "-1" => ReactionType.Minus1,
        "laugh" => ReactionType.Laugh,
        "confused" => ReactionType.Confused,
        "heart" => ReactionType.Heart,
        "hooray" => ReactionType.Hooray,
        "rocket" => ReactionType.Rocket,
        "eyes" => ReactionType.Eyes,
        _ => throw new ArgumentOutOfRangeException(nameof(content), content, "not a GitHub reaction"),
    };

    /// <summary>GitHub refuses a status description over 140 characters (422); cut it with an ellipsis.</summary>
    public static string StatusDescription(string description)
    {
        const int Max = 140;
        if (description.Length <= Max) return description;
        var cut = Max - 1;
        // Never leave half a surrogate pair behind.
        if (char.IsHighSurrogate(description[cut - 1])) cut--;
        return description[..cut] + "…";
    }

    /// <summary>A check run's title and summary: what a person reads, and what <c>flaky_patterns</c> are matched against.</summary>
    private static string? Describe(Octokit.CheckRunOutputResponse? output) =>
        output is null ? null : string.Join(": ", new[] { output.Title, output.Summary }.Where(t => !string.IsNullOrWhiteSpace(t))) is { Length: > 0 } text ? text : null;
}
