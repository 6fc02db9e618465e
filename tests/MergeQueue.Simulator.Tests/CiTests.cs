using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>The simulated CI: where it runs, its verdicts (FAIL, FLAKY), overrides, held runs, check-run reporting, and the branch-move record.</summary>
[CancelAfter(30_000)]
[NonParallelizable]
public class CiTests : SimulatorTestBase
{
    [TearDown]
    public async Task ResetCi()
    {
        await Control.ConfigureCiAsync(new CiConfig(Contexts: [new CiContext("ci")], Overrides: [], DelayMs: 5));
        await Control.ReleaseCiAsync();
    }

    private async Task<CommitChecks> FinishedChecksAsync(string repo, string sha, int expectedRuns = 1) =>
        await SimulatorClient.WaitForAsync(ct => Control.ChecksAsync(repo, sha, ct),
            c => c.Statuses.Count(s => s.State != "pending") + c.CheckRuns.Count(r => r.Status == "completed") >= expectedRuns);

    [Test]
    public async Task StagingBranch_Passes()
    {
        var repo = await NewRepoAsync();
        var commit = await Control.CommitAsync(repo, "mergequeue/staging/main/1", Files(("a", "1")));
        var checks = await FinishedChecksAsync(repo, commit.Sha);
        checks.CombinedState.Should().Be("success");
        checks.Statuses.Single().Creator.Should().Be("simulated-ci[bot]");
        (await Control.CiRunsAsync(repo, "mergequeue/staging/main/1", "ci")).Should().ContainSingle().Which.Verdict.Should().Be("success");
    }

    [Test]
    public async Task FailFileAnywhere_Fails()
    {
        var repo = await NewRepoAsync();
        var commit = await Control.CommitAsync(repo, "mergequeue/try/7", Files(("deep/dir/FAIL", "")));
        (await FinishedChecksAsync(repo, commit.Sha)).CombinedState.Should().Be("failure");
    }

    [Test]
    public async Task Flaky_FailsFirstRunWithNetworkError_PassesOnRerun()
    {
        var repo = await NewRepoAsync();
        var commit = await Control.CommitAsync(repo, "mergequeue/staging/main/2", Files(("FLAKY", "")));
        var first = await FinishedChecksAsync(repo, commit.Sha);
        first.CombinedState.Should().Be("failure");
        first.Statuses.Single().Description.Should().Be("network error");

        await Control.RerunCiAsync(repo, commit.Sha);
        var second = await SimulatorClient.WaitForAsync(ct => Control.ChecksAsync(repo, commit.Sha, ct), c => c.CombinedState == "success");
        second.Statuses.Single().State.Should().Be("success");
        (await Control.CiRunsAsync(repo, context: "ci")).Where(r => r.Sha == commit.Sha).Select(r => r.Attempt).Should().Equal(1, 2);
    }

    [Test]
    public async Task TmpAndOtherBranches_NeverRunCi_PullRequestHeadsDo()
    {
        var repo = await NewRepoAsync();
        await Control.CommitAsync(repo, "mergequeue/tmp/main/1", Files(("a", "1")));
        await Control.CommitAsync(repo, "random", Files(("a", "1")));
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("b", "1")));
        await FinishedChecksAsync(repo, pr.HeadSha);
        await Control.WaitForIdleAsync();
        var runs = await Control.CiRunsAsync(repo);
        runs.Select(r => r.Branch).Should().Equal("feature");
    }

    [Test]
    public async Task Overrides_NeverFixedVerdictAndDelay()
    {
        await Control.ConfigureCiAsync(new CiConfig(Overrides:
        [
            new CiOverride("mergequeue/try/**", Verdict: "never"),
            new CiOverride("mergequeue/staging/fixed/**", Verdict: "failure"),
        ]));
        var repo = await NewRepoAsync();
        var never = await Control.CommitAsync(repo, "mergequeue/try/1", Files(("a", "1")));
        var fixedFail = await Control.CommitAsync(repo, "mergequeue/staging/fixed/1", Files(("a", "2")));
        (await FinishedChecksAsync(repo, fixedFail.Sha)).CombinedState.Should().Be("failure");
        await Control.WaitForIdleAsync();
        (await Control.ChecksAsync(repo, never.Sha)).Statuses.Should().BeEmpty();
        (await Control.CiRunsAsync(repo, "mergequeue/try/1")).Should().BeEmpty();
    }

    [Test]
    public async Task HeldRun_StaysPendingAndIdle_UntilReleased_ThenReportsItsVerdict()
    {
        await Control.ConfigureCiAsync(new CiConfig(Overrides: [new CiOverride("mergequeue/staging/**", Hold: true)]));
        var repo = await NewRepoAsync();
        var pass = await Control.CommitAsync(repo, "mergequeue/staging/main/5", Files(("a", "1")));
        var fail = await Control.CommitAsync(repo, "mergequeue/staging/main/6", Files(("FAIL", "")));

        var held = await Control.WaitForHeldCiRunsAsync(2, repo);
        held.Select(r => r.Sha).Should().Equal(pass.Sha, fail.Sha);
        held.Should().OnlyContain(r => r.Held && r.Verdict == null);
        await Control.WaitForIdleAsync();
        (await Control.IdleAsync()).Should().Be(new IdleInfo(true, 0, 0, 2), "a held run waits for the test, not for time: the simulator is idle");
        (await Control.ChecksAsync(repo, pass.Sha)).Statuses.Should().ContainSingle().Which.State.Should().Be("pending");

        var released = await Control.ReleaseCiAsync(repo, sha: pass.Sha);
        released.Should().ContainSingle().Which.Should().Match<CiRun>(r => r.Sha == pass.Sha && !r.Held);
        (await FinishedChecksAsync(repo, pass.Sha)).CombinedState.Should().Be("success");
        await Control.WaitForIdleAsync();
        (await Control.ChecksAsync(repo, fail.Sha)).CombinedState.Should().Be("pending", "only the matching run was released");
        (await Control.CiRunsAsync(repo, held: true)).Should().ContainSingle().Which.Sha.Should().Be(fail.Sha);

        (await Control.ReleaseCiAsync()).Select(r => r.Sha).Should().Equal(fail.Sha);
        (await FinishedChecksAsync(repo, fail.Sha)).CombinedState.Should().Be("failure", "a released run's verdict still comes from its tree");
        (await Control.ReleaseCiAsync()).Should().BeEmpty();
        (await Control.IdleAsync()).HeldCi.Should().Be(0);
        (await Control.CiRunsAsync(repo)).Should().OnlyContain(r => !r.Held && r.Verdict != null);
    }

    [Test]
    public async Task HeldCheckRun_IsInProgressUntilReleased_AndAFixedVerdictApplies()
    {
        await Control.ConfigureCiAsync(new CiConfig(Contexts: [new CiContext("build", "check_run")], Overrides: [new CiOverride("mergequeue/try/**", Verdict: "error", Hold: true)]));
        var repo = await NewRepoAsync();
        var commit = await Control.CommitAsync(repo, "mergequeue/try/8", Files(("a", "1")));

        await Control.WaitForHeldCiRunsAsync(1, repo);
        (await Control.ChecksAsync(repo, commit.Sha)).CheckRuns.Should().ContainSingle().Which.Status.Should().Be("in_progress");

        (await Control.ReleaseCiAsync(branch: "mergequeue/try/8")).Should().ContainSingle();
        var checks = await FinishedChecksAsync(repo, commit.Sha);
        checks.CheckRuns.Single().Conclusion.Should().Be("failure", "error is reported as a failed check run");
        (await Control.CiRunsAsync(repo)).Single().Verdict.Should().Be("error");
    }

    [Test]
    public async Task CheckRunContext_ReportsAsCheckRun()
    {
        await Control.ConfigureCiAsync(new CiConfig(Contexts: [new CiContext("ci"), new CiContext("build", "check_run")]));
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var commit = await Control.CommitAsync(repo, "mergequeue/staging/main/3", Files(("FAIL", "")));
        await FinishedChecksAsync(repo, commit.Sha, expectedRuns: 2);
        var runs = await Bot.Check.Run.GetAllForReference(o, n, commit.Sha);
        runs.CheckRuns.Should().ContainSingle().Which.Conclusion!.Value.Value.Should().Be(CheckConclusion.Failure);
        (await Bot.Check.Suite.GetAllForReference(o, n, commit.Sha)).CheckSuites.Single().Status.Value.Should().Be(CheckStatus.Completed);
    }

    [Test]
    public async Task BranchMoves_RecordChecksOfTheNewCommit()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var staging = await Control.CommitAsync(repo, "mergequeue/staging/main/4", Files(("a", "1")));
        await FinishedChecksAsync(repo, staging.Sha);
        await Bot.Git.Reference.Update(o, n, "heads/main", new ReferenceUpdate(staging.Sha));

        var moves = await Control.BranchMovesAsync(repo, "main");
        var last = moves.Last();
        last.NewSha.Should().Be(staging.Sha);
        last.Actor.Should().Be("mergequeue[bot]");
        last.Forced.Should().BeFalse();
        last.Checks!.AllGreen.Should().BeTrue();
        moves.First().Actor.Should().Be("control");
    }
}
