namespace MergeQueue.Bench.Queue.Peers;

/// <summary>
/// MODEL of another product, not our code: bors-ng. One attempt at a time; a batch of up to
/// <paramref name="batchSize"/> starts once the oldest queued PR has waited <paramref name="delay"/>;
/// a red batch of more than one is halved and the halves are retested one at a time on the current
/// target before any new PR; a red batch of one is rejected.
/// </summary>
public sealed class BorsNgModel(BenchRun run, int batchSize = 8, TimeSpan? delay = null) : QueueAlgorithm(run)
{
    private readonly TimeSpan _delay = delay ?? TimeSpan.FromMinutes(10);
    private readonly List<PrSpec> _waiting = [];
    private readonly LinkedList<IReadOnlyList<PrSpec>> _halves = new();
    private bool _busy;

    public override Task ArriveAsync(PrSpec pr)
    {
        _waiting.Add(pr);
        Next();
        return Task.CompletedTask;
    }

    private void Next()
    {
        if (_busy) return;
        IReadOnlyList<PrSpec> batch;
        if (_halves.First is { } half)
        {
            _halves.RemoveFirst();
            batch = half.Value;
        }
        else if (_waiting.Count > 0)
        {
            var due = _waiting[0].ArrivesAt + _delay;
            if (Run.Sim.Now < due)
            {
                Run.Sim.At(due, () => { Next(); return Task.CompletedTask; });
                return;
            }
            batch = _waiting.Take(batchSize).ToArray();
            _waiting.RemoveRange(0, batch.Count);
        }
        else
        {
            return;
        }

        _busy = true;
        var commit = Run.NewCommit([Run.Target.Head], batch.Select(p => p.Number));
        Run.Ci.Start(commit, r =>
        {
            _busy = false;
            if (r.Passed) Run.Target.MoveTo(commit);
            else if (batch.Count == 1) Run.Reject(batch[0].Number);
            else
            {
                var first = (batch.Count + 1) / 2;
                _halves.AddFirst(batch.Skip(first).ToArray());
                _halves.AddFirst(batch.Take(first).ToArray());
            }
            Next();
            return Task.CompletedTask;
        });
    }
}
