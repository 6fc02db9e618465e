namespace MergeQueue.Simulator;

// The simulator's in-memory GitHub. Git objects live in real bare repositories on disk
// (see GitRepository); everything GitHub keeps beside git (pull requests, reviews, statuses,
// comments, permissions) lives here. All mutation happens under SimulatorState's lock.

/// <summary>A GitHub account: a person or a bot. The token authenticates API calls as this user.</summary>
public sealed class SimUser
{
    public required long Id { get; init; }
    public required string Login { get; init; }
    public string Type { get; init; } = "User";
    public string? Token { get; set; }
    /// <summary>The commit email GitHub links to this account; null means only the noreply address.</summary>
    public string? Email { get; set; }
    /// <summary>
    /// Permission on every repository, as a GitHub App installed on all repositories has
    /// (admin, maintain, write, triage, read), or null for none beyond the per-repository ones.
    /// </summary>
    public string? GlobalPermission { get; set; }
    /// <summary>The GitHub App this account is the bot of (<c>&lt;slug&gt;[bot]</c>); null for people and plain bots.</summary>
    public long? AppId { get; init; }
}

/// <summary>A GitHub App: it authenticates with JWTs signed by its private key and acts as its bot through installations.</summary>
public sealed class SimApp
{
    public required long Id { get; init; }
    public required string Slug { get; init; }
    public required SimUser Owner { get; init; }
    /// <summary>The account installation tokens act as: <c>&lt;slug&gt;[bot]</c>.</summary>
    public required SimUser Bot { get; init; }
    /// <summary>The public half of the App's key; JWTs are verified against it.</summary>
    public required System.Security.Cryptography.RSA PublicKey { get; init; }
    /// <summary>How long an installation token lives (GitHub: one hour).</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(1);
    /// <summary>The App's webhook; its deliveries name the installation they come through.</summary>
    public SimHook? Hook { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>An App installed on an account, for some of that account's repositories.</summary>
public sealed class SimInstallation
{
    public required long Id { get; init; }
    public required SimApp App { get; init; }
    public required SimUser Account { get; init; }
    /// <summary>Full names of the repositories the installation may reach.</summary>
    public HashSet<string> Repositories { get; } = new(StringComparer.OrdinalIgnoreCase);
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class SimRepository
{
    public required long Id { get; init; }
    public required SimUser Owner { get; init; }
    public required string Name { get; init; }
    public string DefaultBranch { get; set; } = "main";
    public bool Private { get; init; }
    public string? Description { get; set; }
    public required string GitDir { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset PushedAt { get; set; }
    /// <summary>GitHub's detected language (null for an empty repository or one it can't classify).</summary>
    public string? Language { get; set; }
    public string? Homepage { get; set; }
    public List<string> Topics { get; } = [];

    public string FullName => $"{Owner.Login}/{Name}";

    /// <summary>login → admin | maintain | write | triage | read. The owner is always admin.</summary>
    public Dictionary<string, string> Permissions { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<SimPullRequest> Pulls { get; } = [];
    public List<SimIssueComment> Comments { get; } = [];
    public List<SimStatus> Statuses { get; } = [];
    public List<SimCheckRun> CheckRuns { get; } = [];
    public List<SimCheckSuite> CheckSuites { get; } = [];
    public List<SimLabel> Labels { get; } = [];
    public List<SimHook> Hooks { get; } = [];
    /// <summary>Branch name → its protection; a branch not listed is not protected.</summary>
    public Dictionary<string, SimBranchProtection> Protections { get; } = new(StringComparer.Ordinal);

    /// <summary>The last issue/pull request number handed out (they share one sequence, as on GitHub).</summary>
    public int LastNumber { get; set; }
}

/// <summary>A protected branch's rules, as far as the simulator keeps them: the required status checks.</summary>
public sealed class SimBranchProtection
{
    /// <summary>The contexts that must pass; null: the protection requires no status checks.</summary>
    public List<string>? RequiredContexts { get; set; }
    /// <summary>The branch must be up to date with the base before merging.</summary>
    public bool Strict { get; set; }
}

public sealed class SimPullRequest
{
    public required long Id { get; init; }
    public required int Number { get; init; }
    public required string Title { get; set; }
    public string? Body { get; set; }
    public required SimUser User { get; init; }
    public required string HeadRef { get; init; }
    public required string HeadSha { get; set; }
    public required string BaseRef { get; set; }
    /// <summary>The base branch's sha when the PR was opened or last synchronized (as GitHub reports it).</summary>
    public required string BaseSha { get; set; }
    public bool Draft { get; set; }
    public string State { get; set; } = "open";
    public bool Merged { get; set; }
    public string? MergeCommitSha { get; set; }
    public SimUser? MergedBy { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ClosedAt { get; set; }
    public DateTimeOffset? MergedAt { get; set; }
    public List<string> Labels { get; } = [];
    public List<SimReview> Reviews { get; } = [];
    public List<SimUser> Assignees { get; } = [];
    public List<SimUser> RequestedReviewers { get; } = [];
    public SimMilestone? Milestone { get; set; }
}

public sealed class SimMilestone
{
    public required long Id { get; init; }
    public required int Number { get; init; }
    public required string Title { get; set; }
    public string? Description { get; set; }
    /// <summary>open or closed.</summary>
    public string State { get; set; } = "open";
    public required SimUser Creator { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? DueOn { get; set; }
    public DateTimeOffset? ClosedAt { get; set; }
}

public sealed class SimReview
{
    public required long Id { get; init; }
    public required SimUser User { get; init; }
    /// <summary>APPROVED, CHANGES_REQUESTED, COMMENTED or DISMISSED.</summary>
    public required string State { get; set; }
    public required string CommitId { get; init; }
    public string? Body { get; init; }
    public DateTimeOffset SubmittedAt { get; init; }
}

public sealed class SimIssueComment
{
    public required long Id { get; init; }
    public required int IssueNumber { get; init; }
    public required SimUser User { get; init; }
    public required string Body { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<SimReaction> Reactions { get; } = [];
}

public sealed class SimReaction
{
    public required long Id { get; init; }
    public required SimUser User { get; init; }
    /// <summary>+1, -1, laugh, confused, heart, hooray, rocket, eyes.</summary>
    public required string Content { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
}

public sealed class SimStatus
{
    public required long Id { get; init; }
    public required string Sha { get; init; }
    /// <summary>error, failure, pending or success.</summary>
    public required string State { get; init; }
    public required string Context { get; init; }
    public string? Description { get; init; }
    public string? TargetUrl { get; init; }
    public required SimUser Creator { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
}

public sealed class SimCheckSuite
{
    public required long Id { get; init; }
    public required string HeadSha { get; init; }
    public string? HeadBranch { get; init; }
    /// <summary>queued, in_progress or completed.</summary>
    public string Status { get; set; } = "queued";
    public string? Conclusion { get; set; }
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>The branch's sha before the push that created this suite (GitHub's "before"); null if unknown.</summary>
    public string? Before { get; set; }
    /// <summary>The user or app whose check runs this suite groups (GitHub keeps one suite per app and head sha).</summary>
    public SimUser? App { get; init; }
    /// <summary>The head commit, read when the suite was created (payloads carry it as head_commit).</summary>
    public SimCommit? HeadCommit { get; init; }
}

public sealed class SimCheckRun
{
    public required long Id { get; init; }
    public required long CheckSuiteId { get; init; }
    public required string HeadSha { get; init; }
    public required string Name { get; set; }
    /// <summary>queued, in_progress or completed.</summary>
    public string Status { get; set; } = "queued";
    /// <summary>success, failure, neutral, cancelled, skipped, timed_out, action_required, or null until completed.</summary>
    public string? Conclusion { get; set; }
    public string? DetailsUrl { get; set; }
    public string? ExternalId { get; set; }
    public string? OutputTitle { get; set; }
    public string? OutputSummary { get; set; }
    public string? OutputText { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
}

public sealed class SimLabel
{
    public required long Id { get; init; }
    public required string Name { get; init; }
    public string Color { get; init; } = "ededed";
    public string? Description { get; init; }
}

public sealed class SimHook
{
    public required long Id { get; init; }
    public required string Url { get; init; }
    public string? Secret { get; init; }
    /// <summary>Event names, or "*" for all.</summary>
    public List<string> Events { get; init; } = ["*"];
    public bool Active { get; set; } = true;
    /// <summary>The repository a repository hook belongs to; null for a global (GitHub App) hook.</summary>
    public string? Repository { get; init; }
    /// <summary>The registered App whose webhook this is: it gets events of its installations' repositories only.</summary>
    public long? AppId { get; init; }
    public string ContentType { get; init; } = "json";
    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A commit as read back from git.</summary>
public sealed record SimCommit(
    string Sha,
    string TreeSha,
    IReadOnlyList<string> Parents,
    SimSignature Author,
    SimSignature Committer,
    string Message)
{
    /// <summary>Paths this commit added, removed and modified relative to its first parent (push payloads list them).</summary>
    public IReadOnlyList<string> Added { get; init; } = [];
    public IReadOnlyList<string> Removed { get; init; } = [];
    public IReadOnlyList<string> Modified { get; init; } = [];
}

/// <summary>A pull request's size as GitHub reports it (commits, additions, deletions, changed_files); computed from git by the caller.</summary>
public sealed record SimDiffStats(int Commits, int Additions, int Deletions, int ChangedFiles);

public sealed record SimSignature(string Name, string Email, DateTimeOffset Date);
