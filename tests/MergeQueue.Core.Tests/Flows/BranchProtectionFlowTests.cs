using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Tests.Flows;

/// <summary><c>required_checks: from_branch_protection</c>: each attempt takes the target's protected checks as it starts.</summary>
public class BranchProtectionFlowTests
{
    private static QueueTester Protected(params string[] checks)
    {
        var q = new QueueTester(new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), RequiredChecks = [], RequiredChecksFromBranchProtection = true });
        if (checks.Length > 0) q.GitHub.ProtectedChecks["main"] = checks;
        return q;
    }

    /// <summary>One approved PR requested and its batch started.</summary>
    private static async Task<int> StartAsync(QueueTester q)
    {
        var n = q.OpenPr("feature.txt");
        q.Approve(n);
        await q.Merge(n);
        await q.StartBatch();
        return n;
    }

    [Test]
    public async Task Test_ProtectionRequiresCiAndLint_WaitsForBothThenMerges()
    {
        var q = Protected("ci", "lint");
        var n = await StartAsync(q);
        var attempt = q.Running!;
        attempt.RequiredChecks.Should().Equal("ci", "lint");
        var sha = attempt.StagingSha!.Value;

        q.GitHub.Checks[sha] = [new Check("ci", CheckState.Success, null, null)];
        await q.Flows.TestAsync(q.Repo, sha, q.Cause, default);
        q.Pr(n).State.Should().Be(PullRequestState.Merging);
        q.Running!.State.Should().Be(MergeAttemptState.Testing);

        q.GitHub.Checks[sha].Add(new Check("lint", CheckState.Success, null, null));
        await q.Flows.TestAsync(q.Repo, sha, q.Cause, default);
        q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.Main.Should().Be(sha);
    }

    [Test]
    public async Task Test_ProtectionChangesDuringTheRun_TheAttemptKeepsTheChecksItStartedWith()
    {
        var q = Protected("ci");
        var n = await StartAsync(q);
        var sha = q.Running!.StagingSha!.Value;
        q.GitHub.ProtectedChecks["main"] = ["ci", "lint"];

        q.GitHub.Checks[sha] = [new Check("ci", CheckState.Success, null, null)];
        await q.Flows.TestAsync(q.Repo, sha, q.Cause, default);

        q.Pr(n).State.Should().Be(PullRequestState.Merged);
    }

    [Test]
    public async Task Test_ProtectedLintFails_FailsNamingIt()
    {
        var q = Protected("ci", "lint");
        var n = await StartAsync(q);
        var sha = q.Running!.StagingSha!.Value;

        q.GitHub.Checks[sha] = [new Check("ci", CheckState.Success, null, null), new Check("lint", CheckState.Failure, "style", null)];
        await q.Flows.TestAsync(q.Repo, sha, q.Cause, default);

        q.Pr(n).State.Should().Be(PullRequestState.Failed);
        q.Pr(n).Reason.Should().Be("Checks failed: lint");
        q.Main.Should().NotBe(sha);
    }

    [Test]
    public async Task Construct_TargetNotProtected_FailsTheBatchInsteadOfMergingUntested()
    {
        var q = Protected();
        var n = q.OpenPr("feature.txt");
        q.Approve(n);
        await q.Merge(n);
        var main = q.Main;

        await q.StartBatch();

        q.Running.Should().BeNull();
        q.Pr(n).State.Should().Be(PullRequestState.Failed);
        q.Pr(n).Reason.Should().Be(Messages.NoProtectedChecks("main"));
        q.Main.Should().Be(main);
    }

    [Test]
    public void Judge_AttemptWithoutRequiredChecks_IsNeverGreenUnlessAllowed()
    {
        var attempt = new MergeAttempt(new AttemptId(1), new QueueId(new RepoId("o", "r"), "main"), MergeAttemptState.Testing, DateTimeOffset.UnixEpoch) { RequiredChecks = [] };
        var checks = new[] { new Check("ci", CheckState.Success, null, null) };

        QueuePlanner.Judge(checks, new RepoConfig { RequiredChecks = ["ci"] }, attempt).Verdict.Should().Be(Verdict.Pending);
        QueuePlanner.Judge(checks, new RepoConfig { RequiredChecks = [], AllowNoChecks = true }, attempt).Verdict.Should().Be(Verdict.Passed);
    }
}
