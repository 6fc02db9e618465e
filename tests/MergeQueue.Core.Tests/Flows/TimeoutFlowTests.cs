using MergeQueue.Core.Config;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests.Flows;

public class TimeoutFlowTests
{
    [Test]
    public async Task Poll_RequestedTooLong_TimesOut()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.Merge(n);

        q.Advance(TimeSpan.FromMinutes(59));
        await q.Tick();
        q.Pr(n).State.Should().Be(PullRequestState.Requested);

        q.Advance(TimeSpan.FromMinutes(2));
        await q.Tick();
        q.Pr(n).State.Should().Be(PullRequestState.TimedOut);
        q.GitHub.Statuses[q.Pr(n).HeadSha].Should().Be((StatusState.Failure, "Timed out: REQUESTED for longer than 1h"));
    }

    [Test]
    public async Task Poll_QueuedTooLong_TimesOut()
    {
        var q = new QueueTester(new RepoConfig { BatchDelay = TimeSpan.FromDays(2) });
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);

        q.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        await q.Tick();

        q.Pr(n).State.Should().Be(PullRequestState.TimedOut);
    }

    [Test]
    public async Task Poll_TestingTooLong_TimesOutTheAttemptAndItsPrs()
    {
        var q = new QueueTester();
        var a = q.OpenPr();
        var b = q.OpenPr();
        await q.ApproveAndMerge(a, b);
        await q.StartBatch();
        var attempt = q.Running!;

        q.Advance(TimeSpan.FromMinutes(61));
        await q.Tick();

        q.Store.AllAttempts().Single(x => x.Id == attempt.Id).State.Should().Be(MergeAttemptState.TimedOut);
        q.Pr(a).State.Should().Be(PullRequestState.TimedOut);
        q.Pr(b).State.Should().Be(PullRequestState.TimedOut);
        q.Pr(a).Reason.Should().Be($"Timed out: attempt {attempt.Id} TESTING for longer than 1h");
        q.GitHub.Branches.Keys.Should().NotContain(k => k.StartsWith("mergequeue/", StringComparison.Ordinal));
    }

    [Test]
    public async Task Poll_ConstructingTooLong_TimesOut()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        q.GitHub.FailMerges = true;
        q.Advance(q.Config.BatchDelay);
        await FluentActions.Awaiting(() => q.Flows.ConstructAsync(q.Queue, q.Cause, default)).Should().ThrowAsync<HttpRequestException>();
        q.Running!.State.Should().Be(MergeAttemptState.Constructing);

        q.Advance(TimeSpan.FromMinutes(16));
        await q.Tick();

        q.Store.AllAttempts().Single().State.Should().Be(MergeAttemptState.TimedOut);
        q.Pr(n).State.Should().Be(PullRequestState.TimedOut);
    }

    [Test]
    public async Task Poll_SuccessTooLong_TimesOut()
    {
        var q = new QueueTester();
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();
        q.GitHub.FailFastForwards = true;
        await FluentActions.Awaiting(() => q.FinishCi()).Should().ThrowAsync<HttpRequestException>();
        q.Running!.State.Should().Be(MergeAttemptState.Success);

        q.Advance(TimeSpan.FromMinutes(16));
        await q.Tick();

        q.Store.AllAttempts().Single().State.Should().Be(MergeAttemptState.TimedOut);
        q.Pr(n).State.Should().Be(PullRequestState.TimedOut);
    }

    [Test]
    public async Task Poll_SplitTooLong_TimesOutTheAttemptAndItsPrs()
    {
        var q = new QueueTester();
        var (attempt, pr) = await SeedSplitAsync(q);

        q.Advance(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1));
        await q.Tick();

        (await q.Store.GetAttemptAsync(attempt, default))!.State.Should().Be(MergeAttemptState.TimedOut);
        q.Pr(pr).State.Should().Be(PullRequestState.TimedOut);
    }

    [Test]
    public async Task Poll_MergingTooLong_TimesOutEvenIfTheAttemptKeepsMoving()
    {
        var q = new QueueTester(new RepoConfig { BatchDelay = TimeSpan.FromMinutes(1), Timeouts = new Timeouts { Merging = TimeSpan.FromMinutes(30), Testing = TimeSpan.FromHours(2) } });
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        await q.StartBatch();

        q.Advance(TimeSpan.FromMinutes(31));
        await q.Tick();

        q.Pr(n).State.Should().Be(PullRequestState.TimedOut);
        q.Pr(n).Reason.Should().Be("Timed out: MERGING for longer than 30m");
        q.Store.AllAttempts().Single().State.Should().Be(MergeAttemptState.TimedOut);
    }

    /// <summary>A split attempt that Construct cannot start because another attempt runs on the target.</summary>
    private static async Task<(AttemptId Attempt, int Pr)> SeedSplitAsync(QueueTester q)
    {
        var n = q.OpenPr();
        await q.ApproveAndMerge(n);
        var pr = (await q.Store.FindActivePullRequestAsync(q.Repo, n, default))!;
        var split = MergeAttempt.Create(new AttemptId(100), q.Queue, MergeAttemptState.Split, null, "seeded", q.Clock.GetUtcNow());
        var blocker = MergeAttempt.Create(new AttemptId(101), q.Queue, MergeAttemptState.Testing, null, "seeded", q.Clock.GetUtcNow());
        blocker.StagingSha = q.Main;
        pr.Batch(new AttemptId(99), q.Clock.GetUtcNow());
        pr.Split(split.Id, "seeded", q.Clock.GetUtcNow());
        await q.Store.SaveAsync(new Changes { PullRequests = { pr }, Attempts = { split, blocker } }, q.Cause, default);
        q.Config = q.Config with { Timeouts = new Timeouts { Testing = TimeSpan.FromDays(7) } };
        return (split.Id, n);
    }
}
