using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Approval;

/// <summary>What the reviews at a commit add up to.</summary>
public sealed record ApprovalResult(
    bool Approved,
    IReadOnlyList<string> ApprovedBy,
    IReadOnlyList<string> ChangesRequestedBy,
    int Required)
{
    public int Missing => Math.Max(0, Required - ApprovedBy.Count);

    /// <summary>Approvers at the commit whose approval does not count: they lack write permission.</summary>
    public IReadOnlyList<string> NotCounted { get; init; } = [];
}

/// <summary>
/// Seed 003's "Determining approval": only reviews of the PR's current head count, the latest
/// review of each author wins, any change request blocks, approvals are counted. As in GitHub's
/// branch protection, only reviews by users with write or admin permission on the repository
/// (<see cref="Review.AuthorPermission"/>) count, for approvals and change requests alike.
/// </summary>
public static class ApprovalRule
{
    public static ApprovalResult Evaluate(IEnumerable<Review> reviews, CommitSha head, int required)
    {
        // A plain comment review does not replace an earlier verdict, as on GitHub; a dismissal does.
        var latest = reviews
            .Where(r => r.CommitSha == head && r.State != ReviewState.Commented)
            .Select((r, i) => (r, i))
            .GroupBy(x => x.r.Author, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.OrderBy(x => x.r.SubmittedAt).ThenBy(x => x.i).Last().r)
            .ToList();
        var notCounted = latest.Where(r => r.State == ReviewState.Approved && !(r.AuthorPermission >= Permission.Write)).Select(r => r.Author).Order(StringComparer.Ordinal).ToArray();
        latest.RemoveAll(r => !(r.AuthorPermission >= Permission.Write));
        var approvedBy = latest.Where(r => r.State == ReviewState.Approved).Select(r => r.Author).Order(StringComparer.Ordinal).ToArray();
        var changesBy = latest.Where(r => r.State == ReviewState.ChangesRequested).Select(r => r.Author).Order(StringComparer.Ordinal).ToArray();
        var approved = changesBy.Length == 0 && approvedBy.Length >= required;
        return new ApprovalResult(approved, approvedBy, changesBy, required) { NotCounted = notCounted };
    }
}
