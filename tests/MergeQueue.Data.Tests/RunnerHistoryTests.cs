using MergeQueue.Core;
using MergeQueue.Core.Config;
using MergeQueue.Core.Runner;
using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Data.Tests;

/// <summary>The runner's history (issue 16 item 6): tested commits summed up, filtered and paged in SQL, on both providers.</summary>
[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class RunnerHistoryTests(string provider)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RepoId Repo = new("acme", "widgets");
    private static readonly JobSpec Spec = new("sh ./test.sh", TimeSpan.FromMinutes(5), new Dictionary<string, string>(), 0, []);

    // Five commits, oldest first; abcd1 and abcd2 share a prefix.
    private static readonly CommitSha Staged = Sha("abcd1"), PrHead = Sha("abcd2"), MainHead = Sha("b3"), Cancelled = Sha("c4"), Tried = Sha("d5");

    private static CommitSha Sha(string prefix) => new(prefix.PadRight(40, '0'));

    private FakeTimeProvider clock = null!;
    private TestDatabase file = null!;
    private RunnerJobStore store = null!;

    [SetUp]
    public async Task FillAsync()
    {
        // NUnit shares the fixture's instance between its tests: a fresh clock each time.
        clock = new FakeTimeProvider(Now);
        file = TestDatabase.Create(provider);
        store = new RunnerJobStore(await file.MigratedAsync(clock), clock);
        await RunAsync(Staged, "test", JobTrigger.Staging, "mergequeue/staging/main/1", JobState.Success);
        await RunAsync(Staged, "lint", JobTrigger.Staging, "mergequeue/staging/main/1", JobState.Success);
        await RunAsync(PrHead, "test", JobTrigger.PullRequest, "pull/7", JobState.Failure);
        await RunAsync(MainHead, "test", JobTrigger.Push, "main", JobState.Error);
        await RunAsync(MainHead, "test", JobTrigger.Push, "main", JobState.Success, again: true);
        await RunAsync(Cancelled, "test", JobTrigger.Staging, "mergequeue/staging/main/2", JobState.Success);
        await RunAsync(Cancelled, "lint", JobTrigger.Staging, "mergequeue/staging/main/2", JobState.Cancelled);
        await store.EnqueueAsync(new NewJob(Repo, Tried, "test", JobTrigger.Try, "mergequeue/try/9", null, Spec));
    }

    [TearDown]
    public void Drop() => file.Dispose();

    /// <summary>Queues a job, runs it for a minute and ends it in <paramref name="final"/>.</summary>
    private async Task RunAsync(CommitSha sha, string job, JobTrigger trigger, string branch, JobState final, bool again = false)
    {
        var row = (await store.EnqueueAsync(new NewJob(Repo, sha, job, trigger, branch, null, Spec), again: again))!;
        clock.Advance(TimeSpan.FromSeconds(10));
        if (final == JobState.Cancelled)
        {
            (await store.CancelAsync(row.Id, "cancelled: test")).Should().BeTrue();
            return;
        }
        (await store.ClaimAsync("one"))!.Id.Should().Be(row.Id);
        clock.Advance(TimeSpan.FromMinutes(1));
        (await store.FinishAsync(row.Id, "one", final, final.ToString(), final == JobState.Success ? 0 : 1)).Should().BeTrue();
    }

    private async Task<IReadOnlyList<CommitSha>> ShasAsync(CommitFilter filter, int limit = 50, long? before = null) =>
        (await store.CommitsAsync(new RepoId("ACME", "widgets"), filter, limit, before)).Select(c => c.Sha).ToList();

    [Test]
    public async Task Commits_NoFilter_NewestFirst_EachSummedUpFromItsLatestJobs()
    {
        var commits = await store.CommitsAsync(Repo, new CommitFilter(), 50);

        commits.Select(c => (c.Sha, c.Result)).Should().Equal(
            (Tried, CommitResult.Pending), (Cancelled, CommitResult.Cancelled), (MainHead, CommitResult.Success),
            (PrHead, CommitResult.Failure), (Staged, CommitResult.Success));
        var main = commits.Single(c => c.Sha == MainHead);
        (main.Branch, main.Trigger, main.Jobs.Total, main.Jobs.Success, main.Jobs.Error).Should().Be(("main", JobTrigger.Push, 1, 1, 0),
            "the job run again stands for the one that erred");
        var staged = commits.Single(c => c.Sha == Staged);
        (staged.Branch, staged.Trigger, staged.Jobs.Total).Should().Be(("mergequeue/staging/main/1", JobTrigger.Staging, 2));
        staged.FirstQueuedAt.Should().Be(Now);
        staged.LastFinishedAt.Should().Be(Now + 2 * TimeSpan.FromSeconds(70), "its second job ended 2 × 70 s after the first was queued");
        commits.Single(c => c.Sha == Tried).LastFinishedAt.Should().BeNull();
    }

    [TestCase("pull/7", null, null, new[] { "abcd2" })]
    [TestCase(null, "lint", null, new[] { "c4", "abcd1" })]
    [TestCase(null, null, CommitResult.Failure, new[] { "abcd2" })]
    [TestCase(null, null, CommitResult.Success, new[] { "b3", "abcd1" })]
    [TestCase(null, null, CommitResult.Pending, new[] { "d5" })]
    [TestCase(null, null, CommitResult.Cancelled, new[] { "c4" })]
    [TestCase(null, "lint", CommitResult.Success, new[] { "abcd1" })]
    [TestCase(null, "test", CommitResult.Success, new[] { "c4", "b3", "abcd1" })]
    [TestCase("main", null, CommitResult.Failure, new string[0])]
    public async Task Commits_Filters_NarrowTheListInSql(string? branch, string? job, CommitResult? result, string[] expected)
    {
        (await ShasAsync(new CommitFilter(branch, job, result))).Should().Equal(expected.Select(Sha));
    }

    [Test]
    public async Task Commits_RunAgainWithoutBranch_TheBranchFilterStillShowsHowItWentOnTheBranch()
    {
        var sha = Sha("e6");
        // Out of the way first: the try build's job, still queued, would be claimed before the ones below.
        (await store.ClaimAsync("one"))!.Sha.Should().Be(Tried);
        await RunAsync(sha, "test", JobTrigger.PullRequest, "pull/3", JobState.Failure);
        var again = (await store.EnqueueAsync(new NewJob(Repo, sha, "test", JobTrigger.Push, null, null, Spec), again: true))!;
        (await store.ClaimAsync("one"))!.Id.Should().Be(again.Id);
        await store.FinishAsync(again.Id, "one", JobState.Success, "passed", 0);

        var commit = (await store.CommitsAsync(Repo, new CommitFilter(Sha: sha), 5)).Single();
        commit.Result.Should().Be(CommitResult.Success, "the job run again stands for the first");
        (commit.Branch, commit.Trigger).Should().Be(("pull/3", JobTrigger.PullRequest), "a commit comes from where its first job ran");
        var onBranch = (await store.CommitsAsync(Repo, new CommitFilter(Branch: "pull/3"), 5)).Single();
        (onBranch.Sha, onBranch.Result).Should().Be((sha, CommitResult.Failure));
    }

    [Test]
    public async Task Commits_Paging_BeforeTheLastCommitsCursor_GivesTheNextOnesWithoutOverlap()
    {
        var first = await store.CommitsAsync(Repo, new CommitFilter(), 2);
        var second = await store.CommitsAsync(Repo, new CommitFilter(), 2, first[^1].LatestJobId);
        var third = await store.CommitsAsync(Repo, new CommitFilter(), 2, second[^1].LatestJobId);

        first.Select(c => c.Sha).Should().Equal(Tried, Cancelled);
        second.Select(c => c.Sha).Should().Equal(MainHead, PrHead);
        third.Select(c => c.Sha).Should().Equal(Staged);
        (await ShasAsync(new CommitFilter(Result: CommitResult.Success), 1, first[^1].LatestJobId)).Should().Equal(MainHead);
    }

    [Test]
    public async Task Commits_OneSha_IsThatCommitsSummary()
    {
        (await ShasAsync(new CommitFilter(Sha: PrHead))).Should().Equal(PrHead);
        (await ShasAsync(new CommitFilter(Sha: Sha("ef")))).Should().BeEmpty();
        (await store.CommitsAsync(new RepoId("acme", "other"), new CommitFilter(), 50)).Should().BeEmpty();
    }

    [TestCase("abcd1", "abcd1")]
    [TestCase("ABCD2000", "abcd2")]
    [TestCase("abcd", null)]
    [TestCase("abc", null)]
    [TestCase("ffff", null)]
    [TestCase("not-hex!", null)]
    public async Task FindCommit_FullShaOrUnambiguousPrefix(string asked, string? found)
    {
        (await store.FindCommitAsync(Repo, asked)).Should().Be(found is null ? null : Sha(found));
        (await store.FindCommitAsync(Repo, Staged.Value)).Should().Be(Staged);
    }

    [Test]
    public async Task Samples_FinishedJobsInTheSpan_WithTheirDurations()
    {
        var samples = await store.SamplesAsync(Repo, Now, Now.AddHours(1), new CommitFilter());
        samples.Should().HaveCount(7, "the cancelled job and the one run again ended too; the queued one did not");
        samples.Where(s => s.State != JobState.Cancelled).Should().OnlyContain(s => s.Duration == TimeSpan.FromMinutes(1));
        (await store.SamplesAsync(Repo, Now, Now.AddHours(1), new CommitFilter(Job: "lint"))).Select(s => s.State)
            .Should().BeEquivalentTo([JobState.Success, JobState.Cancelled]);
        (await store.SamplesAsync(Repo, Now.AddHours(1), Now.AddHours(2), new CommitFilter())).Should().BeEmpty();
    }

    [Test]
    public async Task ForCommits_AndFilterValues()
    {
        (await store.ForCommitsAsync(Repo, [MainHead, PrHead])).Select(j => (j.Sha, j.State)).Should().Equal(
            (PrHead, JobState.Failure), (MainHead, JobState.Error), (MainHead, JobState.Success));
        var (branches, jobs) = await store.FilterValuesAsync(Repo);
        branches.Should().Equal("main", "mergequeue/staging/main/1", "mergequeue/staging/main/2", "mergequeue/try/9", "pull/7");
        jobs.Should().Equal("lint", "test");
    }
}
