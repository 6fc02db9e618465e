using MergeQueue.Bench.Queue;

namespace MergeQueue.Bench.Tests;

public class QueueBenchmarkTests
{
    private static IReadOnlyList<AlgorithmSpec> Every(params string[] configs) =>
        QueueBenchmark.Parse(["--algorithms", QueueBenchmark.DefaultAlgorithms, .. configs.SelectMany(c => new[] { "--config", c })]).Algorithms;

    private static Task<RunResult> RunAsync(AlgorithmSpec algorithm, WorkloadSpec spec, int seed = 1) => new BenchRun(spec, seed).ExecuteAsync(algorithm);

    [Test]
    public async Task With_no_bad_PR_every_algorithm_merges_every_PR()
    {
        foreach (var algorithm in Every())
        {
            var result = await RunAsync(algorithm, new WorkloadSpec(P: 0, Lambda: 6, Prs: 40));

            result.Merged.Should().Be(40, algorithm.Label);
            result.Violations.Should().BeEmpty(algorithm.Label);
            result.GoodRejected.Should().Be(0, algorithm.Label);
            result.MedianTtm.Should().BeGreaterThanOrEqualTo(30, $"{algorithm.Label}: nothing merges before CI has run once");
        }
    }

    [Test]
    public async Task With_every_PR_bad_no_algorithm_merges_any()
    {
        foreach (var algorithm in Every())
        {
            var result = await RunAsync(algorithm, new WorkloadSpec(P: 1, Lambda: 6, Prs: 20));

            result.Merged.Should().Be(0, algorithm.Label);
            result.BadMerged.Should().Be(0, algorithm.Label);
            result.Unresolved.Should().Be(0, $"{algorithm.Label} rejects every PR in the end");
            result.Violations.Should().BeEmpty(algorithm.Label);
        }
    }

    [Test]
    public async Task The_oracle_never_rejects_a_good_PR_even_when_CI_flakes()
    {
        var oracle = QueueBenchmark.Parse(["--algorithms", "oracle"]).Algorithms.Single();
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var result = await RunAsync(oracle, new WorkloadSpec(P: 0.1, Lambda: 12, F: 0.2, Prs: 100), seed);

            result.GoodRejected.Should().Be(0);
            result.Merged.Should().Be(100 - new BenchRun(new WorkloadSpec(P: 0.1, Lambda: 12, Prs: 100), seed).Prs.Count(p => p.Bad));
            result.Violations.Should().BeEmpty();
        }
    }

    [Test]
    public async Task Our_queue_is_driven_through_its_flows_and_its_GitHub_calls_are_counted()
    {
        var ours = QueueBenchmark.Parse(["--algorithms", "mergequeue", "--config", "batch_delay=0s"]).Algorithms.Single();
        var run = new BenchRun(new WorkloadSpec(P: 0, Lambda: 6, Prs: 1), seed: 1);

        var result = await run.ExecuteAsync(ours);

        ours.IsOurs.Should().BeTrue();
        ours.Label.Should().Be("mergequeue (batch_delay=0s)");
        result.Merged.Should().Be(1);
        result.RunsStarted.Should().Be(1);
        result.ReadsPerMerged.Should().BeGreaterThan(0);
        result.WritesPerMerged.Should().BeGreaterThan(2, "at least the reaction, a status and the fast-forward");
    }

    [Test]
    public async Task A_planner_that_merges_untested_commits_is_reported_as_a_violation()
    {
        var broken = new AlgorithmSpec("untested (broken test double)", run => new UntestedMerger(run));
        var options = new QueueBenchmark.Options { Workloads = [new WorkloadSpec(P: 0.5, Lambda: 6, Prs: 20)], Seeds = 1, Algorithms = [broken] };
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = await QueueBenchmark.RunAndReportAsync(options, "test", output, error);

        exit.Should().Be(1);
        error.ToString().Should().Contain("VIOLATION").And.Contain("untested (broken test double)").And.Contain("which no CI run passed");
        output.ToString().Should().MatchRegex(@"\| untested \(broken test double\) \|.*\| [1-9][0-9]* \|");
    }

    [Test]
    public async Task Smoke_20_PRs_of_each_algorithm_through_the_queue_benchmark()
    {
        var options = QueueBenchmark.Parse(["--workloads", "p=0.1,lambda=6,f=0.05", "--prs", "20", "--seeds", "2", "--capacity", "0.1", "--capacity-seeds", "1",
            "--config", "batch_delay=5m,max_batch_size=4"]);
        options = options with { Workloads = options.Workloads, CapacityP = [] };
        var output = new StringWriter();

        var exit = await QueueBenchmark.RunAndReportAsync(options, "smoke", output, new StringWriter());

        exit.Should().Be(0);
        var report = await QueueBenchmark.RunAsync(options, TextWriter.Null);
        report.Workloads.Single().Runs.Should().HaveCount(options.Algorithms.Count * 2).And.OnlyContain(r => r.Unresolved == 0 && r.Violations.Count == 0);
        foreach (var algorithm in options.Algorithms) output.ToString().Should().Contain($"| {algorithm.Label} |");
        options.Algorithms.Select(a => a.Label).Should().Contain(["mergequeue (batch_delay=5m,max_batch_size=4)", "serial (model)", "bors-ng (model, b = 8)",
            "github-mq (model, k = 4, g = 1)", "github-mq (model, k = 4, g = 4)", "oracle (b = 8)"]);
    }

    [Test]
    public async Task The_capacity_table_divides_throughput_by_the_share_of_good_PRs()
    {
        var options = QueueBenchmark.Parse(["--algorithms", "serial", "--capacity", "0.25", "--capacity-seeds", "1"]);

        var report = await QueueBenchmark.RunAsync(options, TextWriter.Null);
        var markdown = QueueBenchmark.Markdown(report, "capacity");

        report.Workloads.Should().BeEmpty();
        var run = report.Capacity.Single().Runs.Single();
        run.Prs.Should().Be(1000);
        run.Throughput.Should().BeApproximately(2 * 0.75 / 1.0, 0.2, "serial merges at most one PR per 30-minute run, and a quarter of runs fail");
        markdown.Should().Contain("| serial (model) | " + (run.Throughput / 0.75).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " |");
    }

    [TestCase("--config", "no_such_key=1", "no_such_key")]
    [TestCase("--algorithms", "kodiak", "unknown algorithm 'kodiak'")]
    [TestCase("--algorithms", "bors-ng:z=1", "unknown parameter(s) z")]
    [TestCase("--seeds", "0", "not a positive whole number")]
    public void Bad_options_are_refused_with_why(string option, string value, string why)
    {
        var parse = () => QueueBenchmark.Parse([option, value, "--algorithms", option == "--algorithms" ? value : "mergequeue"]);

        parse.Should().Throw<FormatException>().WithMessage($"*{why}*");
    }

    /// <summary>A deliberately broken queue: it merges each PR the moment it arrives, untested.</summary>
    private sealed class UntestedMerger(BenchRun run) : QueueAlgorithm(run)
    {
        public override Task ArriveAsync(PrSpec pr)
        {
            Run.Target.MoveTo(Run.NewCommit([Run.Target.Head], [pr.Number]));
            return Task.CompletedTask;
        }
    }
}
