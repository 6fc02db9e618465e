using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Approval;

/// <summary>Whether a requested PR may be queued, and if not, everything it waits for.</summary>
public sealed record ReadinessResult(IReadOnlyList<string> WaitingFor, ApprovalResult Approval)
{
    public bool Ready => WaitingFor.Count == 0;
    /// <summary>The first thing it waits for, for a status description.</summary>
    public string Summary => WaitingFor.Count == 0 ? "ready" : string.Join("; ", WaitingFor);
}

/// <summary>Seed 003's "ready": non-draft, approved at the commit, pre-checks green at the commit.</summary>
public static class Readiness
{
    public static ReadinessResult Evaluate(PullRequestInfo pr, IEnumerable<Review> reviews, IEnumerable<Check> headChecks, RepoConfig config)
    {
        var waiting = new List<string>();
        if (pr.Draft) waiting.Add(Messages.WaitingDraft);
        var approval = ApprovalRule.Evaluate(reviews, pr.HeadSha, config.RequiredApprovals);
        if (approval.ChangesRequestedBy.Count > 0)
            waiting.Add(Messages.WaitingChangesRequested(approval.ChangesRequestedBy));
        else if (!approval.Approved)
            waiting.Add(Messages.WaitingApprovals(approval.Missing, config.RequiredApprovals));

        var checks = headChecks.ToDictionary(c => c.Context, StringComparer.Ordinal);
        foreach (var context in config.PreChecks)
        {
            if (!checks.TryGetValue(context, out var check)) waiting.Add(Messages.WaitingPreCheckMissing(context));
            else if (check.State == CheckState.Failure) waiting.Add(Messages.WaitingPreCheckFailed(context));
            else if (check.State == CheckState.Pending) waiting.Add(Messages.WaitingPreCheckPending(context));
        }
        foreach (var label in config.BlockingLabels.Where(l => pr.Labels.Contains(l, StringComparer.OrdinalIgnoreCase)))
            waiting.Add(Messages.WaitingBlockingLabel(label));
        return new ReadinessResult(waiting, approval);
    }
}
