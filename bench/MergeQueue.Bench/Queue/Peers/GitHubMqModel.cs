namespace MergeQueue.Bench.Queue.Peers;

/// <summary>
/// MODEL of another product, not our code: GitHub's merge queue. Up to <paramref name="groups"/>
/// groups in flight, group i built on the target plus every group ahead of it; a group starts when
/// <paramref name="minGroup"/> PRs wait or the oldest has waited <paramref name="wait"/> (at most
/// <paramref name="maxGroup"/> PRs). Only the head group merges. A red group is blamed only once it is
/// the head: a group of one is rejected, a larger one goes back to the front as singletons, and every
/// group behind it is cancelled and rebuilt.
/// </summary>
public sealed class GitHubMqModel(BenchRun run, int groups = 4, int minGroup = 1, int maxGroup = 5, TimeSpan? wait = null) : QueueAlgorithm(run)
{
    private sealed record Waiting(PrSpec Pr, bool Alone);
    private sealed class Group(IReadOnlyList<PrSpec> prs, SimCommit commit)
    {
        public IReadOnlyList<PrSpec> Prs { get; } = prs;
        public SimCommit Commit { get; } = commit;
        public CiRun? Run { get; set; }
    }

    private readonly TimeSpan _wait = wait ?? TimeSpan.FromMinutes(5);
    private readonly int _maxGroup = Math.Max(maxGroup, minGroup);
    private readonly LinkedList<Waiting> _waiting = new();
    private readonly List<Group> _inFlight = [];

    public override Task ArriveAsync(PrSpec pr)
    {
        _waiting.AddLast(new Waiting(pr, false));
        Fill();
        return Task.CompletedTask;
    }

    private void Fill()
    {
        while (_inFlight.Count < groups && _waiting.First is { } first)
        {
            IReadOnlyList<PrSpec> prs;
            if (first.Value.Alone)
            {
                prs = [first.Value.Pr];
            }
            else
            {
                var ready = _waiting.TakeWhile(w => !w.Alone).Take(_maxGroup).Select(w => w.Pr).ToArray();
                var due = first.Value.Pr.ArrivesAt + _wait;
                if (ready.Length < minGroup && Run.Sim.Now < due)
                {
                    Run.Sim.At(due, () => { Fill(); return Task.CompletedTask; });
                    return;
                }
                prs = ready;
            }
            for (var i = 0; i < prs.Count; i++) _waiting.RemoveFirst();
            var onto = _inFlight.Count > 0 ? _inFlight[^1].Commit : Run.Target.Head;
            var group = new Group(prs, Run.NewCommit([onto], prs.Select(p => p.Number)));
            group.Run = Run.Ci.Start(group.Commit, _ => { Settle(); return Task.CompletedTask; });
            _inFlight.Add(group);
        }
    }

    private void Settle()
    {
        while (_inFlight.Count > 0 && _inFlight[0].Run!.Outcome is not null)
        {
            var head = _inFlight[0];
            if (head.Run!.Passed)
            {
                Run.Target.MoveTo(head.Commit);
                _inFlight.RemoveAt(0);
                continue;
            }
            // Blame the head; everything behind it is rebuilt, in order, after it.
            var requeue = new List<Waiting>();
            if (head.Prs.Count == 1) Run.Reject(head.Prs[0].Number);
            else requeue.AddRange(head.Prs.Select(p => new Waiting(p, true)));
            foreach (var behind in _inFlight.Skip(1))
            {
                Run.Ci.Cancel(behind.Run);
                requeue.AddRange(behind.Prs.Select(p => new Waiting(p, false)));
            }
            _inFlight.Clear();
            for (var i = requeue.Count - 1; i >= 0; i--) _waiting.AddFirst(requeue[i]);
            break;
        }
        Fill();
    }
}
