namespace MergeQueue.Bench.Queue.Peers;

/// <summary>
/// The lower bound, not a product: it knows which PRs are bad and rejects them without a run. Good
/// PRs go out in batches of up to <paramref name="batchSize"/>, with no delay, each stacked on the one
/// ahead, up to one attempt per runner; a flaky red is simply run again; the target fast-forwards to
/// the newest green attempt.
/// </summary>
public sealed class OracleModel(BenchRun run, int batchSize = 8) : QueueAlgorithm(run)
{
    private sealed record Attempt(IReadOnlyList<int> Prs, SimCommit Commit)
    {
        public CiRun? Run { get; set; }
    }

    private readonly Queue<int> _waiting = new();
    private readonly List<Attempt> _inFlight = [];

    public override Task ArriveAsync(PrSpec pr)
    {
        if (pr.Bad) Run.Reject(pr.Number);
        else _waiting.Enqueue(pr.Number);
        Fill();
        return Task.CompletedTask;
    }

    private void Fill()
    {
        while (_inFlight.Count < Run.Spec.Runners && _waiting.Count > 0)
        {
            var prs = new List<int>();
            while (prs.Count < batchSize && _waiting.TryDequeue(out var n)) prs.Add(n);
            var onto = _inFlight.Count > 0 ? _inFlight[^1].Commit : Run.Target.Head;
            var attempt = new Attempt(prs, Run.NewCommit([onto], prs));
            Test(attempt);
            _inFlight.Add(attempt);
        }
    }

    private void Test(Attempt attempt) => attempt.Run = Run.Ci.Start(attempt.Commit, r =>
    {
        if (!r.Passed) Test(attempt); // only flakes fail here: run it again
        var newest = _inFlight.FindLastIndex(a => a.Run!.Passed);
        if (newest >= 0)
        {
            Run.Target.MoveTo(_inFlight[newest].Commit);
            foreach (var settled in _inFlight.Take(newest)) Run.Ci.Cancel(settled.Run);
            _inFlight.RemoveRange(0, newest + 1);
        }
        Fill();
        return Task.CompletedTask;
    });
}
