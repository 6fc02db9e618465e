namespace MergeQueue.Bench.Queue.Peers;

/// <summary>
/// MODEL of another product, not our code: one PR at a time, as Kodiak and bulldozer queue. Test the
/// target plus the PR; merge on green, reject on red (a flake rejects a good PR).
/// </summary>
public sealed class SerialModel(BenchRun run) : QueueAlgorithm(run)
{
    private readonly Queue<PrSpec> _waiting = new();
    private bool _busy;

    public override Task ArriveAsync(PrSpec pr)
    {
        _waiting.Enqueue(pr);
        Next();
        return Task.CompletedTask;
    }

    private void Next()
    {
        if (_busy || !_waiting.TryDequeue(out var pr)) return;
        _busy = true;
        var commit = Run.NewCommit([Run.Target.Head], [pr.Number]);
        Run.Ci.Start(commit, r =>
        {
            _busy = false;
            if (r.Passed) Run.Target.MoveTo(commit);
            else Run.Reject(pr.Number);
            Next();
            return Task.CompletedTask;
        });
    }
}
