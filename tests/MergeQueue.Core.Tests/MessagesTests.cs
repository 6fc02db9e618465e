namespace MergeQueue.Core.Tests;

/// <summary>Pins what users read: statuses, refusals and audit reasons change only on purpose.</summary>
public class MessagesTests
{
    private static readonly AttemptId A = new(12);

    private static IEnumerable<TestCaseData> Pinned()
    {
        yield return new TestCaseData(Messages.Queued(2, 5), "Queued: position 2 of 5");
        yield return new TestCaseData(Messages.QueuedAt(2), "Queued: position 2");
        yield return new TestCaseData(Messages.Testing(A, 1, 1), "Testing in attempt 12, 1st in line");
        yield return new TestCaseData(Messages.Testing(A, 3, 2), "Testing in attempt 12, 2nd in line, with 2 other PRs");
        yield return new TestCaseData(Messages.Testing(A, 2, 13), "Testing in attempt 12, 13th in line, with 1 other PR");
        yield return new TestCaseData(Messages.TestingAgain(A, 1, "network error"), "Testing in attempt 12 again (flake retry 1: network error)");
        yield return new TestCaseData(Messages.FlakeRetry("ci", "ETIMEDOUT"), "ci failed like a flake (ETIMEDOUT): rebuilt on the same tree");
        yield return new TestCaseData(Messages.AbandonedAheadFailed(A), "Attempt 12 ahead failed: re-queued");
        yield return new TestCaseData(Messages.AbandonedAheadLeft(A), "Attempt 12 ahead left the line: re-queued");
        yield return new TestCaseData(Messages.LandedWith(A), "landed with attempt 12, which passed and holds it");
        yield return new TestCaseData(Messages.SplitBisect(A), "Attempt 12 failed: bisecting to find the culprit");
        yield return new TestCaseData(Messages.RequeuedTargetMoved("main"), "main moved during testing: re-queued");
        yield return new TestCaseData(Messages.Held("blocked by label do-not-merge"), "Queued, held back: blocked by label do-not-merge");
        yield return new TestCaseData(Messages.ChecksFailed(["ci", "lint"]), "Checks failed: ci, lint");
        yield return new TestCaseData(Messages.CheckRunSummary("Merging", "Testing in attempt 12, 1st in line", A, new CommitSha("abc123")), "**Merging**: Testing in attempt 12, 1st in line\n\nAttempt 12, staging commit abc123");
        yield return new TestCaseData(Messages.NoProtectedChecks("main"), "main's branch protection requires no status checks, so nothing would test the merge (required_checks: from_branch_protection)");
        yield return new TestCaseData(Messages.MergedIn(new CommitSha("abc123")), "Merged in abc123");
        yield return new TestCaseData(Messages.QueuedFor("main"), "queued for main");
        yield return new TestCaseData(Messages.PrioritySet(3), "priority set to 3");
        yield return new TestCaseData(Messages.AlreadyRequested, "already requested");
        yield return new TestCaseData(Messages.RefusedQueuedElsewhere("main", "release"), "already queued for main; cancel it first to merge into release");
        yield return new TestCaseData(Messages.NoPullRequestsLeft, "no pull requests left");
        yield return new TestCaseData(Messages.EveryPullRequestConflicted, "every pull request conflicted");
        yield return new TestCaseData(Messages.RebuildingAfterCrash, "found constructing: rebuilding");
        yield return new TestCaseData(Messages.CancelledNewCommits, "Cancelled: new commits were pushed");
        yield return new TestCaseData(Messages.RefusedPushedAfterCommand(new CommitSha("abcdef1234567")),
            "the head abcdef1 was pushed after this command was written; comment again to act on it");
        yield return new TestCaseData(Messages.RefusedNotApprovedHead(new CommitSha("abcdef1234567"), new CommitSha("1234567abcdef")),
            "the approval is for abcdef1, but the head is now 1234567");
        yield return new TestCaseData(Messages.WaitingApprovals(1, 1, [], ["mallory"]),
            "waiting for 1 more approving review (1 required); not counted, no write permission: mallory");
    }

    [TestCaseSource(nameof(Pinned))]
    public void Message_reads_as_pinned(string actual, string expected) => actual.Should().Be(expected);

    [Test]
    public void Statuses_are_cut_to_GitHubs_140_characters() =>
        Messages.Status(new string('x', 200)).Should().HaveLength(140).And.EndWith("…");

    [Test]
    public void Statuses_are_cut_on_a_character_boundary()
    {
        var text = new string('x', 138) + string.Concat(Enumerable.Repeat("😀", 10));

        var cut = Messages.Status(text);

        cut.Should().Be(new string('x', 138) + "…", "the emoji straddling the limit goes whole");
        cut.Where(char.IsSurrogate).Should().BeEmpty();
    }
}
