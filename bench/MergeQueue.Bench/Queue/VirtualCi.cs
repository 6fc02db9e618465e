namespace MergeQueue.Bench.Queue;

public enum CiOutcome { Passed, Failed, Flaked }

/// <summary>One CI run of one commit.</summary>
public sealed class CiRun(SimCommit commit, Func<CiRun, Task> onDone)
{
    public SimCommit Commit { get; } = commit;
    public DateTimeOffset? StartedAt { get; internal set; }
    public CiOutcome? Outcome { get; internal set; }
    public bool Cancelled { get; internal set; }
    public bool Passed => Outcome == CiOutcome.Passed;
    public bool Running => Outcome is null && !Cancelled;
    internal Func<CiRun, Task> OnDone { get; } = onDone;

    /// <summary>What the failing check says: a flake reads like a network error, a real failure like a test failure.</summary>
    public string? Description => Outcome switch
    {
        CiOutcome.Passed => "tests passed",
        CiOutcome.Failed => "tests failed",
        CiOutcome.Flaked => "network error",
        _ => null,
    };
}

/// <summary>
/// CI with <see cref="WorkloadSpec.Runners"/> runners: runs wait FIFO for a free runner, take
/// <see cref="WorkloadSpec.CiDuration"/> (with lognormal jitter), and fail when the commit holds a bad
/// PR, or spuriously with probability <see cref="WorkloadSpec.F"/>. A cancelled run frees its runner
/// at once; one that had started still counts as started.
/// </summary>
public sealed class VirtualCi(Simulation sim, WorkloadSpec spec, int seed, Func<int, bool> isBad)
{
    private readonly Random _random = new(unchecked(seed * 7919 + 17));
    private readonly LinkedList<CiRun> _waiting = new();
    private readonly HashSet<SimCommit> _green = [];
    private int _busy;

    /// <summary>Runs that got a runner (cancelled ones included).</summary>
    public int Started { get; private set; }
    /// <summary>The most runs ever executing at once.</summary>
    public int PeakBusy { get; private set; }

    public CiRun Start(SimCommit commit, Func<CiRun, Task> onDone)
    {
        var run = new CiRun(commit, onDone);
        _waiting.AddLast(run);
        Dispatch();
        return run;
    }

    public void Cancel(CiRun? run)
    {
        if (run is null || !run.Running) return;
        run.Cancelled = true;
        if (run.StartedAt is null)
        {
            _waiting.Remove(run);
            return;
        }
        _busy--;
        Dispatch();
    }

    /// <summary>Whether some run of exactly this commit passed.</summary>
    public bool PassedOn(SimCommit commit) => _green.Contains(commit);

    private void Dispatch()
    {
        while (_busy < spec.Runners && _waiting.First is { } first)
        {
            _waiting.RemoveFirst();
            var run = first.Value;
            _busy++;
            PeakBusy = Math.Max(PeakBusy, _busy);
            Started++;
            run.StartedAt = sim.Now;
            sim.After(Duration(), () => FinishAsync(run));
        }
    }

    private TimeSpan Duration()
    {
        if (spec.Jitter <= 0) return spec.CiDuration;
        // Box–Muller: a lognormal factor whose median is 1.
        var z = Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());
        return spec.CiDuration * Math.Exp(spec.Jitter * z);
    }

    private async Task FinishAsync(CiRun run)
    {
        if (run.Cancelled) return;
        _busy--;
        var flake = _random.NextDouble() < spec.F;
        run.Outcome = run.Commit.Prs.Any(isBad) ? CiOutcome.Failed : flake ? CiOutcome.Flaked : CiOutcome.Passed;
        if (run.Passed) _green.Add(run.Commit);
        Dispatch();
        await run.OnDone(run);
    }
}
