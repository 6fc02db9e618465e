namespace MergeQueue.Core;

/// <summary>Every text a user sees: status descriptions, refusals, commit messages. One place to read and change them.</summary>
public static class Messages
{
    /// <summary>GitHub refuses status descriptions over 140 characters.</summary>
    public const int MaxStatusLength = 140;

    public static string Status(string text) => text.Length <= MaxStatusLength ? text : text[..(MaxStatusLength - 1)] + "…";

    // Waiting (REQUESTED)
    public const string WaitingDraft = "draft: mark it ready for review";
    public static string WaitingChangesRequested(IEnumerable<string> by) => $"changes requested by {string.Join(", ", by)}";
    public static string WaitingApprovals(int missing, int required) =>
        $"waiting for {missing} more approving review{(missing == 1 ? "" : "s")} ({required} required)";
    public static string WaitingPreCheckMissing(string context) => $"waiting for pre-check {context}";
    public static string WaitingPreCheckPending(string context) => $"pre-check {context} is running";
    public static string WaitingPreCheckFailed(string context) => $"pre-check {context} failed";
    public static string WaitingBlockingLabel(string label) => $"blocked by label {label}";
    public static string Requested(string waitingFor) => Status($"Requested, {waitingFor}");

    // Queue
    public static string Queued(int position, int length) => $"Queued: position {position} of {length}";
    public static string QueuedWaitingForBatch(int position, int length) => $"Queued: position {position} of {length}, waiting for the batch delay";
    public static string Testing(AttemptId attempt, int size) => size == 1
        ? $"Testing in attempt {attempt}"
        : $"Testing in attempt {attempt} with {size - 1} other PR{(size == 2 ? "" : "s")}";
    public static string Constructing(AttemptId attempt) => $"Building attempt {attempt}";
    public static string SplitConflict(AttemptId from) => $"Merge conflict with another PR of attempt {from}: will be retried alone";
    public static string SplitBisect(AttemptId from) => $"Attempt {from} failed: bisecting to find the culprit";
    public static string SplitBatchChanged(int number) => $"PR #{number} left the batch: rebuilding";
    public static string RequeuedTargetMoved(string target) => $"{target} moved during testing: re-queued";

    // Outcomes
    public static string MergedIn(CommitSha sha) => $"Merged in {sha.Value}";
    public static string MergedAs(CommitSha sha) => $"Merged as {sha.Value}";
    public const string ConflictWithTarget = "Merge conflict with the target branch";
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

    // Commit messages
    public static string MergeCommit(int number, string? title, IEnumerable<string> reviewers)
    {
        var message = $"Merge #{number}: {title}";
        var by = reviewers.ToArray();
        return by.Length == 0 ? message : message + "\n\n" + string.Join("\n", by.Select(r => $"Reviewed-by: {r}"));
    }

    public static string Duration(TimeSpan d) =>
        d.TotalDays >= 1 && d.TotalDays == Math.Floor(d.TotalDays) ? $"{d.TotalDays:0}d"
        : d.TotalHours >= 1 && d.TotalHours == Math.Floor(d.TotalHours) ? $"{d.TotalHours:0}h"
        : d.TotalMinutes >= 1 && d.TotalMinutes == Math.Floor(d.TotalMinutes) ? $"{d.TotalMinutes:0}m"
        : $"{d.TotalSeconds:0}s";
}
