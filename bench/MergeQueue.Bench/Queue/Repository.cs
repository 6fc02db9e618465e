using System.Collections.Immutable;

namespace MergeQueue.Bench.Queue;

/// <summary>A commit of the benchmark's repository: what it holds is the set of PRs merged into it (no git).</summary>
public sealed class SimCommit(int id, IReadOnlyList<SimCommit> parents, ImmutableHashSet<int> prs)
{
    public int Id { get; } = id;
    public IReadOnlyList<SimCommit> Parents { get; } = parents;
    public ImmutableHashSet<int> Prs { get; } = prs;

    /// <summary>Whether <paramref name="ancestor"/> is this commit or reachable from it.</summary>
    public bool HasAncestor(SimCommit ancestor)
    {
        if (ReferenceEquals(this, ancestor)) return true;
        // A descendant holds every PR of its ancestors: a cheap refusal before walking the history.
        if (ancestor.Prs.Count > Prs.Count || !Prs.IsSupersetOf(ancestor.Prs)) return false;
        var seen = new HashSet<SimCommit>();
        var stack = new Stack<SimCommit>([this]);
        while (stack.TryPop(out var c))
        {
            if (ReferenceEquals(c, ancestor)) return true;
            foreach (var p in c.Parents)
                if (seen.Add(p)) stack.Push(p);
        }
        return false;
    }

    public override string ToString() => $"c{Id}";
}

/// <summary>
/// The target branch, watched: every move is checked against the Not Rocket Science Rule (a
/// fast-forward to a commit whose CI run passed) and no PR may land twice or land bad. Breaking
/// a rule is a violation, which fails the benchmark.
/// </summary>
public sealed class TargetBranch(SimCommit initial, VirtualCi ci, Simulation sim, Func<int, bool> isBad)
{
    public SimCommit Head { get; private set; } = initial;
    public Dictionary<int, DateTimeOffset> MergedAt { get; } = [];
    public List<string> Violations { get; } = [];
    /// <summary>Called with each PR that lands.</summary>
    public Action<int>? Landed { get; set; }

    public void MoveTo(SimCommit commit)
    {
        if (!commit.HasAncestor(Head)) Violations.Add($"{sim.Now:u}: target moved from {Head} to {commit}, not a fast-forward");
        if (!ci.PassedOn(commit)) Violations.Add($"{sim.Now:u}: target moved to {commit}, which no CI run passed");
        foreach (var pr in commit.Prs)
        {
            if (Head.Prs.Contains(pr)) continue;
            if (!MergedAt.TryAdd(pr, sim.Now)) Violations.Add($"{sim.Now:u}: PR #{pr} merged twice");
            if (isBad(pr)) Violations.Add($"{sim.Now:u}: bad PR #{pr} merged");
            Landed?.Invoke(pr);
        }
        Head = commit;
    }
}
