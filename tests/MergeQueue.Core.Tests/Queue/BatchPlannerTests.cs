using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Tests.Queue;

public class BatchPlannerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly QueueId Q = new(new RepoId("o", "r"), "main");
    private static readonly RepoConfig Config = new() { BatchDelay = TimeSpan.FromMinutes(10), MaxBatchSize = 3 };

    private static PullRequest Queued(int number, DateTimeOffset at, int priority = 0) => PullRequest.Restore(
        number, Q.Repo, number, "main", new CommitSha($"sha{number}"), PullRequestState.Queued, null, priority, at, at, at, null, null, null, null, null, 1);

    private static PullRequest InSplit(int number, AttemptId attempt) => PullRequest.Restore(
        number, Q.Repo, number, "main", new CommitSha($"sha{number}"), PullRequestState.Split, attempt, 0, T0, T0, T0, null, null, null, null, null, 1);

    private static MergeAttempt Attempt(long id, MergeAttemptState state) => new(new AttemptId(id), Q, state, T0);

    [Test]
    public void Plan_NothingQueued_IsIdle() =>
        BatchPlanner.Plan([], [], Config, T0).Should().BeOfType<BatchDecision.Idle>();

    [Test]
    public void Plan_OldestYoungerThanDelay_WaitsUntilItIsOldEnough()
    {
        var decision = BatchPlanner.Plan([Queued(1, T0), Queued(2, T0.AddMinutes(3))], [], Config, T0.AddMinutes(5));
        decision.Should().Be(new BatchDecision.WaitUntil(T0.AddMinutes(10)));
    }

    [Test]
    public void Plan_OldestOldEnough_TakesAtMostMaxBatchSizeInFifoOrder()
    {
        var prs = new[] { Queued(4, T0.AddMinutes(4)), Queued(1, T0), Queued(3, T0.AddMinutes(2)), Queued(2, T0.AddMinutes(1)) };
        var decision = BatchPlanner.Plan(prs, [], Config, T0.AddMinutes(10));
        decision.Should().BeOfType<BatchDecision.NewBatch>().Which.PullRequests.Select(p => p.Number).Should().Equal(1, 2, 3);
    }

    [Test]
    public void Plan_HigherPriority_GoesFirstEvenIfYounger()
    {
        var prs = new[] { Queued(1, T0), Queued(2, T0.AddMinutes(1)), Queued(3, T0.AddMinutes(2), priority: 5), Queued(4, T0.AddMinutes(3), priority: 1) };
        var decision = BatchPlanner.Plan(prs, [], Config, T0.AddMinutes(10));
        decision.Should().BeOfType<BatchDecision.NewBatch>().Which.PullRequests.Select(p => p.Number).Should().Equal(3, 4, 1);
    }

    [TestCase(MergeAttemptState.Constructing)]
    [TestCase(MergeAttemptState.Testing)]
    [TestCase(MergeAttemptState.Success)]
    public void Plan_AttemptRunning_IsBusy(MergeAttemptState state)
    {
        var running = Attempt(1, state);
        BatchPlanner.Plan([Queued(2, T0)], [running], Config, T0.AddHours(1)).Should().Be(new BatchDecision.Busy(running));
    }

    [Test]
    public void Plan_SplitAttempts_BuildsTheOldestFirstBeforeNewBatches()
    {
        var first = Attempt(5, MergeAttemptState.Split);
        var second = Attempt(6, MergeAttemptState.Split);
        var decision = BatchPlanner.Plan([InSplit(2, second.Id), InSplit(1, first.Id), Queued(3, T0)], [second, first], Config, T0.AddHours(1));
        var build = decision.Should().BeOfType<BatchDecision.BuildSplit>().Subject;
        build.Attempt.Should().BeSameAs(first);
        build.PullRequests.Select(p => p.Number).Should().Equal(1);
    }

    [Test]
    public void Plan_SplitAttemptWithoutPullRequests_IsRemoved()
    {
        var empty = Attempt(5, MergeAttemptState.Split);
        BatchPlanner.Plan([Queued(3, T0)], [empty], Config, T0.AddHours(1)).Should().Be(new BatchDecision.RemoveEmpty(empty));
    }

    [Test]
    public void Plan_Frozen_StartsNothingNew()
    {
        BatchPlanner.Plan([Queued(1, T0)], [], Config, T0.AddHours(1), frozen: true).Should().BeOfType<BatchDecision.Frozen>();
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
