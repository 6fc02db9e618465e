using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Tests.Queue;

/// <summary>The planner as decision tables: for each queue state, the one next decision, and what it refuses to do.</summary>
public class QueuePlannerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly QueueId Q = new(new RepoId("o", "r"), "main");
    private static readonly RepoConfig Config = new() { BatchDelay = TimeSpan.FromMinutes(10), MaxBatchSize = 3, ParallelAttempts = 3 };

    private static PullRequest Queued(int number, DateTimeOffset at, int priority = 0) => PullRequest.Restore(
        number, Q.Repo, number, "main", new CommitSha($"sha{number}"), PullRequestState.Queued, null, priority, at, at, at, null, null, null, null, null, 1);

    private static PullRequest In(int number, MergeAttempt attempt, PullRequestState state = PullRequestState.Merging) => PullRequest.Restore(
        number, Q.Repo, number, "main", new CommitSha($"sha{number}"), state, attempt.Id, 0, T0, T0, T0, null, null, null, null, null, 1);

    private static MergeAttempt Attempt(long id, MergeAttemptState state, long? ahead = null) => new(new AttemptId(id), Q, state, T0)
    {
        AheadId = ahead is { } a ? new AttemptId(a) : null,
        BaseSha = new CommitSha($"base{id}"),
        StagingSha = state is MergeAttemptState.Split ? null : new CommitSha($"staging{id}"),
    };

    private static QueueDecision Next(IEnumerable<PullRequest> prs, IEnumerable<MergeAttempt> attempts, RepoConfig? config = null, DateTimeOffset? now = null,
        bool frozen = false, IReadOnlySet<int>? skip = null, Landing? landed = null) =>
        QueuePlanner.Next(new QueueState(prs.ToArray(), attempts.ToArray(), config ?? Config, now ?? T0.AddHours(1), frozen, skip, landed));

    // --- new batches ---

    [Test]
    public void Nothing_queued_waits() =>
        Next([], []).Should().Be(new QueueDecision.Wait("nothing queued"));

    [Test]
    public void Queued_younger_than_the_batch_delay_waits_until_the_oldest_is_old_enough() =>
        Next([Queued(1, T0), Queued(2, T0.AddMinutes(3))], [], now: T0.AddMinutes(5)).Should().Be(new QueueDecision.Wait("batch delay", T0.AddMinutes(10)));

    [Test]
    public void A_batch_takes_at_most_max_batch_size_in_FIFO_order_on_the_target()
    {
        var start = Next([Queued(4, T0.AddMinutes(3)), Queued(1, T0), Queued(2, T0.AddMinutes(1)), Queued(3, T0.AddMinutes(2))], [], now: T0.AddMinutes(10))
            .Should().BeOfType<QueueDecision.Start>().Subject;

        start.PullRequests.Select(p => p.Number).Should().Equal(1, 2, 3);
        start.Split.Should().BeNull();
        start.Ahead.Should().BeNull("nothing is in flight: it is built on the target");
    }

    [Test]
    public void Priority_goes_first_then_FIFO() =>
        Next([Queued(1, T0), Queued(2, T0), Queued(3, T0.AddMinutes(1), priority: 5), Queued(4, T0.AddMinutes(2), priority: 5)], [])
            .Should().BeOfType<QueueDecision.Start>().Which.PullRequests.Select(p => p.Number).Should().Equal(3, 4, 1);

    [Test]
    public void PRs_held_back_in_this_step_are_left_out() =>
        Next([Queued(1, T0), Queued(2, T0)], [], skip: new HashSet<int> { 1 })
            .Should().BeOfType<QueueDecision.Start>().Which.PullRequests.Select(p => p.Number).Should().Equal(2);

    [Test]
    public void A_frozen_target_starts_nothing_new() =>
        Next([Queued(1, T0)], [], frozen: true).Should().Be(new QueueDecision.Wait("frozen"));

    // --- speculative stacking ---

    [Test]
    public void With_a_free_slot_the_next_batch_stacks_on_the_last_attempt_in_line()
    {
        var head = Attempt(1, MergeAttemptState.Testing);
        var tip = Attempt(2, MergeAttemptState.Testing, ahead: 1);

        var start = Next([In(10, head), In(11, tip), Queued(12, T0)], [head, tip]).Should().BeOfType<QueueDecision.Start>().Subject;

        start.Ahead.Should().BeSameAs(tip);
        start.PullRequests.Select(p => p.Number).Should().Equal(12);
    }

    [TestCase(1, 1)]
    [TestCase(3, 3)]
    public void No_more_than_parallel_attempts_are_in_flight(int parallel, int inFlight)
    {
        var attempts = Enumerable.Range(1, inFlight).Select(i => Attempt(i, MergeAttemptState.Testing, ahead: i == 1 ? null : i - 1)).ToArray();

        Next([Queued(20, T0)], attempts, Config with { ParallelAttempts = parallel })
            .Should().Be(new QueueDecision.Wait($"{inFlight} of {parallel} attempts in flight"));
    }

    [Test]
    public void Nothing_stacks_on_a_red_attempt()
    {
        var head = Attempt(1, MergeAttemptState.Testing);
        var red = Attempt(2, MergeAttemptState.Red, ahead: 1);

        Next([In(10, head), In(11, red), Queued(12, T0)], [head, red]).Should().Be(new QueueDecision.Wait("attempt 2 is RED"));
    }

    // --- landing (Complete) ---

    [Test]
    public void The_head_lands_when_it_passed()
    {
        var head = Attempt(1, MergeAttemptState.Success);
        var behind = Attempt(2, MergeAttemptState.Testing, ahead: 1);

        Next([In(10, head), In(11, behind)], [head, behind]).Should().BeEquivalentTo(new QueueDecision.Land(head, []));
    }

    [Test]
    public void An_attempt_that_passed_lands_with_those_ahead_still_testing()
    {
        var head = Attempt(1, MergeAttemptState.Testing);
        var middle = Attempt(2, MergeAttemptState.Testing, ahead: 1);
        var passed = Attempt(3, MergeAttemptState.Success, ahead: 2);

        var land = Next([In(10, head), In(11, middle), In(12, passed)], [head, middle, passed]).Should().BeOfType<QueueDecision.Land>().Subject;

        land.Attempt.Should().BeSameAs(passed);
        land.Covered.Should().Equal(head, middle);
    }

    [Test]
    public void The_deepest_attempt_that_passed_lands()
    {
        var head = Attempt(1, MergeAttemptState.Success);
        var second = Attempt(2, MergeAttemptState.Success, ahead: 1);

        Next([In(10, head), In(11, second)], [head, second]).Should().BeOfType<QueueDecision.Land>().Which.Attempt.Should().BeSameAs(second);
    }

    [Test]
    public void Nothing_lands_past_a_red_attempt()
    {
        var head = Attempt(1, MergeAttemptState.Testing);
        var red = Attempt(2, MergeAttemptState.Red, ahead: 1);
        var passed = Attempt(3, MergeAttemptState.Success, ahead: 2);

        // The attempt stacked on the red one is given up first; nothing lands over the red one.
        Next([In(10, head), In(11, red), In(12, passed)], [head, red, passed])
            .Should().Be(new QueueDecision.Abandon(passed, Messages.AbandonedAheadFailed(red.Id)));
    }

    // --- blame only at the head ---

    [Test]
    public void A_red_attempt_is_not_blamed_while_an_attempt_ahead_is_testing()
    {
        var head = Attempt(1, MergeAttemptState.Testing);
        var red = Attempt(2, MergeAttemptState.Red, ahead: 1);

        Next([In(10, head), In(11, red)], [head, red]).Should().BeOfType<QueueDecision.Wait>();
    }

    [Test]
    public void A_red_attempt_at_the_head_is_blamed()
    {
        var red = Attempt(1, MergeAttemptState.Red);

        Next([In(10, red), In(11, red), Queued(12, T0)], [red]).Should().Be(new QueueDecision.Blame(red));
    }

    // --- rebuilding behind a removed or failed attempt ---

    [Test]
    public void Attempts_stacked_on_a_red_one_are_abandoned_in_order()
    {
        var red = Attempt(1, MergeAttemptState.Red);
        var second = Attempt(2, MergeAttemptState.Testing, ahead: 1);
        var third = Attempt(3, MergeAttemptState.Success, ahead: 2);

        Next([In(10, red), In(11, second), In(12, third)], [red, second, third])
            .Should().Be(new QueueDecision.Abandon(second, Messages.AbandonedAheadFailed(red.Id)));
    }

    [TestCase(MergeAttemptState.Split)]
    [TestCase(MergeAttemptState.Merged)]
    public void An_attempt_whose_attempt_ahead_left_the_line_is_abandoned(MergeAttemptState aheadState)
    {
        var left = Attempt(1, aheadState);
        var behind = Attempt(2, MergeAttemptState.Testing, ahead: 1);

        Next([In(10, left, PullRequestState.Split), In(11, behind)], aheadState == MergeAttemptState.Split ? [left, behind] : [behind])
            .Should().Be(new QueueDecision.Abandon(behind, Messages.AbandonedAheadLeft(left.Id)));
    }

    // --- bisection ---

    [Test]
    public void Split_attempts_start_before_new_batches_oldest_first()
    {
        var first = Attempt(5, MergeAttemptState.Split);
        var second = Attempt(6, MergeAttemptState.Split);

        var start = Next([In(2, second, PullRequestState.Split), In(1, first, PullRequestState.Split), Queued(3, T0)], [second, first])
            .Should().BeOfType<QueueDecision.Start>().Subject;

        start.Split.Should().BeSameAs(first);
        start.PullRequests.Select(p => p.Number).Should().Equal(1);
    }

    [Test]
    public void Concurrent_bisection_starts_the_second_half_on_the_first_while_it_tests()
    {
        var firstHalf = Attempt(5, MergeAttemptState.Testing);
        var secondHalf = Attempt(6, MergeAttemptState.Split);

        var start = Next([In(1, firstHalf), In(2, secondHalf, PullRequestState.Split)], [firstHalf, secondHalf])
            .Should().BeOfType<QueueDecision.Start>().Subject;

        start.Split.Should().BeSameAs(secondHalf);
        start.Ahead.Should().BeSameAs(firstHalf);
    }

    [Test]
    public void Serial_bisection_starts_the_second_half_only_once_the_line_is_clear()
    {
        var firstHalf = Attempt(5, MergeAttemptState.Testing);
        var secondHalf = Attempt(6, MergeAttemptState.Split);
        var serial = Config with { Bisect = BisectMode.Serial };

        Next([In(1, firstHalf), In(2, secondHalf, PullRequestState.Split), Queued(3, T0)], [firstHalf, secondHalf], serial)
            .Should().Be(new QueueDecision.Wait("split attempt 6 waits for the line to clear"));
        Next([In(2, secondHalf, PullRequestState.Split), Queued(3, T0)], [secondHalf], serial)
            .Should().BeOfType<QueueDecision.Start>().Which.Ahead.Should().BeNull();
    }

    [Test]
    public void A_split_attempt_without_pull_requests_is_removed()
    {
        var empty = Attempt(5, MergeAttemptState.Split);

        Next([Queued(3, T0)], [empty]).Should().Be(new QueueDecision.RemoveEmpty(empty));
    }

    // --- lines beside a bisection ---

    private static MergeAttempt Half(long id, MergeAttemptState state, long parent, long? ahead = null)
    {
        var half = Attempt(id, state, ahead);
        half.ParentId = new AttemptId(parent);
        return half;
    }

    [Test]
    public void New_batches_wait_behind_a_bisection_unless_they_may_go_beside_it()
    {
        var half = Half(5, MergeAttemptState.Testing, parent: 4);

        Next([In(1, half), Queued(2, T0)], [half]).Should().Be(new QueueDecision.Wait("bisecting in attempt 5"));
        Next([In(1, half), Queued(2, T0)], [half], Config with { BesideBisection = true })
            .Should().BeOfType<QueueDecision.Start>().Which.Ahead.Should().BeNull("a line of its own on the target");
    }

    [Test]
    public void The_second_half_stacks_on_the_first_even_beside_other_lines()
    {
        var other = Attempt(3, MergeAttemptState.Testing);
        var first = Half(5, MergeAttemptState.Testing, parent: 4);
        var second = Half(6, MergeAttemptState.Split, parent: 4);

        Next([In(1, other), In(2, first), In(3, second, PullRequestState.Split)], [other, first, second], Config with { BesideBisection = true })
            .Should().BeOfType<QueueDecision.Start>().Which.Ahead.Should().BeSameAs(first);
    }

    [Test]
    public void A_line_built_before_the_last_landing_on_another_commit_never_lands_but_its_verdict_counts()
    {
        var passed = Attempt(3, MergeAttemptState.Success);
        var red = Attempt(4, MergeAttemptState.Red);
        var landed = new Landing(new AttemptId(6), new CommitSha("landed6"));

        Next([In(1, passed)], [passed], landed: landed).Should().Be(new QueueDecision.Abandon(passed, Messages.PassedOnOldTarget(passed.Id)));
        Next([In(1, red)], [red], landed: landed).Should().Be(new QueueDecision.Blame(red));
    }

    [Test]
    public void A_line_built_on_the_last_landing_or_after_it_lands()
    {
        var onLanding = Attempt(3, MergeAttemptState.Success);
        onLanding.BaseSha = new CommitSha("landed2");
        var later = Attempt(9, MergeAttemptState.Success);

        Next([In(1, onLanding)], [onLanding], landed: new Landing(new AttemptId(5), new CommitSha("landed2"))).Should().BeOfType<QueueDecision.Land>();
        Next([In(1, later)], [later], landed: new Landing(new AttemptId(5), new CommitSha("landed2"))).Should().BeOfType<QueueDecision.Land>();
    }

    // --- what the line decides without the queued PRs (Poll reads no queue behind a busy line) ---

    [Test]
    public void With_every_slot_taken_the_line_alone_decides_to_wait_and_queued_PRs_change_nothing()
    {
        var attempts = Enumerable.Range(1, 3).Select(i => Attempt(i, MergeAttemptState.Testing, ahead: i == 1 ? null : i - 1)).ToArray();
        var members = attempts.Select(a => In((int)a.Id.Value + 10, a)).ToArray();

        var line = QueuePlanner.ForLine(new QueueState(members, attempts, Config, T0.AddHours(1)));

        line.Should().Be(new QueueDecision.Wait("3 of 3 attempts in flight"));
        Next([.. members, Queued(1, T0), Queued(2, T0)], attempts).Should().Be(line);
    }

    [Test]
    public void A_line_to_settle_is_decided_without_the_queued_PRs()
    {
        var head = Attempt(1, MergeAttemptState.Success);
        QueuePlanner.ForLine(new QueueState([In(10, head)], [head], Config, T0.AddHours(1))).Should().BeEquivalentTo(new QueueDecision.Land(head, []));
        QueuePlanner.ForLine(new QueueState([], [], Config, T0.AddHours(1), Frozen: true)).Should().Be(new QueueDecision.Wait("frozen"));
    }

    [Test]
    public void With_a_free_slot_the_decision_is_left_to_the_queued_PRs() =>
        QueuePlanner.ForLine(new QueueState([], [Attempt(1, MergeAttemptState.Testing)], Config, T0.AddHours(1))).Should().BeNull();

    // --- restart with attempts in flight ---

    [Test]
    public void After_a_restart_the_line_is_read_back_from_the_rows_and_resumes()
    {
        // Rows as a crash left them: the head passed but did not land, the second still testing, one queued.
        var head = Attempt(1, MergeAttemptState.Success);
        var second = Attempt(2, MergeAttemptState.Testing, ahead: 1);
        var prs = new[] { In(10, head), In(11, second), Queued(12, T0) };

        Next(prs, [head, second]).Should().BeEquivalentTo(new QueueDecision.Land(head, []));

        // Once the head landed, the second stands on the target and the queued PR stacks on it.
        var rerooted = Attempt(2, MergeAttemptState.Testing);
        Next([In(11, rerooted), Queued(12, T0)], [rerooted]).Should().BeOfType<QueueDecision.Start>().Which.Ahead.Should().BeSameAs(rerooted);
    }

    // --- Test's verdicts ---

    private static readonly RepoConfig Checks = new() { RequiredChecks = ["ci", "lint"], FlakyRetries = 1 };

    [TestCase("success", "success", null, null, 0, Verdict.Passed)]
    [TestCase("success", "pending", null, null, 0, Verdict.Pending)]
    [TestCase("failure", "success", "tests failed", null, 0, Verdict.Failed)]
    [TestCase("failure", "success", "Network Error while fetching", null, 0, Verdict.Flaky)]
    [TestCase("failure", "success", "network error", null, 1, Verdict.Failed)]
    [TestCase("failure", "failure", "ETIMEDOUT", "tests failed", 0, Verdict.Failed)]
    [TestCase("failure", "failure", "ETIMEDOUT", "connection reset by peer", 0, Verdict.Flaky)]
    [TestCase("failure", "pending", "timed out", null, 0, Verdict.Flaky)]
    public void Judge_tells_passed_pending_failed_and_flaky(string ci, string lint, string? ciWhy, string? lintWhy, int retriesUsed, Verdict expected)
    {
        var attempt = Attempt(1, MergeAttemptState.Testing);
        attempt.FlakeRetries = retriesUsed;
        static CheckState State(string s) => s switch { "success" => CheckState.Success, "failure" => CheckState.Failure, _ => CheckState.Pending };

        var (verdict, _) = QueuePlanner.Judge([new Check("ci", State(ci), ciWhy, null), new Check("lint", State(lint), lintWhy, null)], Checks, attempt);

        verdict.Should().Be(expected);
    }

    [Test]
    public void Judge_never_retries_with_flaky_retries_zero()
    {
        var (verdict, failed) = QueuePlanner.Judge([new Check("ci", CheckState.Failure, "network error", null)], new RepoConfig { FlakyRetries = 0 }, Attempt(1, MergeAttemptState.Testing));

        verdict.Should().Be(Verdict.Failed);
        failed.Should().Equal("ci");
    }

    [TestCase(2, 1, 1)]
    [TestCase(3, 2, 1)]
    [TestCase(8, 4, 4)]
    public void Halve_Batch_SplitsInQueueOrder(int n, int first, int second)
    {
        var (a, b) = Bisection.Halve(Enumerable.Range(1, n).ToArray());
        a.Should().HaveCount(first);
        b.Should().HaveCount(second);
        a.Concat(b).Should().Equal(Enumerable.Range(1, n));
    }

    [Test]
    public void Halve_BatchOfOne_IsRefused() =>
        FluentActions.Invoking(() => Bisection.Halve(new[] { 1 })).Should().Throw<ArgumentException>();
}
