using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Tests.Queue;

public class EtaTests
{
    /// <summary>A target's staging runs in minutes, oldest first: mostly 10-14, a slow one now and then.</summary>
    private static readonly int[] ReplayedRuns =
    [
        12, 11, 13, 12, 10, 14, 12, 11, 12, 13,
        12, 18, 11, 12, 13, 12, 10, 12, 11, 14,
        12, 13, 12, 11, 16, 12, 13, 10, 12, 12,
        11, 13, 12, 14, 12, 11, 12, 13, 12, 12,
    ];

    /// <summary>(position, batch size, attempts in flight, parallel attempts) of the PRs asked about.</summary>
    private static readonly (int Position, int Batch, int InFlight, int Parallel)[] Situations =
    [
        (1, 8, 0, 1), (1, 8, 1, 1), (3, 2, 1, 1), (9, 4, 1, 1), (12, 4, 2, 1), (5, 1, 0, 2), (17, 4, 3, 4), (2, 1, 1, 1),
    ];

    [Test]
    public void ForQueued_ReplayedHistory_TheActualWaitIsWithinTheStatedBound()
    {
        var cases = 0;
        var within = 0;
        var errors = new List<double>();
        for (var now = Eta.History; now < ReplayedRuns.Length; now++)
        {
            // What the store returns at this point: the last runs, newest first.
            var history = ReplayedRuns[..now].Reverse().Take(Eta.History).Select(m => TimeSpan.FromMinutes(m)).ToArray();
            foreach (var (position, batch, inFlight, parallel) in Situations)
            {
                var eta = Eta.ForQueued(history, position, batch, inFlight, parallel)!;
                var rounds = (eta.AttemptsAhead + parallel) / parallel;
                if (now + rounds > ReplayedRuns.Length) continue;
                // What happened next: each round lasts one of the runs that followed.
                var actual = TimeSpan.FromMinutes(ReplayedRuns.Skip(now).Take(rounds).Sum());
                cases++;
                if (eta.Contains(actual)) within++;
                errors.Add(Math.Abs((actual - eta.Expected).TotalMinutes) / actual.TotalMinutes);
            }
        }

        cases.Should().BeGreaterThan(200);
        ((double)within / cases).Should().BeGreaterThanOrEqualTo(0.95, "the stated bound is the rounds at the shortest and longest recent run");
        errors.Order().ElementAt(errors.Count / 2).Should().BeLessThan(0.15, "the median estimate is within 15% of what happened");
    }

    [Test]
    public void ForQueued_Basis_CountsAttemptsAheadAndTheMedianRun()
    {
        var runs = new[] { 10, 12, 14, 12, 30 }.Select(m => TimeSpan.FromMinutes(m)).ToArray();

        var eta = Eta.ForQueued(runs, position: 9, batchSize: 4, attemptsInFlight: 1, parallelAttempts: 1)!;

        eta.AttemptsAhead.Should().Be(3); // one running, two batches of four ahead
        eta.MedianRun.Should().Be(TimeSpan.FromMinutes(12));
        eta.Expected.Should().Be(TimeSpan.FromMinutes(48));
        (eta.Low, eta.High).Should().Be((TimeSpan.FromMinutes(40), TimeSpan.FromMinutes(120)));
        eta.Text.Should().Be("about 48 min: 3 attempts ahead, median staging run 12 min over the last 5");
    }

    [Test]
    public void ForQueued_ParallelAttempts_RunInRounds()
    {
        var runs = new[] { TimeSpan.FromMinutes(10) };
        Eta.ForQueued(runs, 1, 8, attemptsInFlight: 3, parallelAttempts: 4)!.Expected.Should().Be(TimeSpan.FromMinutes(10));
        Eta.ForQueued(runs, 1, 8, attemptsInFlight: 4, parallelAttempts: 4)!.Expected.Should().Be(TimeSpan.FromMinutes(20));
    }

    [Test]
    public void ForQueued_NoFinishedRun_HasNoEstimate() =>
        Eta.ForQueued([], 1, 8, 0, 1).Should().BeNull();

    [Test]
    public void WithEta_TooLongForAStatus_ShortensThenDrops()
    {
        var eta = Eta.ForQueued([TimeSpan.FromMinutes(12)], 1, 8, 2, 1);
        Messages.WithEta("Queued: position 1", eta).Should().Be("Queued: position 1; about 36 min: 2 attempts ahead, median staging run 12 min over the last 1");
        Messages.WithEta(new string('x', 110), eta).Should().Be(new string('x', 110) + "; ETA about 36 min");
        Messages.WithEta(new string('x', 130), eta).Should().Be(new string('x', 130));
        Messages.WithEta("Queued: position 1", null).Should().Be("Queued: position 1");
    }
}
