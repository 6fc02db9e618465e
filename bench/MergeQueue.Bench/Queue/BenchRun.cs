using System.Collections.Immutable;

namespace MergeQueue.Bench.Queue;

/// <summary>
/// A queue algorithm under benchmark. One instance serves one run: it hears each PR's merge
/// request and acts through the run's CI and target branch.
/// </summary>
public abstract class QueueAlgorithm(BenchRun run)
{
    protected BenchRun Run { get; } = run;

    /// <summary>Called once, before the first PR arrives.</summary>
    public virtual Task StartAsync() => Task.CompletedTask;

    /// <summary>A PR's merge is requested (it is approved and ready).</summary>
    public abstract Task ArriveAsync(PrSpec pr);

    /// <summary>GitHub API calls made, reads and writes apart; null for the peers' models, which make none we could count.</summary>
    public virtual (int Reads, int Writes)? ApiCalls => null;
}

/// <summary>How to make an algorithm for a run, and the label its row gets.</summary>
public sealed record AlgorithmSpec(string Label, Func<BenchRun, QueueAlgorithm> Create, bool IsOurs = false);

/// <summary>One simulation: one algorithm, one workload, one seed.</summary>
public sealed class BenchRun
{
    private readonly HashSet<int> _bad;
    private readonly HashSet<int> _resolved = [];
    private int _nextCommit;

    public BenchRun(WorkloadSpec spec, int seed)
    {
        Spec = spec;
        Seed = seed;
        Prs = Workload.Generate(spec, seed);
        _bad = Prs.Where(p => p.Bad).Select(p => p.Number).ToHashSet();
        Ci = new VirtualCi(Sim, spec, seed, IsBad);
        Initial = NewCommit([], []);
        Target = new TargetBranch(Initial, Ci, Sim, IsBad) { Landed = pr => _resolved.Add(pr) };
    }

    public WorkloadSpec Spec { get; }
    public int Seed { get; }
    public IReadOnlyList<PrSpec> Prs { get; }
    public Simulation Sim { get; } = new();
    public VirtualCi Ci { get; }
    public SimCommit Initial { get; }
    public TargetBranch Target { get; }
    public Dictionary<int, DateTimeOffset> RejectedAt { get; } = [];
    public int Arrived { get; private set; }

    public bool IsBad(int pr) => _bad.Contains(pr);

    public bool IsResolved(int pr) => _resolved.Contains(pr);

    public SimCommit NewCommit(IReadOnlyList<SimCommit> parents, IEnumerable<int> prs) =>
        new(++_nextCommit, parents, parents.Aggregate(ImmutableHashSet.CreateRange(prs), (set, p) => set.Union(p.Prs)));

    /// <summary>The algorithm gave up on the PR (its merge failed).</summary>
    public void Reject(int pr)
    {
        if (RejectedAt.TryAdd(pr, Sim.Now)) _resolved.Add(pr);
    }

    /// <summary>Runs the stream through the algorithm until every PR is merged or rejected (or 90 virtual days pass).</summary>
    public async Task<RunResult> ExecuteAsync(AlgorithmSpec spec)
    {
        var algorithm = spec.Create(this);
        await algorithm.StartAsync();
        foreach (var pr in Prs)
            Sim.At(pr.ArrivesAt, () =>
            {
                Arrived++;
                return algorithm.ArriveAsync(pr);
            });
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await Sim.RunAsync(() => Arrived == Prs.Count && _resolved.Count == Prs.Count, Prs[^1].ArrivesAt + TimeSpan.FromDays(90));
        return RunResult.Of(this, spec, algorithm.ApiCalls, System.Diagnostics.Stopwatch.GetElapsedTime(started));
    }
}
