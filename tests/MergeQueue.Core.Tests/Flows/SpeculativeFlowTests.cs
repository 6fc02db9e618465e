using MergeQueue.Core.Config;
using MergeQueue.Core.Flows;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using Microsoft.Extensions.Logging.Abstractions;

namespace MergeQueue.Core.Tests.Flows;

/// <summary>
/// The speculative engine through the flows: attempts stacked on one another, landing in order,
/// blame at the head only, rebuilding behind a failed or changed attempt, concurrent bisection,
/// flake retries and recovery with attempts in flight.
/// </summary>
public class SpeculativeFlowTests
{
    private static QueueTester Three(RepoConfig? config = null) =>
        new(config ?? new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), MaxBatchSize = 1, ParallelAttempts = 3 });

    private static IReadOnlyList<MergeAttempt> InFlight(QueueTester q) => q.Store.AllAttempts().Where(a => a.IsInFlight).OrderBy(a => a.Id.Value).ToArray();

    private static MergeAttempt AttemptOf(QueueTester q, int pr) => q.Store.AllAttempts().Single(a => a.Id == q.Pr(pr).AttemptId);

    /// <summary>CI reports on one attempt's staging commit: from its tree (FAIL fails), or as told.</summary>
    private static async Task Report(QueueTester q, MergeAttempt attempt, bool? pass = null, string? description = null)
    {
        var sha = q.Store.AllAttempts().Single(a => a.Id == attempt.Id).StagingSha!.Value;
        var ok = pass ?? !q.GitHub.TreeOf(sha).Keys.Any(k => k.EndsWith("FAIL", StringComparison.Ordinal));
        q.GitHub.Checks[sha] = [new Check("ci", ok ? CheckState.Success : CheckState.Failure, description, null)];
        await q.Flows.TestAsync(q.Repo, sha, q.Cause, default);
    }

    /// <summary>Reports on every attempt in flight, oldest first, until the queue is empty; returns the CI runs.</summary>
    private static async Task<int> Drain(QueueTester q)
    {
        var before = q.GitHub.StagingBuilds.Count;
        for (var i = 0; i < 100 && q.Store.AllPullRequests().Any(p => p.IsActive); i++)
        {
            var next = InFlight(q).FirstOrDefault(a => a.State == MergeAttemptState.Testing);
            if (next is null) await q.StartBatch();
            else await Report(q, next);
        }
        return q.GitHub.StagingBuilds.Count - before;
    }

    private static void AssertInvariant(QueueTester q)
    {
        BisectionFlowTests.AssertTargetOnlyMovedToGreen(q);
        q.Store.EventLog.Where(e => e.Trigger == "Merged").GroupBy(e => e.Entry.PullRequest).Should().NotContain(g => g.Count() > 1, "no PR merges twice");
    }

    [Test]
    public async Task Three_prs_are_stacked_each_on_the_staging_commit_of_the_one_ahead_and_land_in_order()
    {
        var q = Three();
        var (a, b, c) = (q.OpenPr(), q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b, c);

        await q.StartBatch();

        var line = InFlight(q);
        line.Should().HaveCount(3).And.OnlyContain(x => x.State == MergeAttemptState.Testing);
        line[0].AheadId.Should().BeNull();
        line[0].BaseSha.Should().Be(q.Main);
        (line[1].AheadId, line[1].BaseSha).Should().Be((line[0].Id, line[0].StagingSha));
        (line[2].AheadId, line[2].BaseSha).Should().Be((line[1].Id, line[1].StagingSha));
        q.GitHub.Statuses[q.Pr(c).HeadSha].Description.Should().Be($"Testing in attempt {line[2].Id}, 3rd in line");

        foreach (var attempt in line) await Report(q, attempt);

        foreach (var n in new[] { a, b, c }) q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.GitHub.TargetMoves.Select(m => m.Sha).Should().Equal(line.Select(x => x.StagingSha!.Value));
        q.GitHub.StagingBuilds.Should().HaveCount(3);
        AssertInvariant(q);
    }

    [Test]
    public async Task An_attempt_that_passes_first_lands_with_the_attempts_ahead_of_it()
    {
        var q = Three();
        var (a, b, c) = (q.OpenPr(), q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b, c);
        await q.StartBatch();
        var line = InFlight(q);

        await Report(q, line[2]);

        q.GitHub.TargetMoves.Should().ContainSingle().Which.Sha.Should().Be(line[2].StagingSha!.Value);
        foreach (var n in new[] { a, b, c }) q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.Store.AllAttempts().Take(2).Should().OnlyContain(x => x.State == MergeAttemptState.Merged && x.Reason == Messages.LandedWith(line[2].Id));
        q.GitHub.Branches.Keys.Should().NotContain(k => k.StartsWith("mergequeue/", StringComparison.Ordinal), "the runs ahead are moot: their branches go");
        AssertInvariant(q);
    }

    [Test]
    public async Task The_middle_failing_blames_it_at_the_head_and_rebuilds_the_third_without_it()
    {
        var q = Three();
        var (a, b, c) = (q.OpenPr(), q.OpenPr("FAIL"), q.OpenPr());
        await q.ApproveAndMerge(a, b, c);
        await q.StartBatch();
        var line = InFlight(q);

        await Report(q, line[1]); // b is red while a still tests: not blamed yet, c stacked on it is given up

        AttemptOf(q, b).State.Should().Be(MergeAttemptState.Red);
        q.Pr(b).State.Should().Be(PullRequestState.Merging);
        q.Store.AllAttempts().Single(x => x.Id == line[2].Id).State.Should().Be(MergeAttemptState.Abandoned);
        q.Pr(c).State.Should().Be(PullRequestState.Queued);

        await Report(q, line[0]); // a lands; b is now at the head: blamed; c is rebuilt on the new main

        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Failed);
        var rebuilt = AttemptOf(q, c);
        (rebuilt.AheadId, rebuilt.BaseSha).Should().Be((null, q.Main));
        await Report(q, rebuilt);
        q.Pr(c).State.Should().Be(PullRequestState.Merged);
        q.MainTree.Keys.Should().NotContain("FAIL");
        AssertInvariant(q);
    }

    [Test]
    public async Task A_push_to_the_head_pr_cancels_it_and_rebuilds_every_attempt_behind_it()
    {
        var q = Three();
        var (a, b, c) = (q.OpenPr(), q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b, c);
        await q.StartBatch();
        var line = InFlight(q);

        await q.Flows.PushedAsync(q.Repo, a, q.Push(a), q.Cause, default);

        q.Pr(a).State.Should().Be(PullRequestState.Cancelled);
        q.Store.AllAttempts().Where(x => x.Id == line[1].Id || x.Id == line[2].Id).Should().OnlyContain(x => x.State == MergeAttemptState.Abandoned);
        var again = InFlight(q);
        again.Should().HaveCount(2, "b and c are rebuilt at once, b on main and c on b");
        again[0].BaseSha.Should().Be(q.Main);
        await Drain(q);
        q.GitHub.StagingBuilds.Should().HaveCount(5, "a, b, c, then b and c again");
        q.Pr(b).State.Should().Be(PullRequestState.Merged);
        q.Pr(c).State.Should().Be(PullRequestState.Merged);
        q.MainTree.Keys.Should().NotContain($"file{a}.txt");
        AssertInvariant(q);
    }

    [Test]
    public async Task A_pr_pushed_to_before_its_delivery_is_handled_never_lands_its_old_head()
    {
        var q = Three();
        var (a, b) = (q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b);
        await q.StartBatch();
        var line = InFlight(q);
        q.Push(a); // GitHub has a's new head; its synchronize delivery waits behind the CI result

        await Report(q, line[0]);

        q.Pr(a).State.Should().Be(PullRequestState.Cancelled);
        q.Pr(a).Reason.Should().Be(Messages.CancelledNewCommits);
        q.GitHub.TargetMoves.Should().BeEmpty("nothing lands with a head that moved");
        await Drain(q);
        q.Pr(b).State.Should().Be(PullRequestState.Merged);
        q.MainTree.Keys.Should().NotContain($"file{a}.txt");
        AssertInvariant(q);
    }

    [Test]
    public async Task A_late_push_delivery_of_our_own_fast_forward_never_aborts_a_later_attempt()
    {
        var q = Three();
        var (a, b) = (q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b);
        await q.StartBatch();
        var line = InFlight(q);
        await Report(q, line[0]);
        var firstLanding = q.Main;
        var c = q.OpenPr();
        await q.ApproveAndMerge(c);
        await q.StartBatch(); // c stacks on b, which now stands on main
        await Report(q, line[1]); // b lands: main moves again

        await q.Flows.TargetPushedAsync(q.Repo, "main", firstLanding, q.Cause, default); // the first push, delivered late

        AttemptOf(q, c).State.Should().Be(MergeAttemptState.Testing);
        await Report(q, AttemptOf(q, c));
        q.Pr(c).State.Should().Be(PullRequestState.Merged);
        AssertInvariant(q);
    }

    [Test]
    public async Task Concurrent_bisection_tests_both_halves_at_once_the_second_on_the_first()
    {
        var q = new QueueTester(new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), MaxBatchSize = 8, Bisect = BisectMode.Concurrent });
        var prs = Enumerable.Range(1, 4).Select(i => q.OpenPr(i == 4 ? "dir4/FAIL" : null)).ToArray();
        await q.ApproveAndMerge(prs);
        await q.StartBatch();
        await Report(q, InFlight(q).Single());

        var halves = InFlight(q);
        halves.Should().HaveCount(2, "both halves are in flight though parallel_attempts is 1");
        halves[1].AheadId.Should().Be(halves[0].Id);

        await Drain(q);
        q.GitHub.StagingBuilds.Should().HaveCount(5, "[1234]; [12] and [34] at once, [12] lands; [3] and [4] at once");
        foreach (var n in prs) q.Pr(n).State.Should().Be(n == 4 ? PullRequestState.Failed : PullRequestState.Merged);
        AssertInvariant(q);
    }

    [TestCase(2, new[] { 1 })]
    [TestCase(4, new[] { 3 })]
    [TestCase(8, new[] { 2, 7 })]
    [TestCase(8, new[] { 1, 2 })]
    public async Task Concurrent_bisection_finds_every_culprit_and_merges_the_rest(int size, int[] culprits)
    {
        var q = new QueueTester(new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), MaxBatchSize = 8, ParallelAttempts = 2 });
        var prs = Enumerable.Range(1, size).Select(i => q.OpenPr(culprits.Contains(i) ? $"dir{i}/FAIL" : null)).ToArray();
        await q.ApproveAndMerge(prs);

        await Drain(q);

        foreach (var n in prs) q.Pr(n).State.Should().Be(culprits.Contains(n) ? PullRequestState.Failed : PullRequestState.Merged, $"PR #{n}");
        q.MainTree.Keys.Should().NotContain(k => k.EndsWith("FAIL", StringComparison.Ordinal));
        AssertInvariant(q);
    }

    [Test]
    public async Task Beside_a_bisection_a_new_batch_runs_on_main_and_the_line_that_loses_is_settled_by_its_verdict()
    {
        var q = new QueueTester(new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), MaxBatchSize = 2, ParallelAttempts = 4, BesideBisection = true });
        var (a, b) = (q.OpenPr(), q.OpenPr("FAIL"));
        await q.ApproveAndMerge(a, b);
        await q.StartBatch();
        await Report(q, InFlight(q).Single()); // [a b] fails: halves [a] on main and [b] on [a]
        var c = q.OpenPr();
        await q.ApproveAndMerge(c);
        await q.StartBatch();

        var lines = InFlight(q);
        lines.Should().HaveCount(3);
        var beside = AttemptOf(q, c);
        (beside.AheadId, beside.BaseSha).Should().Be((null, q.Main), "c does not wait for the bisection: a line of its own on main");

        await Report(q, beside); // c lands first: the halves stand on an older main
        q.Pr(c).State.Should().Be(PullRequestState.Merged);
        await Report(q, AttemptOf(q, a)); // [a] passed, but on the old main: a goes back to the front of the queue

        q.Store.EventLog.Should().Contain(e => e.Entry.PullRequest == a && e.Entry.Reason == Messages.PassedOnOldTarget(lines[0].Id));
        await Drain(q);
        q.Pr(a).State.Should().Be(PullRequestState.Merged);
        q.Pr(b).State.Should().Be(PullRequestState.Failed);
        q.MainTree.Keys.Should().NotContain("FAIL");
        AssertInvariant(q);
    }

    [Test]
    public async Task A_network_error_is_retried_on_the_same_tree_and_parents_and_then_merges()
    {
        var q = Three();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();
        var attempt = InFlight(q).Single();
        var first = attempt.StagingSha!.Value;

        await Report(q, attempt, pass: false, description: "npm ERR! network error");

        var retried = AttemptOf(q, n);
        retried.State.Should().Be(MergeAttemptState.Testing);
        retried.FlakeRetries.Should().Be(1);
        retried.StagingSha.Should().NotBe(first);
        q.GitHub.Branches[q.Config.StagingBranch("main", attempt.Id)].Should().Be(retried.StagingSha!.Value);
        q.GitHub.TreeOf(retried.StagingSha.Value).Should().Equal(q.GitHub.TreeOf(first));
        q.GitHub.ParentsOf(retried.StagingSha.Value).Should().Equal(q.GitHub.ParentsOf(first));
        q.Store.EventLog.Should().Contain(e => e.Trigger == "Retry" && e.Entry.Reason == "ci failed like a flake (npm ERR! network error): rebuilt on the same tree");
        q.GitHub.Statuses[q.Pr(n).HeadSha].Description.Should().StartWith($"Testing in attempt {attempt.Id} again (flake retry 1");

        await Report(q, retried);
        q.Pr(n).State.Should().Be(PullRequestState.Merged);
        AssertInvariant(q);
    }

    [Test]
    public async Task A_flake_beyond_the_retry_budget_and_a_real_failure_are_never_retried()
    {
        var q = Three();
        var (flaky, broken) = (q.OpenPr(), q.OpenPr("FAIL"));
        await q.ApproveAndMerge(flaky, broken);
        await q.StartBatch();
        var line = InFlight(q);

        await Report(q, line[1], description: "tests failed");
        await Report(q, line[0], pass: false, description: "ETIMEDOUT");
        await Report(q, AttemptOf(q, flaky), pass: false, description: "ETIMEDOUT");

        q.Pr(flaky).State.Should().Be(PullRequestState.Failed, "flaky_retries is 1 by default");
        q.Store.EventLog.Count(e => e.Trigger == "Retry").Should().Be(1);
        q.Store.AllAttempts().Single(x => x.Id == line[1].Id).FlakeRetries.Should().Be(0, "a real failure is never retried");
        AssertInvariant(q);
    }

    [Test]
    public async Task After_a_restart_with_three_attempts_in_flight_poll_resumes_and_everything_merges_once()
    {
        var q = Three();
        var (a, b, c) = (q.OpenPr(), q.OpenPr(), q.OpenPr());
        await q.ApproveAndMerge(a, b, c);
        await q.StartBatch();
        var line = InFlight(q);
        // CI finished while the process was down: no delivery reached it.
        foreach (var attempt in line) q.GitHub.Checks[attempt.StagingSha!.Value] = [new Check("ci", CheckState.Success, null, null)];

        var restarted = new MergeQueueFlows(q.GitHub, q.Store, q, q.Clock, new FlowOptions(), NullLogger<MergeQueueFlows>.Instance);
        await restarted.PollAsync(q.Cause, default);

        foreach (var n in new[] { a, b, c }) q.Pr(n).State.Should().Be(PullRequestState.Merged);
        q.GitHub.StagingBuilds.Should().HaveCount(3, "nothing was built again");
        AssertInvariant(q);
    }
}
