using MergeQueue.Core.Runner;

namespace MergeQueue.Core.Tests.Runner;

/// <summary>A tested commit's overall result from its jobs, and the runner's trend buckets (issue 16 item 6).</summary>
public class CommitHistoryTests
{
    [TestCase("Success,Success", CommitResult.Success)]
    [TestCase("Success,Running", CommitResult.Pending)]
    [TestCase("Failure,Queued", CommitResult.Pending)]
    [TestCase("Success,Failure", CommitResult.Failure)]
    [TestCase("Error,Cancelled", CommitResult.Failure)]
    [TestCase("Success,Cancelled", CommitResult.Cancelled)]
    [TestCase("Cancelled", CommitResult.Cancelled)]
    [TestCase("", CommitResult.Cancelled)]
    public void Result_Table(string states, CommitResult expected)
    {
        var counts = JobCounts.Of(states.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Enum.Parse<JobState>));
        counts.Result.Should().Be(expected);
        counts.Total.Should().Be(states.Split(',', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [TestCase("failure", CommitResult.Failure)]
    [TestCase(" Pending ", CommitResult.Pending)]
    [TestCase("passed", null)]
    [TestCase(null, null)]
    public void Results_TryParse(string? text, CommitResult? expected)
    {
        CommitResults.TryParse(text, out var result).Should().Be(expected is not null);
        result.Should().Be(expected);
    }

    [Test]
    public void Trend_PerHour_PassRateCountsFinishedJobs_DurationIsTheMedianOfPassesAndFailures()
    {
        var at = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
        var buckets = TimeBuckets.Cover(at, at.AddHours(3), hourly: true, max: 500);
        JobSample S(double hours, JobState state, int seconds) => new(at.AddHours(hours), state, TimeSpan.FromSeconds(seconds));

        var trend = RunnerTrend.Compute([
            S(0.1, JobState.Success, 10), S(0.2, JobState.Failure, 30), S(0.3, JobState.Success, 20), S(0.4, JobState.Cancelled, 99),
            S(2.5, JobState.Error, 5), S(3.5, JobState.Success, 1), S(-1, JobState.Success, 1),
        ], buckets);

        buckets.Starts.Should().Equal(at, at.AddHours(1), at.AddHours(2));
        trend.Runs.Should().Equal(3, 0, 1);
        trend.PassRate.Should().Equal(200.0 / 3, null, 0.0);
        trend.MedianSeconds.Should().Equal(20.0, null, null);
    }

    [Test]
    public void Buckets_ByDay_FloorToUtcMidnight_AndStopAtTheMaximum()
    {
        var noon = new DateTimeOffset(2026, 3, 1, 12, 30, 0, TimeSpan.FromHours(2));
        var days = TimeBuckets.Cover(noon, noon.AddDays(10), hourly: false, max: 4);
        days.Starts.Should().HaveCount(4).And.StartWith(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        days.IndexOf(noon.AddDays(3)).Should().Be(3);
        days.IndexOf(noon.AddDays(4)).Should().BeNull();
        days.IndexOf(noon.AddDays(-1)).Should().BeNull();
    }
}
