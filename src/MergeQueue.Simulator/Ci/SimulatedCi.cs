using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Engine;

namespace MergeQueue.Simulator.Ci;

/// <summary>Holds the CI configuration; replaced as a whole so readers always see a consistent one.</summary>
public sealed class SimulatedCiConfigHolder
{
    public static CiConfig Defaults { get; } = new(
        Contexts: [new CiContext("ci")],
        BranchPatterns: ["mergequeue/staging/**", "mergequeue/try/**"],
        ExcludePatterns: ["mergequeue/tmp/**"],
        PullRequestHeads: true,
        DelayMs: 20,
        Overrides: []);

    private CiConfig current = Defaults;

    public CiConfig Current => Volatile.Read(ref current);

    /// <summary>Merges an update: its non-null members replace the current ones.</summary>
    public CiConfig Update(CiConfig update)
    {
        var c = Current;
        var next = new CiConfig(
            update.Contexts ?? c.Contexts,
            update.BranchPatterns ?? c.BranchPatterns,
            update.ExcludePatterns ?? c.ExcludePatterns,
            update.PullRequestHeads ?? c.PullRequestHeads,
            update.DelayMs ?? c.DelayMs,
            update.Overrides ?? c.Overrides);
        if (next.Contexts!.Any(x => x.Kind is not ("status" or "check_run")))
            throw SimulatorError.Validation("context kind must be status or check_run", "CiConfig", "contexts");
        if (next.DelayMs < 0) throw SimulatorError.Validation("delayMs must be >= 0", "CiConfig", "delayMs");
        Volatile.Write(ref current, next);
        return next;
    }
}

/// <summary>
/// A CI system as a repository would have one: runs on pushes to matching branches (and pull
/// request heads), reports each context as a commit status or a check run, pending first and a
/// verdict after a delay. The verdict comes from the commit's tree: a file named FAIL fails it,
/// a file named FLAKY fails the first run of its tree ("network error") and passes later ones, also
/// on a new commit with the same tree (a merge queue's flake retry). An override's <c>hold</c> keeps
/// a run pending until a test releases it, so a test acts "while CI runs" without a timing window.
/// </summary>
public sealed class SimulatedCi(GitHubEngine engine, SimulatedCiConfigHolder config)
{
    private readonly object sync = new();
    private readonly List<CiRun> runs = [];
    private readonly Dictionary<(string Repo, string Sha, string Context), int> attempts = [];
    private readonly HashSet<(string Repo, string Tree, string Context)> flaked = [];
    private readonly Dictionary<long, TaskCompletionSource> held = [];
    private int running;
    private long lastRunId;

    public SimulatedCiConfigHolder Config { get; } = config;

    /// <summary>
    /// CI runs started and not yet finished. Pending-forever runs count as finished, and held runs
    /// are not running while held: only a test's release ends them, so waiting for idleness must
    /// not wait for them.
    /// </summary>
    public int Running => Volatile.Read(ref running);

    /// <summary>CI runs held until released.</summary>
    public int Held
    {
        get
        {
            lock (sync) return held.Count;
        }
    }

    public IReadOnlyList<CiRun> Runs(string? repository = null, string? branch = null, string? context = null, bool? isHeld = null)
    {
        lock (sync)
            return runs.Where(r => Matches(r, repository, null, branch) && (context is null || r.Context == context) && (isHeld is null || r.Held == isHeld)).ToList();
    }

    private static bool Matches(CiRun run, string? repository, string? sha, string? branch) =>
        (repository is null || string.Equals(run.Repository, repository, StringComparison.OrdinalIgnoreCase))
        && (sha is null || run.Sha.StartsWith(sha, StringComparison.OrdinalIgnoreCase))
        && (branch is null || run.Branch == branch);

    /// <summary>
    /// Lets held runs go on to their verdict: those matching every given filter (a sha may be
    /// abbreviated), or all. Returns the released runs, oldest first.
    /// </summary>
    public IReadOnlyList<CiRun> Release(string? repository = null, string? sha = null, string? branch = null)
    {
        var released = new List<(CiRun Run, TaskCompletionSource Gate)>();
        lock (sync)
        {
            for (var i = 0; i < runs.Count; i++)
            {
                var run = runs[i];
                if (!run.Held || !Matches(run, repository, sha, branch) || !held.Remove(run.Id, out var gate)) continue;
                runs[i] = run with { Held = false };
                released.Add((runs[i], gate));
                // Running again before the gate opens, so idleness never shows between release and verdict.
                Interlocked.Increment(ref running);
            }
        }
        foreach (var (_, gate) in released) gate.TrySetResult();
        return released.Select(r => r.Run).ToList();
    }

    /// <summary>Ends held runs without a verdict (the simulator is stopping).</summary>
    public void AbandonHeld()
    {
        List<TaskCompletionSource> gates;
        lock (sync)
        {
            gates = [.. held.Values];
            held.Clear();
            Interlocked.Add(ref running, gates.Count);
        }
        foreach (var gate in gates) gate.TrySetCanceled();
    }

    /// <summary>Whether a push to this branch triggers CI: matching pattern or open PR head, never an excluded branch.</summary>
    public bool Triggers(RepoHandle repo, string branch)
    {
        var c = Config.Current;
        if (c.ExcludePatterns!.Any(p => GlobPattern.IsMatch(p, branch))) return false;
        if (c.BranchPatterns!.Any(p => GlobPattern.IsMatch(p, branch))) return true;
        return c.PullRequestHeads == true && engine.Pulls(repo).Any(p => p.State == "open" && p.HeadRef == branch);
    }

    public void OnPush(RepoHandle repo, string branch, string sha)
    {
        if (Triggers(repo, branch)) Start(repo, branch, sha, onlyIfNew: false);
    }

    /// <summary>A newly opened pull request gets CI on its head unless that commit already had it.</summary>
    public void OnPullRequestOpened(RepoHandle repo, string branch, string sha)
    {
        if (Triggers(repo, branch)) Start(repo, branch, sha, onlyIfNew: true);
    }

    /// <summary>Runs every context again on a commit (a CI "re-run").</summary>
    public void Rerun(RepoHandle repo, string branch, string sha) => Start(repo, branch, sha, onlyIfNew: false);

    private void Start(RepoHandle repo, string branch, string sha, bool onlyIfNew)
    {
        var c = Config.Current;
        foreach (var context in c.Contexts!)
        {
            var ov = c.Overrides!.FirstOrDefault(o => (o.Context is null || o.Context == context.Name) && GlobPattern.IsMatch(o.Pattern, branch));
            if (ov?.Verdict == "never") continue;
            CiRun run;
            lock (sync)
            {
                var key = (repo.FullName, sha, context.Name);
                if (onlyIfNew && attempts.ContainsKey(key)) continue;
                var attempt = attempts[key] = attempts.GetValueOrDefault(key) + 1;
                run = new CiRun(++lastRunId, repo.FullName, branch, sha, context.Name, context.Kind, attempt, null, null, engine.Now, null);
                runs.Add(run);
            }
            Interlocked.Increment(ref running);
            _ = RunAsync(repo, run, ov, ov?.DelayMs ?? c.DelayMs ?? 0);
        }
    }

    private async Task RunAsync(RepoHandle repo, CiRun run, CiOverride? ov, int delayMs)
    {
        try
        {
            long? checkRunId = null;
            if (run.Kind == "check_run")
            {
                var created = await engine.CreateCheckRunAsync(repo, run.Sha, run.Branch,
                    new GitHubEngine.CheckRunFields(run.Context, "in_progress", null, null, run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), null, null, null, null), engine.CiUser);
                checkRunId = created.Id;
            }
            else
            {
                await engine.CreateStatusAsync(repo, run.Sha, "pending", run.Context, "CI is running", null, engine.CiUser);
            }
            if (ov?.Hold == true) await HoldAsync(run);
            else if (delayMs > 0) await Task.Delay(delayMs);

            var (verdict, description) = ov?.Verdict is { } fixedVerdict ? (fixedVerdict, $"fixed verdict: {fixedVerdict}") : await VerdictAsync(repo, run);
            if (verdict == "pending")
            {
                Complete(run, verdict, description);
                return;
            }
            if (checkRunId is { } id)
            {
                var conclusion = verdict == "error" ? "failure" : verdict;
                engine.UpdateCheckRun(repo, id, new GitHubEngine.CheckRunFields(null, "completed", conclusion, null, null, description, description, null, null), engine.CiUser);
            }
            else
            {
                await engine.CreateStatusAsync(repo, run.Sha, verdict, run.Context, description, null, engine.CiUser);
            }
            Complete(run, verdict, description);
        }
        catch (Exception e)
        {
            // A run must never take the simulator down (nor an abandoned hold); record why it stopped.
            Complete(run, "error", (e is OperationCanceledException ? "abandoned: " : "simulator error: ") + e.Message);
        }
        finally
        {
            Interlocked.Decrement(ref running);
        }
    }

    /// <summary>Marks the run held and waits for its release; not running meanwhile (see <see cref="Running"/>).</summary>
    private Task HoldAsync(CiRun run)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (sync)
        {
            held[run.Id] = gate;
            var i = runs.FindIndex(r => r.Id == run.Id);
            if (i >= 0) runs[i] = runs[i] with { Held = true };
            // Not running while held; Release (or AbandonHeld) counts it running again before opening the gate.
            Interlocked.Decrement(ref running);
        }
        return gate.Task;
    }

    private async Task<(string Verdict, string Description)> VerdictAsync(RepoHandle repo, CiRun run)
    {
        if (await repo.Git.HasFileNamedAsync(run.Sha, "FAIL")) return ("failure", "tests failed (FAIL)");
        if (await repo.Git.HasFileNamedAsync(run.Sha, "FLAKY") && await repo.Git.ResolveTreeAsync(run.Sha) is { } tree)
        {
            lock (sync)
                if (flaked.Add((repo.FullName, tree, run.Context))) return ("failure", "network error");
        }
        return ("success", "all tests passed");
    }

    private void Complete(CiRun run, string verdict, string description)
    {
        lock (sync)
        {
            var i = runs.FindIndex(r => r.Id == run.Id);
            if (i >= 0) runs[i] = run with { Verdict = verdict, Description = description, CompletedAt = engine.Now };
        }
    }
}
