using MergeQueue.Core.Ports;

namespace MergeQueue.Core;

/// <summary>Every text a user sees: status descriptions, refusals, commit messages. One place to read and change them.</summary>
public static class Messages
{
    /// <summary>GitHub refuses status descriptions over 140 characters.</summary>
    public const int MaxStatusLength = 140;

    /// <summary>Cut to GitHub's limit on a character boundary: never half of a surrogate pair.</summary>
    public static string Status(string text)
    {
        if (text.Length <= MaxStatusLength) return text;
        var cut = MaxStatusLength - 1;
        if (char.IsHighSurrogate(text[cut - 1])) cut--;
        return text[..cut] + "…";
    }

    // Waiting (REQUESTED)
    public const string WaitingDraft = "draft: mark it ready for review";
    public static string WaitingChangesRequested(IEnumerable<string> by) => $"changes requested by {string.Join(", ", by)}";
    public static string WaitingApprovals(int missing, int required) =>
        $"waiting for {missing} more approving review{(missing == 1 ? "" : "s")} ({required} required)";
    public static string WaitingApprovals(int missing, int required, IReadOnlyCollection<string> approvedBy) =>
        approvedBy.Count == 0 ? WaitingApprovals(missing, required)
        : $"waiting for {missing} more approving review{(missing == 1 ? "" : "s")} ({required} required, approved by {string.Join(", ", approvedBy)})";
    /// <summary>As above, naming the approvers who do not count (no write permission) so nobody wonders why.</summary>
    public static string WaitingApprovals(int missing, int required, IReadOnlyCollection<string> approvedBy, IReadOnlyCollection<string> notCounted) =>
        notCounted.Count == 0 ? WaitingApprovals(missing, required, approvedBy)
        : $"{WaitingApprovals(missing, required, approvedBy)}; not counted, no write permission: {string.Join(", ", notCounted)}";
    public static string WaitingPreCheckMissing(string context) => $"waiting for pre-check {context}";
    public static string WaitingPreCheckPending(string context) => $"pre-check {context} is running";
    public static string WaitingPreCheckFailed(string context) => $"pre-check {context} failed";
    public static string WaitingBlockingLabel(string label) => $"blocked by label {label}";
    public static string Requested(string waitingFor) => Status($"Requested, {waitingFor}");
    public static string WaitingRequiredLabel(string label) => $"missing required label {label}";
    public static string WaitingBatchDelay(DateTimeOffset at) => $"waiting for the batch delay (until {at.UtcDateTime:HH:mm:ss} UTC)";

    // Rules that fail a request (only new commits or a config change could satisfy them)
    public static string RuleFailed(string rule) => Status($"Rule failed: {rule}");
    public static string RuleAuthorDenied(string author) => $"author {author} is in denied_authors";
    public static string RuleAuthorNotAllowed(string author) => $"author {author} is not in allowed_authors";
    public static string RuleTooManyLines(int lines, int max) => $"{lines} changed lines, more than max_changed_lines {max}";
    public static string RuleCommitMessage(CommitSha commit, string pattern) => $"commit {commit.Short} does not match commit_message_pattern {pattern}";

    // Freeze
    public static string Frozen(string target, string by, string? reason) =>
        string.IsNullOrWhiteSpace(reason) ? $"{target} is frozen by {by}" : $"{target} is frozen by {by}: {reason}";
    public static string Held(string why) => Status("Queued, held back: " + why);
    public static string RefusedNotFrozen(string target) => $"{target} is not frozen";

    // Try builds (status context mergequeue-try)
    public static string TryRunning(CommitSha sha, string target) => $"Try: testing the merge into {target} ({sha.Short})";
    public static string TryPassed(CommitSha sha) => $"Try passed on {sha.Short}";
    public static string TryFailed(IEnumerable<string> contexts) => Status($"Try failed: {string.Join(", ", contexts)}");
    public static string TryConflict(string target) => $"Try: merge conflict with {target}";
    public const string TryReplaced = "Try replaced by a newer try";
    public static string TryTimedOut(TimeSpan limit) => $"Try timed out after {Duration(limit)}";
    public static string TryCommit(int number, string? title) => $"Try #{number}: {title}";

    // Comments (only with comments: true)
    public static string CommandReply(string actor, IEnumerable<string> results) =>
        $"@{actor}\n\n" + string.Join("\n", results.Select(r => $"- {r}"));

    // Queue
    public static string Queued(int position, int length) => $"Queued: position {position} of {length}";
    /// <summary>The status's form: without the length, which changes whenever a PR joins the queue.</summary>
    public static string QueuedAt(int position) => $"Queued: position {position}";
    public static string Testing(AttemptId attempt, int size, int place) =>
        $"Testing in attempt {attempt}, {Ordinal(place)} in line" + (size == 1 ? "" : $", with {size - 1} other PR{(size == 2 ? "" : "s")}");
    public static string TestingAgain(AttemptId attempt, int retry, string why) => Status($"Testing in attempt {attempt} again (flake retry {retry}: {why})");
    public static string FlakeRetry(string checks, string? description) => Status($"{checks} failed like a flake ({description}): rebuilt on the same tree");
    public static string Constructing(AttemptId attempt) => $"Building attempt {attempt}";
    public static string SplitConflict(AttemptId from) => $"Merge conflict with another PR of attempt {from}: will be retried alone";
    public static string SplitBisect(AttemptId from) => $"Attempt {from} failed: bisecting to find the culprit";
    public static string SplitBatchChanged(int number) => $"PR #{number} left the batch: rebuilding";
    public static string RequeuedTargetMoved(string target) => $"{target} moved during testing: re-queued";
    public static string AbandonedAheadFailed(AttemptId ahead) => $"Attempt {ahead} ahead failed: re-queued";
    public static string AbandonedAheadLeft(AttemptId ahead) => $"Attempt {ahead} ahead left the line: re-queued";
    public static string PassedOnOldTarget(AttemptId attempt) => $"Attempt {attempt} passed on an older target: re-queued first in line";
    public static string LandedWith(AttemptId attempt) => $"landed with attempt {attempt}, which passed and holds it";
    public const string NoPullRequestsLeft = "no pull requests left";
    public const string EveryPullRequestConflicted = "every pull request conflicted";
    public const string RebuildingAfterCrash = "found constructing: rebuilding";
    public static string QueuedFor(string target) => $"queued for {target}";
    public static string PrioritySet(int priority) => $"priority set to {priority}";
    public const string AlreadyRequested = "already requested";
    public static string RefusedQueuedElsewhere(string queuedFor, string wanted) => $"already queued for {queuedFor}; cancel it first to merge into {wanted}";

    // The mergequeue check run (GitHub Apps)
    public static string CheckRunSummary(string state, string why, AttemptId? attempt, CommitSha? staging) =>
        $"**{state}**: {why}" + (attempt is { } a ? $"\n\nAttempt {a}" + (staging is { } s ? $", staging commit {s.Value}" : ", being built") : "");

    // ETA
    public static string Eta(Queue.EtaEstimate eta) =>
        $"about {Rough(eta.Expected)}: {eta.AttemptsAhead} attempt{(eta.AttemptsAhead == 1 ? "" : "s")} ahead, median staging run {Rough(eta.MedianRun)} over the last {eta.Samples}";
    /// <summary>A status with its ETA, when the two fit in a status description; else the status alone.</summary>
    public static string WithEta(string status, Queue.EtaEstimate? eta) =>
        eta is null ? status
        : $"{status}; {Eta(eta)}" is { Length: <= MaxStatusLength } full ? full
        : $"{status}; ETA about {Rough(eta.Expected)}" is { Length: <= MaxStatusLength } brief ? brief
        : status;
    /// <summary>A duration as a person rounds it: minutes, or hours from two hours on.</summary>
    private static string Rough(TimeSpan d) =>
        d < TimeSpan.FromMinutes(1) ? "1 min"
        : d < TimeSpan.FromHours(2) ? $"{Math.Round(d.TotalMinutes):0} min"
        : $"{Math.Round(d.TotalHours, 1).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} h";

    // Outcomes
    public static string MergedIn(CommitSha sha) => $"Merged in {sha.Value}";
    public static string MergedAs(CommitSha sha) => $"Merged as {sha.Value}";
    public const string ConflictWithTarget = "Merge conflict with the target branch";
    public static string NoProtectedChecks(string target) =>
        Status($"{target}'s branch protection requires no status checks, so nothing would test the merge (required_checks: from_branch_protection)");
    public static string ChecksFailed(IEnumerable<string> contexts) => Status($"Checks failed: {string.Join(", ", contexts)}");
    public static string CancelledByCommand(string actor) => $"Cancelled by {actor}";
    public const string CancelledNewCommits = "Cancelled: new commits were pushed";
    public const string CancelledClosed = "Cancelled: the pull request was closed";
    public const string CancelledMergedElsewhere = "Cancelled: merged outside the queue";
    public const string CancelledDraft = "Cancelled: converted to draft";
    public static string CancelledBaseChanged(string from, string to) => $"Cancelled: base changed from {from} to {to}";
    public static string TimedOut(string state, TimeSpan limit) => $"Timed out: {state} for longer than {Duration(limit)}";
    public static string AttemptTimedOut(AttemptId attempt, string state, TimeSpan limit) => $"Timed out: attempt {attempt} {state} for longer than {Duration(limit)}";

    // Refusals (commands and API)
    public const string RefusedNotManaged = "this repository has no valid .github/mergequeue.yml";
    public const string RefusedNotFound = "no such pull request";
    public const string RefusedClosed = "the pull request is closed";
    public static string RefusedNotTarget(string branch) => $"{branch} is not a target branch of the queue";
    public static string RefusedAlreadyMerging(AttemptId? attempt) => $"already being merged in attempt {attempt}";
    public const string RefusedNotInQueue = "the pull request is not in the queue";
    public static string RefusedPushedAfterCommand(CommitSha head) =>
        $"the head {head.Short} was pushed after this command was written; comment again to act on it";
    public static string RefusedNotApprovedHead(CommitSha approved, CommitSha head) =>
        $"the approval is for {approved.Short}, but the head is now {head.Short}";

    // Commit messages
    public static string MergeCommit(int number, string? title, IEnumerable<string> reviewers)
    {
        var message = $"Merge #{number}: {title}";
        var by = reviewers.ToArray();
        return by.Length == 0 ? message : message + "\n\n" + string.Join("\n", by.Select(r => $"Reviewed-by: {r}"));
    }

    /// <summary>Squash: one commit per PR, GitHub's "title (#N)" subject, approvers and every author of the PR's commits.</summary>
    public static string SquashCommit(int number, string? title, IEnumerable<string> reviewers, IEnumerable<GitIdentity> authors) =>
        WithTrailers($"{title} (#{number})", ReviewedBy(reviewers).Concat(CoAuthoredBy(authors)));

    /// <summary>Octopus: one commit for the batch; the PR heads are its parents, so their authors stay in the history.</summary>
    public static string OctopusCommit(IReadOnlyList<(int Number, string? Title, IReadOnlyList<string> Reviewers)> prs) =>
        WithTrailers($"Merge {PrList(prs.Select(p => p.Number))}\n\n{string.Join("\n", prs.Select(p => $"#{p.Number}: {p.Title}"))}",
            ReviewedBy(prs.SelectMany(p => p.Reviewers)));

    /// <summary>Batch squash: one commit for the batch, every PR listed, its approvers and the authors of all its commits.</summary>
    public static string BatchSquashCommit(IReadOnlyList<(int Number, string? Title, IReadOnlyList<string> Reviewers)> prs, IEnumerable<GitIdentity> authors) =>
        WithTrailers($"Squash {PrList(prs.Select(p => p.Number))}\n\n{string.Join("\n", prs.Select(p => $"#{p.Number}: {p.Title}"))}",
            ReviewedBy(prs.SelectMany(p => p.Reviewers)).Concat(CoAuthoredBy(authors)));

    /// <summary>Cherry-pick: the commit's own message, then which PR it came from and who approved it.</summary>
    public static string CherryPickCommit(string message, int number, string? title, IEnumerable<string> reviewers) =>
        WithTrailers(message.TrimEnd() + $"\n\nFrom #{number}: {title}", ReviewedBy(reviewers));

    /// <summary>Cherry-pick's intermediate merge of one PR commit into tmp; never lands (only its tree is used).</summary>
    public static string ReplayMerge(CommitSha commit, int number) => $"Replay {commit.Short} of #{number}";

    public static string RefusedMergeCommits(CommitSha commit) =>
        $"Refused: the cherry-pick strategy cannot replay merge commit {commit.Short}; rebase the PR onto its base";
    public const string RefusedTooManyCommits = "Refused: the cherry-pick strategy can replay at most 250 commits per PR";

    private static IEnumerable<string> ReviewedBy(IEnumerable<string> reviewers) =>
        reviewers.Distinct(StringComparer.OrdinalIgnoreCase).Select(r => $"Reviewed-by: {r}");

    private static IEnumerable<string> CoAuthoredBy(IEnumerable<GitIdentity> authors) =>
        authors.DistinctBy(a => (a.Name, a.Email.ToLowerInvariant())).Select(a => $"Co-authored-by: {a.Name} <{a.Email}>");

    private static string WithTrailers(string message, IEnumerable<string> trailers)
    {
        var lines = trailers.ToArray();
        return lines.Length == 0 ? message : message + "\n\n" + string.Join("\n", lines);
    }

    private static string PrList(IEnumerable<int> numbers)
    {
        var all = numbers.Select(n => $"#{n}").ToArray();
        return all.Length <= 1 ? string.Concat(all) : $"{string.Join(", ", all[..^1])} and {all[^1]}";
    }

    public static string Ordinal(int n) => n + (n % 100 is 11 or 12 or 13 ? "th" : (n % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" });

    /// <summary>A notification's one line (Slack's <c>text</c>); <paramref name="pulls"/> as "#12 Title".</summary>
    public static string Notification(string @event, string repo, string? target, IReadOnlyList<string> pulls, string? reason, string? actor, TimeSpan? stuckAfter)
    {
        var on = target is null ? repo : $"{repo} {target}";
        var prs = string.Join(", ", pulls);
        var why = string.IsNullOrEmpty(reason) ? "" : $": {reason}";
        return @event switch
        {
            "merged" => $":white_check_mark: Merged into {on}: {prs}", // the reason only repeats the sha
            "failed" => $":x: Failed on {on}: {prs}{why}",
            "timed_out" => $":hourglass: Timed out on {on}: {prs}{why}",
            "stuck" => $":warning: {on} is stuck: nothing merged for {Duration(stuckAfter ?? TimeSpan.Zero)} while {pulls.Count} PR(s) wait: {prs}",
            "frozen" => $":snowflake: {on} frozen{(actor is null ? "" : $" by {actor}")}{why}",
            "unfrozen" => $":sunny: {on} is open again{(actor is null ? "" : $" (unfrozen by {actor})")}",
            _ => $"{@event} on {on}: {prs}{why}",
        };
    }

    public static string Duration(TimeSpan d) =>
        d.TotalDays >= 1 && d.TotalDays == Math.Floor(d.TotalDays) ? $"{d.TotalDays:0}d"
        : d.TotalHours >= 1 && d.TotalHours == Math.Floor(d.TotalHours) ? $"{d.TotalHours:0}h"
        : d.TotalMinutes >= 1 && d.TotalMinutes == Math.Floor(d.TotalMinutes) ? $"{d.TotalMinutes:0}m"
        : $"{d.TotalSeconds:0}s";

    // Built-in runner job statuses (docs/runner.md). A final failure never repeats the log's words: a
    // flaky pattern there would make the Test flow rebuild a commit the runner already retried.
    public const string JobQueued = "queued";
    public static string JobRunning(int tryNumber) => tryNumber <= 1 ? "running" : $"running (try {tryNumber})";
    public static string JobPassed(TimeSpan took) => Status($"passed in {Duration(TimeSpan.FromSeconds(Math.Max(1, Math.Round(took.TotalSeconds))))}");
    public static string JobFailed(int exitCode, int tries) => Status($"failed (exit {exitCode}){(tries > 1 ? $" after {tries} tries" : "")}");
    public static string JobTimedOut(TimeSpan timeout) => Status($"timed out after {Duration(timeout)}");
    public static string JobError(string why) => Status($"runner error: {why}");
    public static string JobCancelled(string why) => Status($"cancelled: {why}");
    public const string JobRemoved = "job removed";
}
