using MergeQueue.Bench.Poll;
using MergeQueue.Bench.Queue;

namespace MergeQueue.Bench.Tests;

public class PollBenchmarkTests
{
    [Test]
    public async Task A_poll_tick_reads_no_more_with_ten_times_the_idle_PRs()
    {
        var options = PollBenchmark.Parse(["--prs", "40,400", "--repos", "4", "--batch", "2", "--history", "3", "--ticks", "2", "--warmup", "2", "--providers", "sqlite"]);

        var rows = await PollBenchmark.RunAsync(options, QueueBenchmark.Config(options.Config), TextWriter.Null);

        rows.Select(r => (r.UnderTest, r.Idle)).Should().Equal((8, 32), (8, 392));
        rows[1].StoreCalls.Should().Be(rows[0].StoreCalls);
        rows[1].RowsRead.Should().Be(rows[0].RowsRead, "the queued PRs behind a busy line are not read");
        rows[1].GitHubCalls.Should().Be(rows[0].GitHubCalls).And.Be(4, "one read of the checks of each attempt under test");
        rows.Should().OnlyContain(r => r.Writes == 0, "a tick that finds nothing new writes nothing");
    }

    [Test]
    public void Options_are_checked() =>
        FluentActions.Invoking(() => PollBenchmark.Parse(["--providers", "mysql"])).Should().Throw<FormatException>().WithMessage("*mysql*");
}
