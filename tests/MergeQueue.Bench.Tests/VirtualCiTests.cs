using MergeQueue.Bench.Queue;

namespace MergeQueue.Bench.Tests;

public class VirtualCiTests
{
    private static (BenchRun Run, List<(int Commit, DateTimeOffset At, CiOutcome Outcome)> Done) Setup(WorkloadSpec spec)
    {
        var run = new BenchRun(spec, seed: 1);
        return (run, []);
    }

    [Test]
    public async Task Runs_wait_for_one_of_R_runners_and_take_T()
    {
        var (run, done) = Setup(new WorkloadSpec(P: 0, Lambda: 6, CiMinutes: 30, Runners: 2, Prs: 1));
        for (var i = 0; i < 5; i++)
        {
            var commit = run.NewCommit([run.Initial], []);
            run.Ci.Start(commit, r => { done.Add((r.Commit.Id, run.Sim.Now, r.Outcome!.Value)); return Task.CompletedTask; });
        }

        await run.Sim.RunAsync(() => false, DateTimeOffset.MaxValue);

        done.Select(d => (d.At - Workload.Start).TotalMinutes).Should().Equal(30, 30, 60, 60, 90);
        done.Select(d => d.Commit).Should().BeInAscendingOrder("FIFO beyond the runners");
        run.Ci.PeakBusy.Should().Be(2);
        run.Ci.Started.Should().Be(5);
    }

    [Test]
    public async Task A_cancelled_run_frees_its_runner_and_still_counts_as_started()
    {
        var (run, done) = Setup(new WorkloadSpec(P: 0, Lambda: 6, CiMinutes: 30, Runners: 1, Prs: 1));
        var first = run.Ci.Start(run.NewCommit([run.Initial], []), r => { done.Add((r.Commit.Id, run.Sim.Now, r.Outcome!.Value)); return Task.CompletedTask; });
        var waiting = run.Ci.Start(run.NewCommit([run.Initial], []), r => { done.Add((r.Commit.Id, run.Sim.Now, r.Outcome!.Value)); return Task.CompletedTask; });
        var third = run.Ci.Start(run.NewCommit([run.Initial], []), r => { done.Add((r.Commit.Id, run.Sim.Now, r.Outcome!.Value)); return Task.CompletedTask; });
        run.Sim.After(TimeSpan.FromMinutes(10), () => { run.Ci.Cancel(first); return Task.CompletedTask; });
        run.Ci.Cancel(waiting);

        await run.Sim.RunAsync(() => false, DateTimeOffset.MaxValue);

        done.Should().ContainSingle().Which.Should().Be((third.Commit.Id, Workload.Start.AddMinutes(40), CiOutcome.Passed));
        run.Ci.Started.Should().Be(2, "the cancelled first run had started; the one cancelled while waiting never had");
        first.Outcome.Should().BeNull();
    }

    [Test]
    public async Task A_commit_holding_a_bad_PR_fails_and_flakes_read_as_network_errors()
    {
        var run = new BenchRun(new WorkloadSpec(P: 0.5, Lambda: 6, F: 0.5, Runners: 4, Prs: 40), seed: 3);
        var bad = run.Prs.First(p => p.Bad).Number;
        var good = run.Prs.First(p => !p.Bad).Number;
        var runs = Enumerable.Range(0, 40).Select(i => run.Ci.Start(run.NewCommit([run.Initial], [i % 2 == 0 ? bad : good]), _ => Task.CompletedTask)).ToList();

        await run.Sim.RunAsync(() => false, DateTimeOffset.MaxValue);

        runs.Where(r => r.Commit.Prs.Contains(bad)).Should().OnlyContain(r => r.Outcome == CiOutcome.Failed);
        var clean = runs.Where(r => r.Commit.Prs.Contains(good)).ToArray();
        clean.Should().Contain(r => r.Outcome == CiOutcome.Flaked).And.Contain(r => r.Outcome == CiOutcome.Passed);
        clean.Where(r => r.Outcome == CiOutcome.Flaked).Should().OnlyContain(r => r.Description == "network error");
        run.Ci.PassedOn(clean.First(r => r.Passed).Commit).Should().BeTrue();
    }

    [Test]
    public async Task Jitter_spreads_durations_around_T()
    {
        var run = new BenchRun(new WorkloadSpec(P: 0, Lambda: 6, CiMinutes: 30, Jitter: 0.2, Runners: 100, Prs: 1), seed: 5);
        var ends = new List<double>();
        for (var i = 0; i < 100; i++)
            run.Ci.Start(run.NewCommit([run.Initial], []), _ => { ends.Add((run.Sim.Now - Workload.Start).TotalMinutes); return Task.CompletedTask; });

        await run.Sim.RunAsync(() => false, DateTimeOffset.MaxValue);

        ends.Should().HaveCount(100);
        RunResult.Median(ends).Should().BeInRange(26, 34);
        ends.Distinct().Should().HaveCountGreaterThan(90);
    }
}
