using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using static MergeQueue.Data.Tests.Build;

namespace MergeQueue.Data.Tests;

[TestFixtureSource(typeof(TestDatabase), nameof(TestDatabase.Providers))]
public sealed class QueueStoreTests(string provider)
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private TestDatabase _file = null!;
    private Database _db = null!;
    private QueueStore _store = null!;

    [SetUp]
    public async Task SetUp()
    {
        _file = TestDatabase.Create(provider);
        _db = await _file.MigratedAsync();
        _store = new QueueStore(_db);
    }

    [TearDown]
    public void TearDown() => _file.Dispose();

    private static IEnumerable<PullRequestState> PullRequestStates => Enum.GetValues<PullRequestState>();
    private static IEnumerable<MergeAttemptState> AttemptStates => Enum.GetValues<MergeAttemptState>();

    private static Changes Save(params object[] entities)
    {
        var changes = new Changes();
        changes.PullRequests.AddRange(entities.OfType<PullRequest>());
        changes.Attempts.AddRange(entities.OfType<MergeAttempt>());
        changes.Events.AddRange(entities.OfType<EventLogEntry>());
        return changes;
    }

    private async Task<PullRequest> SavedRequestAsync(int number = 42)
    {
        await _store.SaveAsync(Save(Requested(number)), Cause.Test(), Ct);
        return (await _store.FindActivePullRequestAsync(Repo, number, Ct))!;
    }

    // ---- round trips ------------------------------------------------------------------------

    [TestCaseSource(nameof(PullRequestStates))]
    public async Task PullRequest_EveryFieldInEveryState_RoundTrips(PullRequestState state)
    {
        var attempt = Attempt(7);
        var pr = PullRequest.Restore(
            id: 0, new RepoId("AcMe", "WidGets"), number: 42, target: "release/1.x", Sha('a'), state, new AttemptId(7),
            priority: 3, requestedAt: T0, stateChangedAt: T0.AddMinutes(1), queuedAt: T0.AddSeconds(30), requestedBy: "alice",
            title: "Make widgets faster", author: "bob", reason: "why it is here", mergedSha: Sha('m'), version: 0);
        pr.LandedSha = Sha('l');

        await _store.SaveAsync(Save(attempt, pr), Cause.Test(), Ct);

        pr.Id.Should().BePositive();
        pr.Version.Should().Be(1);
        var loaded = await _store.GetPullRequestAsync(pr.Id, Ct);
        loaded.Should().BeEquivalentTo(pr, o => o.Excluding(p => p.Transitions));
        // RepoId compares case-insensitively; the stored spelling must still be the one given.
        loaded!.Repo.Owner.Should().Be("AcMe");
        loaded.Repo.Name.Should().Be("WidGets");

        // The update path writes every mutable field too, including back to null.
        loaded.Target = "main";
        loaded.HeadSha = Sha('b');
        loaded.RequestedAt = T0.AddHours(1);
        loaded.StateChangedAt = T0.AddHours(2);
        loaded.QueuedAt = null;
        loaded.RequestedBy = null;
        loaded.Title = null;
        loaded.Author = null;
        loaded.Reason = null;
        loaded.MergedSha = null;
        loaded.LandedSha = null;
        await _store.SaveAsync(Save(loaded), Cause.Test(), Ct);

        var reloaded = await _store.GetPullRequestAsync(pr.Id, Ct);
        reloaded.Should().BeEquivalentTo(loaded, o => o.Excluding(p => p.Transitions));
        reloaded!.Version.Should().Be(2);
    }

    [TestCaseSource(nameof(AttemptStates))]
    public async Task Attempt_EveryFieldInEveryState_RoundTrips(MergeAttemptState state)
    {
        var attempt = new MergeAttempt(new AttemptId(12), new QueueId(new RepoId("AcMe", "WidGets"), "release/1.x"), state, T0)
        {
            BaseSha = Sha('b'),
            StagingSha = Sha('s'),
            ParentId = new AttemptId(11),
            StateChangedAt = T0.AddSeconds(5),
            Reason = "bisected",
        };

        await _store.SaveAsync(Save(attempt), Cause.Test(), Ct);

        attempt.Version.Should().Be(1);
        var loaded = await _store.GetAttemptAsync(new AttemptId(12), Ct);
        loaded.Should().BeEquivalentTo(attempt, o => o.Excluding(a => a.Transitions));
        loaded!.Repo.Owner.Should().Be("AcMe");

        loaded.BaseSha = null;
        loaded.StagingSha = null;
        loaded.ParentId = null;
        loaded.CreatedAt = T0.AddDays(1);
        loaded.StateChangedAt = T0.AddDays(2);
        loaded.Reason = null;
        await _store.SaveAsync(Save(loaded), Cause.Test(), Ct);

        var reloaded = await _store.GetAttemptAsync(new AttemptId(12), Ct);
        reloaded.Should().BeEquivalentTo(loaded, o => o.Excluding(a => a.Transitions));
        reloaded!.Version.Should().Be(2);
    }

    [Test]
    public async Task PullRequest_TimeWithOffset_KeepsTheInstantToTheMillisecond()
    {
        var pr = Requested();
        pr.RequestedAt = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1234567);
        await _store.SaveAsync(Save(pr), Cause.Test(), Ct);

        var loaded = await _store.GetPullRequestAsync(pr.Id, Ct);

        loaded!.RequestedAt.Should().Be(new DateTimeOffset(2025, 6, 1, 10, 0, 0, 123, TimeSpan.Zero));
    }

    // ---- queries --------------------------------------------------------------------------

    [Test]
    public async Task GetActive_FiltersByRepoCaseInsensitivelyAndSkipsFinished()
    {
        var other = new RepoId("acme", "gadgets");
        var attempt = Attempt(1);
        var done = Attempt(2, MergeAttemptState.Merged);
        var otherAttempt = new MergeAttempt(new AttemptId(3), new QueueId(other, "main"), MergeAttemptState.Testing, T0);
        var cancelled = Requested(7);
        await _store.SaveAsync(Save(Requested(1), Requested(2), Requested(3, other), cancelled, attempt, done, otherAttempt), Cause.Test(), Ct);
        cancelled.Cancel("closed", T0);
        await _store.SaveAsync(Save(cancelled), Cause.Test(), Ct);

        var prs = await _store.GetActivePullRequestsAsync(new RepoId("ACME", "WIDGETS"), Ct);
        var all = await _store.GetActivePullRequestsAsync(null, Ct);
        var attempts = await _store.GetActiveAttemptsAsync(new RepoId("ACME", "WIDGETS"), Ct);
        var allAttempts = await _store.GetActiveAttemptsAsync(null, Ct);

        prs.Select(p => p.Number).Should().Equal(1, 2);
        all.Select(p => p.Number).Should().Equal(1, 2, 3);
        attempts.Select(a => a.Id.Value).Should().Equal(1);
        allAttempts.Select(a => a.Id.Value).Should().Equal(1, 3);
        (await _store.FindActivePullRequestAsync(Repo, 7, Ct)).Should().BeNull();
        (await _store.FindActivePullRequestAsync(new RepoId("acme", "widgets"), 2, Ct))!.Number.Should().Be(2);
        (await _store.GetAttemptAsync(new AttemptId(2), Ct))!.State.Should().Be(MergeAttemptState.Merged);
        (await _store.GetAttemptAsync(new AttemptId(99), Ct)).Should().BeNull();
    }

    // ---- event log --------------------------------------------------------------------------

    [Test]
    public async Task SaveAsync_Transitions_AreLoggedWithTheCause()
    {
        var pr = await SavedRequestAsync();
        var attemptId = await _store.NextAttemptIdAsync(Ct);
        var attempt = new MergeAttempt(attemptId, Queue, MergeAttemptState.Constructing, T0);
        pr.Initiate(T0.AddSeconds(1));
        pr.Batch(attemptId, T0.AddSeconds(2));
        attempt.Built(Sha('b'), Sha('s'), T0.AddSeconds(3));
        var effect = new EventLogEntry(T0.AddSeconds(4), Repo, 42, attemptId, "github.create_ref", null, null, "mergequeue/staging/main/1",
            Cause.Command("delivery-2", "alice"));
        var cause = Cause.Command("delivery-2", "alice");

        await _store.SaveAsync(Save(pr, attempt, effect), cause, Ct);

        pr.Transitions.Should().BeEmpty("they are written, so a second save must not log them again");
        attempt.Transitions.Should().BeEmpty();
        pr.Version.Should().Be(2);
        var log = await new EventLogReader(_db).ForCauseAsync("command", "delivery-2", Ct);
        log.Select(e => (e.Kind, e.Entity, e.From, e.To, e.Trigger)).Should().Equal(
            ("transition", "merge_attempt", "Constructing", "Testing", "Built"),
            ("transition", "pull_request", "Requested", "Queued", "Initiate"),
            ("transition", "pull_request", "Queued", "Merging", "Batch"),
            ("github.create_ref", null, null, null, null));
        log.Should().OnlyContain(e => e.Cause == cause && e.Repo == Repo && e.Attempt == attemptId);
        log.Where(e => e.Entity == "pull_request").Should().OnlyContain(e => e.PullRequest == 42);
        log[0].PullRequest.Should().BeNull();
        log[0].Reason.Should().Be($"staging {Sha('s').Short} on {Sha('b').Short}");
        log[2].Reason.Should().Be($"attempt {attemptId}");
        log[3].Reason.Should().Be("mergequeue/staging/main/1");
        log[3].At.Should().Be(T0.AddSeconds(4));
    }

    [Test]
    public async Task SaveAsync_PrLeavingItsAttempt_LogsTheAttemptItLeft()
    {
        var pr = await SavedRequestAsync();
        var attempt = Attempt(5, MergeAttemptState.Success);
        pr.Initiate(T0);
        pr.Batch(attempt.Id, T0);
        await _store.SaveAsync(Save(attempt, pr), Cause.Test(), Ct);

        pr.MarkMerged(Sha('m'), "merged", T0.AddMinutes(1));
        pr.AttemptId.Should().BeNull();
        await _store.SaveAsync(Save(pr), Cause.Poll("tick-9"), Ct);

        var log = await new EventLogReader(_db).ForAttemptAsync(attempt.Id, Ct);
        log.Should().ContainSingle(e => e.To == "Merged" && e.PullRequest == 42 && e.Cause == Cause.Poll("tick-9"));
    }

    [Test]
    public async Task SaveAsync_NothingChanged_StillChecksAndBumpsTheVersion()
    {
        var pr = await SavedRequestAsync();
        await _store.SaveAsync(Save(pr), Cause.Test(), Ct);
        (await _store.GetPullRequestAsync(pr.Id, Ct))!.Version.Should().Be(2);
        (await new EventLogReader(_db).ForPullRequestAsync(Repo, 42, Ct)).Should().BeEmpty();
    }

    // ---- optimistic concurrency --------------------------------------------------------------

    [Test]
    public async Task SaveAsync_TwoStoresChangeTheSamePr_FirstWinsSecondConflictsAndWritesNothing()
    {
        await _store.SaveAsync(Save(Requested(42), Requested(43)), Cause.Test(), Ct);
        var storeA = new QueueStore(_file.Open());
        var storeB = new QueueStore(_file.Open());
        var prA = (await storeA.FindActivePullRequestAsync(Repo, 42, Ct))!;
        var prB = (await storeB.FindActivePullRequestAsync(Repo, 42, Ct))!;
        var otherB = (await storeB.FindActivePullRequestAsync(Repo, 43, Ct))!;

        prA.Initiate(T0.AddSeconds(1));
        await storeA.SaveAsync(Save(prA), Cause.Delivery("a"), Ct);

        // B's unit of work writes an attempt, another PR and an effect before it reaches the stale
        // row: all of it must vanish with the conflict.
        var attempt = Attempt((await storeB.NextAttemptIdAsync(Ct)).Value);
        otherB.Cancel("closed", T0.AddSeconds(2));
        prB.Cancel("closed", T0.AddSeconds(2));
        var effect = new EventLogEntry(T0, Repo, 42, null, "github.comment", null, null, "cancelled", Cause.Delivery("b"));
        var saveB = () => storeB.SaveAsync(Save(attempt, otherB, prB, effect), Cause.Delivery("b"), Ct);

        await saveB.Should().ThrowAsync<ConcurrencyConflictException>();

        (await _store.GetAttemptAsync(attempt.Id, Ct)).Should().BeNull();
        (await _store.FindActivePullRequestAsync(Repo, 43, Ct))!.Should().Match<PullRequest>(p => p.State == PullRequestState.Requested && p.Version == 1);
        (await _store.FindActivePullRequestAsync(Repo, 42, Ct))!.Should().Match<PullRequest>(p => p.State == PullRequestState.Queued && p.Version == 2);
        (await new EventLogReader(_db).ForCauseAsync("delivery", "b", Ct)).Should().BeEmpty();
        // The losers are left as they were, not half-advanced.
        prB.Version.Should().Be(1);
        prB.Transitions.Should().ContainSingle();
        otherB.Version.Should().Be(1);
        otherB.Transitions.Should().ContainSingle();
        attempt.Version.Should().Be(0);

        // The caller's recovery: reload and run the flow again.
        var reloaded = (await storeB.FindActivePullRequestAsync(Repo, 42, Ct))!;
        reloaded.Cancel("closed", T0.AddSeconds(3));
        await storeB.SaveAsync(Save(reloaded), Cause.Delivery("b"), Ct);

        var final = await _store.GetPullRequestAsync(reloaded.Id, Ct);
        final!.State.Should().Be(PullRequestState.Cancelled);
        final.Version.Should().Be(3);
        (await new EventLogReader(_db).ForCauseAsync("delivery", "b", Ct))
            .Should().ContainSingle().Which.Should().Match<EventLogRecord>(e => e.From == "Queued" && e.To == "Cancelled");
    }

    [Test]
    public async Task SaveAsync_StaleAttempt_Conflicts()
    {
        await _store.SaveAsync(Save(Attempt(3)), Cause.Test(), Ct);
        var first = (await _store.GetAttemptAsync(new AttemptId(3), Ct))!;
        var second = (await _store.GetAttemptAsync(new AttemptId(3), Ct))!;
        first.Built(Sha('b'), Sha('s'), T0);
        await _store.SaveAsync(Save(first), Cause.Test(), Ct);

        second.TimeOut("too slow", T0);
        var save = () => _store.SaveAsync(Save(second), Cause.Test(), Ct);

        await save.Should().ThrowAsync<ConcurrencyConflictException>();
        (await _store.GetAttemptAsync(new AttemptId(3), Ct))!.State.Should().Be(MergeAttemptState.Testing);
    }

    [Test, CancelAfter(60_000)]
    public async Task SaveAsync_ConcurrentWritersOnSeparateConnections_ExactlyOneWins()
    {
        const int writers = 4;
        await SavedRequestAsync();
        var loaded = 0;
        var allLoaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var results = await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var store = new QueueStore(_file.Open());
            var pr = (await store.FindActivePullRequestAsync(Repo, 42, Ct))!;
            // Everyone holds version 1 before anyone saves, so exactly one save can succeed.
            if (Interlocked.Increment(ref loaded) == writers) allLoaded.SetResult();
            await allLoaded.Task;
            pr.Reprioritize(w + 1, T0);
            try
            {
                await store.SaveAsync(Save(pr), new Cause("test", $"writer-{w}"), Ct);
                return true;
            }
            catch (ConcurrencyConflictException)
            {
                return false;
            }
        })));

        results.Count(won => won).Should().Be(1);
        var final = (await _store.FindActivePullRequestAsync(Repo, 42, Ct))!;
        final.Version.Should().Be(2);
        var winner = Array.IndexOf(results, true);
        final.Priority.Should().Be(winner + 1);
        (await new EventLogReader(_db).ForPullRequestAsync(Repo, 42, Ct))
            .Should().ContainSingle().Which.Cause.Id.Should().Be($"writer-{winner}");
    }

    [Test, CancelAfter(120_000)]
    public async Task SaveAsync_ConcurrentWritersRetryingOnConflict_LoseNoUpdate()
    {
        const int writers = 4, increments = 10;
        await SavedRequestAsync();

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var store = new QueueStore(_file.Open());
            for (var i = 0; i < increments; i++)
            {
                while (true)
                {
                    var pr = (await store.FindActivePullRequestAsync(Repo, 42, Ct))!;
                    pr.Reprioritize(pr.Priority + 1, T0);
                    try
                    {
                        await store.SaveAsync(Save(pr), new Cause("test", $"writer-{w}"), Ct);
                        break;
                    }
                    catch (ConcurrencyConflictException)
                    {
                        // Another writer got there first: reload and apply the change again.
                    }
                }
            }
        })));

        var final = (await _store.FindActivePullRequestAsync(Repo, 42, Ct))!;
        final.Priority.Should().Be(writers * increments);
        final.Version.Should().Be(1 + (writers * increments));
        var log = await new EventLogReader(_db).ForPullRequestAsync(Repo, 42, Ct);
        log.Should().HaveCount(writers * increments);
        log.Select(e => e.Reason).Should().OnlyHaveUniqueItems("each save saw the previous one's priority");
    }

    // ---- one active request per PR ----------------------------------------------------------

    [Test]
    public async Task SaveAsync_SecondActiveRequestForSamePr_Conflicts()
    {
        await SavedRequestAsync();
        // Same PR, spelled differently: GitHub names are case-insensitive, so is the index.
        var second = Requested(42, new RepoId("ACME", "widgets"));

        var save = () => _store.SaveAsync(Save(second), Cause.Test(), Ct);

        await save.Should().ThrowAsync<ConcurrencyConflictException>();
        second.Id.Should().Be(0);
        second.Version.Should().Be(0);
        (await _store.GetPullRequestHistoryAsync(Repo, 42, Ct)).Should().ContainSingle();
    }

    [Test]
    public async Task SaveAsync_NewRequestAfterPreviousFinished_IsAllowed()
    {
        var first = await SavedRequestAsync();
        first.Cancel("closed", T0);
        await _store.SaveAsync(Save(first), Cause.Test(), Ct);

        var again = Requested(42);
        await _store.SaveAsync(Save(again, Requested(43), Requested(42, new RepoId("acme", "gadgets"))), Cause.Test(), Ct);

        again.Id.Should().NotBe(first.Id);
        (await _store.GetPullRequestHistoryAsync(Repo, 42, Ct)).Select(p => (p.Id, p.State))
            .Should().Equal((first.Id, PullRequestState.Cancelled), (again.Id, PullRequestState.Requested));
        (await _store.FindActivePullRequestAsync(Repo, 42, Ct))!.Id.Should().Be(again.Id);
    }

    [Test]
    public async Task SaveAsync_InsertingAnAttemptIdTwice_Conflicts()
    {
        await _store.SaveAsync(Save(Attempt(3)), Cause.Test(), Ct);
        var again = Attempt(3);

        var save = () => _store.SaveAsync(Save(again), Cause.Test(), Ct);

        await save.Should().ThrowAsync<ConcurrencyConflictException>();
        again.Version.Should().Be(0);
    }

    // ---- attempt ids ----------------------------------------------------------------------

    [Test, CancelAfter(60_000)]
    public async Task NextAttemptIdAsync_ParallelCallersOnSeparateConnections_GetUniqueIncreasingIds()
    {
        const int callers = 8, calls = 25;

        var perCaller = await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            var store = new QueueStore(_file.Open());
            var ids = new List<long>();
            for (var i = 0; i < calls; i++) ids.Add((await store.NextAttemptIdAsync(Ct)).Value);
            return ids;
        })));

        perCaller.SelectMany(ids => ids).Should().OnlyHaveUniqueItems().And.HaveCount(callers * calls).And.OnlyContain(id => id > 0);
        perCaller.Should().OnlyContain(ids => ids.SequenceEqual(ids.Order()), "ids are monotonic");
    }
}
