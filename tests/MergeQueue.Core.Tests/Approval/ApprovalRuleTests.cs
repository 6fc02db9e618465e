using MergeQueue.Core.Approval;
using MergeQueue.Core.Ports;

namespace MergeQueue.Core.Tests.Approval;

public class ApprovalRuleTests
{
    private static readonly CommitSha Head = new("head000");
    private static readonly CommitSha Old = new("old0000");
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);

    /// <summary>Review histories as "author:STATE[@old]" in submission order.</summary>
    [TestCase(1, "", false, 0)]
    [TestCase(1, "bob:A", true, 1)]
    [TestCase(2, "bob:A", false, 1)]
    [TestCase(2, "bob:A,carol:A", true, 2)]
    [TestCase(2, "bob:A,bob:A", false, 1, Description = "one author counts once")]
    [TestCase(1, "bob:A@old", false, 0, Description = "reviews of an older commit do not count")]
    [TestCase(1, "bob:A,carol:X", false, 1, Description = "any change request blocks")]
    [TestCase(1, "carol:X,carol:A,bob:A", true, 2, Description = "the latest review of an author wins")]
    [TestCase(1, "bob:A,bob:X", false, 0)]
    [TestCase(1, "bob:A,bob:C", true, 1, Description = "a comment review does not undo an approval")]
    [TestCase(1, "bob:A,bob:D", false, 0, Description = "a dismissed review no longer counts")]
    [TestCase(1, "carol:X@old,bob:A", true, 1, Description = "a change request on an older commit does not block")]
    [TestCase(0, "", true, 0, Description = "0: an authorized merge command is enough")]
    [TestCase(0, "carol:X", false, 0, Description = "a change request blocks even with 0 required")]
    [TestCase(1, "Bob:A,bob:X", false, 0, Description = "logins compare without case")]
    public void Evaluate_ReviewHistory_CountsAsGitHubWould(int required, string history, bool approved, int approvals)
    {
        var reviews = history.Split(',', StringSplitOptions.RemoveEmptyEntries).Select((r, i) =>
        {
            var (who, rest) = (r[..r.IndexOf(':')], r[(r.IndexOf(':') + 1)..]);
            var state = rest[0] switch { 'A' => ReviewState.Approved, 'X' => ReviewState.ChangesRequested, 'C' => ReviewState.Commented, _ => ReviewState.Dismissed };
            return new Review(who, state, rest.EndsWith("@old", StringComparison.Ordinal) ? Old : Head, T0.AddMinutes(i)) { AuthorPermission = Permission.Write };
        });

        var result = ApprovalRule.Evaluate(reviews, Head, required);

        result.Approved.Should().Be(approved);
        result.ApprovedBy.Should().HaveCount(approvals);
    }

    /// <summary>
    /// GitHub's branch protection: only reviews by users with write or admin permission count, and
    /// only their change requests block. bob (write) approved; mallory reviews with the permission given.
    /// </summary>
    [TestCase(ReviewState.Approved, null, 2, false, Description = "a permission not looked up counts as none")]
    [TestCase(ReviewState.Approved, Permission.None, 2, false)]
    [TestCase(ReviewState.Approved, Permission.Read, 2, false)]
    [TestCase(ReviewState.Approved, Permission.Triage, 2, false)]
    [TestCase(ReviewState.Approved, Permission.Write, 2, true)]
    [TestCase(ReviewState.Approved, Permission.Maintain, 2, true)]
    [TestCase(ReviewState.Approved, Permission.Admin, 2, true)]
    [TestCase(ReviewState.ChangesRequested, Permission.Read, 1, true, Description = "a read-only reviewer's change request does not block")]
    [TestCase(ReviewState.ChangesRequested, Permission.Triage, 1, true)]
    [TestCase(ReviewState.ChangesRequested, Permission.Write, 1, false)]
    [TestCase(ReviewState.ChangesRequested, Permission.Admin, 1, false)]
    public void Evaluate_ReviewerPermission_CountsOnlyWriteOrAdmin(ReviewState state, Permission? permission, int required, bool approved)
    {
        Review[] reviews =
        [
            new("bob", ReviewState.Approved, Head, T0) { AuthorPermission = Permission.Write },
            new("mallory", state, Head, T0.AddMinutes(1)) { AuthorPermission = permission },
        ];

        var result = ApprovalRule.Evaluate(reviews, Head, required);

        result.Approved.Should().Be(approved);
        var counts = permission >= Permission.Write;
        result.ApprovedBy.Contains("mallory").Should().Be(counts && state == ReviewState.Approved);
        result.NotCounted.Should().Equal(state == ReviewState.Approved && !counts ? ["mallory"] : []);
    }

    [Test]
    public void Evaluate_Missing_SaysHowManyMoreAreNeeded()
    {
        var result = ApprovalRule.Evaluate([new Review("bob", ReviewState.Approved, Head, T0) { AuthorPermission = Permission.Admin }], Head, 3);
        result.Missing.Should().Be(2);
    }
}
