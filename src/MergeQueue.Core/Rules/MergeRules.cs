using System.Text.RegularExpressions;
using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Rules;

/// <summary>What keeps a pull request from merging right now: a thing it waits for, a rule it failed, or where it stands in the queue.</summary>
public enum BlockerKind
{
    Draft,
    ChangesRequested,
    Approvals,
    PreCheck,
    BlockingLabel,
    RequiredLabel,
    CommitMessage,
    ChangedLines,
    Author,
    FrozenTarget,
    QueuePosition,
    BatchDelay,
}

/// <summary>
/// One reason a pull request is not merging yet. <paramref name="Fails"/> marks a rule that only new
/// commits (which void the request anyway) or a config change could satisfy: the request fails
/// instead of waiting forever.
/// </summary>
public sealed record Blocker(BlockerKind Kind, string Text, bool Fails = false)
{
    /// <summary>False for blockers about the queue (frozen target, position, batch delay): those never stop a PR from being queued.</summary>
    public bool AboutThePullRequest => Kind is not (BlockerKind.FrozenTarget or BlockerKind.QueuePosition or BlockerKind.BatchDelay);
}

/// <summary>
/// The merge rules of <c>.github/mergequeue.yml</c> (CONTRACT §3), checked at Request and again at
/// Construct. Things a person can still change on the PR (draft, labels) make it wait; things
/// fixed by its commits or its author (commit messages, size, author) fail it.
/// </summary>
public static class MergeRules
{
    /// <summary>
    /// Every rule the PR breaks. <paramref name="commits"/> is only read when
    /// <c>commit_message_pattern</c> is set (null then means "not fetched": the rule is skipped).
    /// </summary>
    public static IReadOnlyList<Blocker> Check(PullRequestInfo pr, IReadOnlyList<CommitInfo>? commits, RepoConfig config)
    {
        var blockers = new List<Blocker>();
        if (pr.Draft) blockers.Add(new Blocker(BlockerKind.Draft, Messages.WaitingDraft));
        foreach (var label in config.RequiredLabels.Where(l => !pr.Labels.Contains(l, StringComparer.OrdinalIgnoreCase)))
            blockers.Add(new Blocker(BlockerKind.RequiredLabel, Messages.WaitingRequiredLabel(label)));
        foreach (var label in config.BlockingLabels.Where(l => pr.Labels.Contains(l, StringComparer.OrdinalIgnoreCase)))
            blockers.Add(new Blocker(BlockerKind.BlockingLabel, Messages.WaitingBlockingLabel(label)));

        if (config.DeniedAuthors.Contains(pr.Author, StringComparer.OrdinalIgnoreCase))
            blockers.Add(new Blocker(BlockerKind.Author, Messages.RuleAuthorDenied(pr.Author), Fails: true));
        else if (config.AllowedAuthors.Count > 0 && !config.AllowedAuthors.Contains(pr.Author, StringComparer.OrdinalIgnoreCase))
            blockers.Add(new Blocker(BlockerKind.Author, Messages.RuleAuthorNotAllowed(pr.Author), Fails: true));

        if (config.MaxChangedLines is { } max && pr.ChangedLines is { } lines && lines > max)
            blockers.Add(new Blocker(BlockerKind.ChangedLines, Messages.RuleTooManyLines(lines, max), Fails: true));

        if (config.CommitMessagePattern is { } pattern && commits is not null)
        {
            var bad = commits.FirstOrDefault(c => !MessageMatches(pattern, c.Message));
            if (bad is not null)
                blockers.Add(new Blocker(BlockerKind.CommitMessage, Messages.RuleCommitMessage(bad.Sha, pattern), Fails: true));
        }
        return blockers;
    }

    /// <summary>
    /// The pattern is searched in the whole message (<c>^</c> anchors at the start of the message, so <c>^feat: </c> tests the subject line).
    /// A pattern that runs too long counts as no match: a slow regex must not stall the queue.
    /// </summary>
    public static bool MessageMatches(string pattern, string message)
    {
        try
        {
            return Regex.IsMatch(message, pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}
