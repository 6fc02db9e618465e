using MergeQueue.Core;
using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.Ports;
using MergeQueue.Core.PullRequests;
using MergeQueue.Core.Queue;

namespace MergeQueue.Core.Tests.Fakes;

/// <summary>
/// The store port in memory, with the real store's semantics: reads return fresh copies, saves
/// check versions and are all-or-nothing, and every transition lands in the event log.
/// </summary>
public sealed class InMemoryQueueStore : IQueueStore
{
    private readonly object _gate = new();
    private readonly Dictionary<long, PullRequest> _prs = [];
    private readonly Dictionary<AttemptId, MergeAttempt> _attempts = [];
    private long _nextPr;
    private long _nextAttempt;

    public List<(EventLogEntry Entry, string? Trigger)> EventLog { get; } = [];

    public Task<AttemptId> NextAttemptIdAsync(CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(new AttemptId(++_nextAttempt));
    }

    public Task<PullRequest?> FindActivePullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_prs.Values.Where(p => p.Repo == repo && p.Number == number && p.IsActive).Select(Copy).FirstOrDefault());
    }

    public Task<IReadOnlyList<PullRequest>> GetActivePullRequestsAsync(RepoId? repo, CancellationToken ct)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<PullRequest>>(_prs.Values.Where(p => p.IsActive && (repo is null || p.Repo == repo)).OrderBy(p => p.Id).Select(Copy).ToArray());
    }

    public Task<MergeAttempt?> GetAttemptAsync(AttemptId id, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_attempts.TryGetValue(id, out var a) ? Copy(a) : null);
    }

    public Task<IReadOnlyList<MergeAttempt>> GetActiveAttemptsAsync(RepoId? repo, CancellationToken ct)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<MergeAttempt>>(_attempts.Values.Where(a => a.IsActive && (repo is null || a.Repo == repo)).OrderBy(a => a.Id.Value).Select(Copy).ToArray());
    }

    public Task<IReadOnlyList<QueueId>> GetActiveQueuesAsync(CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<QueueId>>(_prs.Values.Where(p => p.IsActive).Select(p => new QueueId(p.Repo, p.Target))
                .Concat(_attempts.Values.Where(a => a.IsActive).Select(a => a.Queue))
                .Distinct()
                .OrderBy(q => q.Repo.Owner, StringComparer.OrdinalIgnoreCase).ThenBy(q => q.Repo.Name, StringComparer.OrdinalIgnoreCase).ThenBy(q => q.Target, StringComparer.Ordinal)
                .ToArray());
        }
    }

    public Task<IReadOnlyList<PullRequest>> GetPullRequestsInStatesAsync(RepoId repo, IReadOnlyDictionary<PullRequestState, DateTimeOffset> enteredBefore, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<PullRequest>>(_prs.Values
                .Where(p => p.IsActive && p.Repo == repo && enteredBefore.TryGetValue(p.State, out var before) && p.StateChangedAt < before)
                .OrderBy(p => p.Id).Select(Copy).ToArray());
        }
    }

    public Task<IReadOnlyList<PullRequest>> GetAttemptMembersAsync(IReadOnlyCollection<AttemptId> attempts, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<PullRequest>>(_prs.Values
                .Where(p => p.IsActive && p.AttemptId is { } id && attempts.Contains(id)).OrderBy(p => p.Id).Select(Copy).ToArray());
        }
    }

    public Task<QueueHead?> GetQueueHeadAsync(QueueId queue, CancellationToken ct)
    {
        lock (_gate)
        {
            var waiting = _prs.Values.Where(p => p.State == PullRequestState.Queued && !p.Held && p.Repo == queue.Repo && p.Target == queue.Target).ToArray();
            return Task.FromResult(waiting.Length == 0 ? null
                : new QueueHead(Copy(QueuePlanner.Ordered(waiting)[0]), waiting.Min(p => p.QueuedAt ?? p.StateChangedAt)));
        }
    }

    /// <summary>Every pull request row, active or done, newest state.</summary>
    public IReadOnlyList<PullRequest> AllPullRequests()
    {
        lock (_gate) return _prs.Values.OrderBy(p => p.Id).Select(Copy).ToArray();
    }

    public IReadOnlyList<MergeAttempt> AllAttempts()
    {
        lock (_gate) return _attempts.Values.OrderBy(a => a.Id.Value).Select(Copy).ToArray();
    }

    public Task SaveAsync(Changes changes, Cause cause, CancellationToken ct)
    {
        lock (_gate)
        {
            foreach (var pr in changes.PullRequests)
            {
                if (pr.Version == 0)
                {
                    if (pr.IsActive && _prs.Values.Any(p => p.IsActive && p.Repo == pr.Repo && p.Number == pr.Number))
                        throw new ConcurrencyConflictException($"PR #{pr.Number} already has an active request");
                }
                else if (!_prs.TryGetValue(pr.Id, out var stored) || stored.Version != pr.Version)
                {
                    throw new ConcurrencyConflictException($"PR #{pr.Number} changed since it was read");
                }
            }
            foreach (var a in changes.Attempts)
                if (a.Version != 0 && (!_attempts.TryGetValue(a.Id, out var stored) || stored.Version != a.Version))
                    throw new ConcurrencyConflictException($"attempt {a.Id} changed since it was read");

            var now = DateTimeOffset.UtcNow;
            foreach (var pr in changes.PullRequests)
            {
                if (pr.Version == 0) pr.Id = ++_nextPr;
                pr.Version++;
                if (pr.State is PullRequestState.Merged or PullRequestState.Failed && pr.Transitions.Count > 0)
                {
                    var key = new QueueId(pr.Repo, pr.Target);
                    if (!_recent.TryGetValue(key, out var list)) _recent[key] = list = [];
                    list.Add(pr.State);
                }
                foreach (var t in pr.Transitions)
                    EventLog.Add((new EventLogEntry(pr.StateChangedAt, pr.Repo, pr.Number, pr.AttemptId, "transition", t.From, t.To, t.Reason, cause), t.Trigger));
                pr.ClearTransitions();
                _prs[pr.Id] = Copy(pr);
            }
            // The landed attempt is the one with the highest id among those merging in this save.
            foreach (var a in changes.Attempts.Where(a => a.State == MergeAttemptState.Merged && a.Transitions.Count > 0).OrderBy(a => a.Id.Value))
                _landed[a.Queue] = new Landing(a.Id, a.StagingSha!.Value);
            foreach (var a in changes.Attempts)
            {
                a.Version++;
                foreach (var t in a.Transitions)
                    EventLog.Add((new EventLogEntry(a.StateChangedAt, a.Repo, null, a.Id, "transition", t.From, t.To, t.Reason, cause), t.Trigger));
                a.ClearTransitions();
                _attempts[a.Id] = Copy(a);
            }
            foreach (var e in changes.Events) EventLog.Add((e, null));
        }
        return Task.CompletedTask;
    }

    private readonly Dictionary<QueueId, QueueFreeze> _freezes = [];
    private readonly Dictionary<(RepoId, int), TryBuild> _tries = [];
    /// <summary>Outcomes per target in the order they happened (kept apart so reading them is cheap).</summary>
    private readonly Dictionary<QueueId, List<PullRequestState>> _recent = [];
    private readonly Dictionary<QueueId, Landing> _landed = [];

    public Task<IReadOnlyList<TimeSpan>> GetRecentRunDurationsAsync(QueueId queue, int count, CancellationToken ct)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<TimeSpan>>(_attempts.Values
                .Where(a => a.Queue == queue && a.State is (MergeAttemptState.Merged or MergeAttemptState.Failed) && a.StagingSha is not null)
                .OrderByDescending(a => a.StateChangedAt).ThenByDescending(a => a.Id.Value).Take(count)
                .Select(a => a.StateChangedAt - a.CreatedAt).ToArray());
        }
    }

    public Task<(int Merged, int Failed)> GetRecentOutcomesAsync(QueueId queue, int count, CancellationToken ct)
    {
        lock (_gate)
        {
            var recent = _recent.GetValueOrDefault(queue) ?? [];
            var last = recent.Skip(Math.Max(0, recent.Count - count)).ToArray();
            return Task.FromResult((last.Count(s => s == PullRequestState.Merged), last.Count(s => s == PullRequestState.Failed)));
        }
    }

    public Task<Landing?> GetLastLandedAsync(QueueId queue, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_landed.GetValueOrDefault(queue));
    }

    public Task<PullRequest?> FindLatestPullRequestAsync(RepoId repo, int number, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_prs.Values.Where(p => p.Repo == repo && p.Number == number).OrderBy(p => p.Id).Select(Copy).LastOrDefault());
    }

    public Task<QueueFreeze?> GetFreezeAsync(QueueId queue, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_freezes.GetValueOrDefault(queue));
    }

    public Task SetFreezeAsync(QueueFreeze freeze, CancellationToken ct)
    {
        lock (_gate) _freezes[freeze.Queue] = freeze;
        return Task.CompletedTask;
    }

    public Task<bool> ClearFreezeAsync(QueueId queue, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_freezes.Remove(queue));
    }

    public Task<TryBuild?> GetTryAsync(RepoId repo, int number, CancellationToken ct)
    {
        lock (_gate) return Task.FromResult(_tries.GetValueOrDefault((repo, number)));
    }

    public Task<IReadOnlyList<TryBuild>> GetRunningTriesAsync(RepoId? repo, CancellationToken ct)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyList<TryBuild>>(_tries.Values.Where(t => t.State == TryState.Running && (repo is null || t.Repo == repo)).OrderBy(t => t.StartedAt).ToArray());
    }

    public Task SaveTryAsync(TryBuild build, CancellationToken ct)
    {
        lock (_gate) _tries[(build.Repo, build.Number)] = build;
        return Task.CompletedTask;
    }

    private static PullRequest Copy(PullRequest p)
    {
        var copy = PullRequest.Restore(
            p.Id, p.Repo, p.Number, p.Target, p.HeadSha, p.State, p.AttemptId, p.Priority, p.RequestedAt, p.StateChangedAt,
            p.QueuedAt, p.RequestedBy, p.Title, p.Author, p.Reason, p.MergedSha, p.Version);
        copy.LandedSha = p.LandedSha;
        copy.Held = p.Held;
        return copy;
    }

    private static MergeAttempt Copy(MergeAttempt a) => new(a.Id, a.Queue, a.State, a.CreatedAt)
    {
        BaseSha = a.BaseSha,
        StagingSha = a.StagingSha,
        ParentId = a.ParentId,
        AheadId = a.AheadId,
        FlakeRetries = a.FlakeRetries,
        RequiredChecks = a.RequiredChecks,
        StateChangedAt = a.StateChangedAt,
        Reason = a.Reason,
        Version = a.Version,
    };
}
