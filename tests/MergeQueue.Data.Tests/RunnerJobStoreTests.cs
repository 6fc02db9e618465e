using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Runner;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Data.Tests;

/// <summary>The built-in runner's jobs: queued once, claimed by one instance, cancelled by branch, logged per try, purged with retention.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class RunnerJobStoreTests(string provider)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RepoId Repo = new("acme", "widgets");
    private static readonly JobSpec Spec = new("sh ./test.sh", TimeSpan.FromMinutes(5), new Dictionary<string, string> { ["A"] = "1" }, 1, ["network error"]);

    private static NewJob Job(string sha, string context = "test", string branch = "mergequeue/staging/main/1") =>
        new(Repo, new CommitSha(sha), context, JobTrigger.Staging, branch, new AttemptId(1), Spec);

    private readonly FakeTimeProvider clock = new(Now);

    [Test]
    public async Task Enqueue_SameJobTwice_QueuesItOnce_AndKeepsItsSpec()
    {
        using var file = TestDatabase.Create(provider);
        var store = new RunnerJobStore(await file.MigratedAsync(clock), clock);

        var job = await store.EnqueueAsync(Job("a1"));
        (await store.EnqueueAsync(Job("a1"))).Should().BeNull("a redelivered push queues nothing new");
        (await store.EnqueueAsync(Job("a1") with { Trigger = JobTrigger.Push, Branch = "main" })).Should().BeNull("the target moving to a tested staging commit runs nothing again");
        (await store.EnqueueAsync(Job("a1", context: "lint"))).Should().NotBeNull();

        job!.State.Should().Be(JobState.Queued);
        job.Spec.Should().BeEquivalentTo(Spec);
        job.Attempt.Should().Be(new AttemptId(1));
        job.Repo.Should().Be(Repo);
        job.Description.Should().Be("queued");
        (await store.GetAsync(job.Id))!.Spec.Env.Should().Equal(Spec.Env);
        (await store.ForCommitAsync(new RepoId("ACME", "Widgets"), new CommitSha("a1"))).Select(j => j.Context).Should().Equal("test", "lint");
        (await store.CountActiveAsync()).Should().Be(2);
        (await store.RecentAsync(Repo, 1)).Single().Context.Should().Be("lint");
    }

    [Test]
    public async Task Claim_TwoInstances_EachJobGoesToOne_ThenNoneIsLeft()
    {
        using var file = TestDatabase.Create(provider);
        var db = await file.MigratedAsync(clock);
        var store = new RunnerJobStore(db, clock);
        for (var i = 0; i < 6; i++) await store.EnqueueAsync(Job($"s{i}"));

        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => store.ClaimAsync(i % 2 == 0 ? "one" : "two")));

        claims.Where(c => c is not null).Select(c => c!.Id).Should().OnlyHaveUniqueItems().And.HaveCount(6);
        claims.Where(c => c is not null).Should().OnlyContain(c => c!.State == JobState.Running && c.Tries == 1 && c.StartedAt == Now);
        (await store.ClaimAsync("one")).Should().BeNull();
    }

    [Test]
    public async Task Finish_AfterATryAndLog_KeepsEveryTrysLog()
    {
        using var file = TestDatabase.Create(provider);
        var store = new RunnerJobStore(await file.MigratedAsync(clock), clock);
        var job = (await store.EnqueueAsync(Job("b1")))!;
        (await store.ClaimAsync("one"))!.Id.Should().Be(job.Id);
        await store.AppendLogAsync(job.Id, 1, "fetching\nnetwork error\n");
        (await store.StartTryAsync(job.Id, "two", "running (try 2)")).Should().BeFalse("only the claimer starts a try");
        (await store.StartTryAsync(job.Id, "one", "running (try 2)")).Should().BeTrue();
        await store.AppendLogAsync(job.Id, 2, "ok\u0000\n");

        (await store.FinishAsync(job.Id, "two", JobState.Success, "passed in 1s", 0)).Should().BeFalse("only the claimer's verdict counts");
        (await store.FinishAsync(job.Id, "one", JobState.Success, "passed in 1s", 0)).Should().BeTrue();

        var done = (await store.GetAsync(job.Id))!;
        (done.State, done.Tries, done.ExitCode, done.FinishedAt, done.IsFinal).Should().Be((JobState.Success, 2, 0, Now, true));
        (await store.LogAsync(job.Id)).Select(c => (c.Try, c.Text)).Should().Equal((1, "fetching\nnetwork error\n"), (2, "ok\uFFFD\n"));
        (await store.FinishAsync(job.Id, "one", JobState.Failure, "again", 1)).Should().BeFalse("a job ends once");
    }

    [Test]
    public async Task CancelBranch_SparesTheNewCommit_AndARunningJobCannotFinishAfterwards()
    {
        using var file = TestDatabase.Create(provider);
        var store = new RunnerJobStore(await file.MigratedAsync(clock), clock);
        var running = (await store.EnqueueAsync(Job("old")))!;
        await store.ClaimAsync("one");
        var queued = (await store.EnqueueAsync(Job("old", context: "lint")))!;
        var fresh = (await store.EnqueueAsync(Job("new")))!;
        var other = (await store.EnqueueAsync(Job("x", branch: "mergequeue/try/3")))!;

        var cancelled = await store.CancelBranchAsync(Repo, "mergequeue/staging/main/1", new CommitSha("new"), "cancelled: attempt ended");

        cancelled.Select(j => (j.Id, j.State)).Should().BeEquivalentTo(new[] { (running.Id, JobState.Running), (queued.Id, JobState.Queued) });
        (await store.GetAsync(running.Id))!.State.Should().Be(JobState.Cancelled);
        (await store.FinishAsync(running.Id, "one", JobState.Success, "passed", 0)).Should().BeFalse("a cancelled job stays cancelled");
        (await store.HeartbeatAsync(running.Id, "one")).Should().BeFalse("its runner hears that it is no longer its own");
        (await store.GetAsync(fresh.Id))!.State.Should().Be(JobState.Queued);
        (await store.GetAsync(other.Id))!.State.Should().Be(JobState.Queued);
        (await store.EnqueueAsync(Job("old"))).Should().NotBeNull("a cancelled job may be queued again");
    }

    [Test]
    public async Task RequeueOrphans_PutsBackOnlyTheJobsOfInstancesThatAreGone()
    {
        using var file = TestDatabase.Create(provider);
        var store = new RunnerJobStore(await file.MigratedAsync(clock), clock);
        var mine = (await store.EnqueueAsync(Job("m")))!;
        var theirs = (await store.EnqueueAsync(Job("t")))!;
        await store.ClaimAsync("alive");
        await store.ClaimAsync("dead");

        (await store.RequeueOrphansAsync(["alive"])).Should().Be(1);

        (await store.GetAsync(mine.Id))!.State.Should().Be(JobState.Running);
        (await store.GetAsync(theirs.Id))!.State.Should().Be(JobState.Queued);
        (await store.RequeueOrphansAsync([])).Should().Be(1);
    }

    [Test]
    public async Task RequeueOrphans_LeavesExternalRunnersJobs_ToTheirHeartbeats()
    {
        using var file = TestDatabase.Create(provider);
        var store = new RunnerJobStore(await file.MigratedAsync(clock), clock);
        var external = (await store.EnqueueAsync(Job("e")))!;
        await store.ClaimAsync(RunnerJobStore.ExternalPrefix + "build-1#abc");

        (await store.RequeueOrphansAsync(["some-instance"])).Should().Be(0);

        (await store.GetAsync(external.Id))!.State.Should().Be(JobState.Running);
    }

    [Test]
    public async Task RequeueStale_PutsBackTheJobsWhoseHeartbeatStopped_AndTheirOldClaimerIsRefused()
    {
        using var file = TestDatabase.Create(provider);
        var store = new RunnerJobStore(await file.MigratedAsync(clock), clock);
        var dead = (await store.EnqueueAsync(Job("d")))!;
        var beating = (await store.EnqueueAsync(Job("b")))!;
        var waiting = (await store.EnqueueAsync(Job("w")))!;
        await store.ClaimAsync("runner:a#1");
        await store.ClaimAsync("runner:b#2");
        clock.Advance(TimeSpan.FromSeconds(50));
        (await store.HeartbeatAsync(beating.Id, "runner:b#2")).Should().BeTrue();
        (await store.HeartbeatAsync(beating.Id, "runner:a#1")).Should().BeFalse("a heartbeat counts from the claimer only");
        clock.Advance(TimeSpan.FromSeconds(20));

        var stale = await store.RequeueStaleAsync(TimeSpan.FromMinutes(1));

        stale.Select(j => (j.Id, j.ClaimedBy, j.State)).Should().Equal((dead.Id, "runner:a#1", JobState.Running));
        (await store.GetAsync(dead.Id))!.State.Should().Be(JobState.Queued);
        (await store.GetAsync(beating.Id))!.State.Should().Be(JobState.Running);
        (await store.GetAsync(waiting.Id))!.State.Should().Be(JobState.Queued, "a queued job has no heartbeat to miss");
        (await store.RequeueStaleAsync(TimeSpan.FromMinutes(1))).Should().BeEmpty();

        var again = (await store.ClaimAsync("runner:b#3"))!;
        again.Id.Should().Be(dead.Id);
        again.Tries.Should().Be(2);
        (await store.HeartbeatAsync(dead.Id, "runner:a#1")).Should().BeFalse("the old claimer's run no longer counts");
        (await store.StartTryAsync(dead.Id, "runner:a#1", "running (try 3)")).Should().BeFalse();
        (await store.FinishAsync(dead.Id, "runner:a#1", JobState.Success, "passed", 0)).Should().BeFalse();
        (await store.ReleaseAsync(dead.Id, "runner:a#1")).Should().BeFalse();
        (await store.FinishAsync(dead.Id, "runner:b#3", JobState.Success, "passed", 0)).Should().BeTrue();
    }

    [Test]
    public async Task Retention_PurgesEndedOldJobsAndTheirLogs_KeepsRecentAndRunningOnes()
    {
        using var file = TestDatabase.Create(provider);
        var then = new FakeTimeProvider(Now.AddDays(-40));
        var db = await file.MigratedAsync(then);
        var store = new RunnerJobStore(db, then);
        var old = (await store.EnqueueAsync(Job("old")))!;
        var stillRunning = (await store.EnqueueAsync(Job("running")))!;
        await store.ClaimAsync("one");
        await store.ClaimAsync("one");
        await store.AppendLogAsync(old.Id, 1, "old output\n");
        await store.FinishAsync(old.Id, "one", JobState.Failure, "failed (exit 1)", 1);
        then.SetUtcNow(Now.AddDays(-1));
        var recent = (await store.EnqueueAsync(Job("recent")))!;
        await store.ClaimAsync("one");
        await store.FinishAsync(recent.Id, "one", JobState.Success, "passed", 0);

        var purged = await new RetentionPurge(db).PurgeAsync(Now.AddDays(-30));

        purged.RunnerJobs.Should().Be(1);
        (await store.GetAsync(old.Id)).Should().BeNull();
        (await store.LogAsync(old.Id)).Should().BeEmpty();
        (await store.GetAsync(stillRunning.Id)).Should().NotBeNull();
        (await store.GetAsync(recent.Id)).Should().NotBeNull();
    }
}
