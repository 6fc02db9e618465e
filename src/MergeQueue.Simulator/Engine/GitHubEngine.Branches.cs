using System.Text;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Git;

namespace MergeQueue.Simulator.Engine;

/// <summary>How a branch move went.</summary>
public enum MoveOutcome
{
    Moved,
    /// <summary>The update was not a fast-forward and force was not given.</summary>
    NotFastForward,
    /// <summary>The branch no longer had the sha the caller expected (someone else moved it).</summary>
    Stale,
    /// <summary>The branch does not exist (update or delete of a missing branch).</summary>
    Missing,
    /// <summary>The branch already exists (create).</summary>
    Exists,
}

/// <param name="ExpectedOld">Compare-and-swap: null = don't check, <see cref="GitRepository.ZeroSha"/> = must not exist.</param>
/// <param name="Actor">The login recorded as the mover, or "control".</param>
/// <param name="Sender">The user webhooks name as sender and pusher.</param>
/// <param name="MergingPull">A pull request this move merges through the merge API (closed as merged with this commit).</param>
public sealed record MoveRequest(string? ExpectedOld, bool RequireFastForward, string Actor, SimUser Sender, SimPullRequest? MergingPull = null);

public sealed partial class GitHubEngine
{
    public static string BranchRef(string branch) => "refs/heads/" + branch;

    public async Task<IReadOnlyList<BranchInfo>> BranchesAsync(RepoHandle repo, CancellationToken ct = default) =>
        (await repo.Git.ListRefsAsync("refs/heads/", ct)).Select(r => new BranchInfo(r.Ref["refs/heads/".Length..], r.Sha)).ToList();

    /// <summary>Commits files on a branch (creating it if asked) and moves the branch as a push would.</summary>
    public async Task<CommitInfo> CommitFilesAsync(RepoHandle repo, CommitRequest request, string actor, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(request.Branch) || !await GitRepository.IsValidRefNameAsync(BranchRef(request.Branch), ct))
            throw SimulatorError.Validation("Invalid branch name", "Branch", "branch");
        var author = request.Author is null ? repo.Model.Owner : FindUser(request.Author) ?? CreateUser(new CreateUserRequest(request.Author));
        await repo.Git.WriteLock.WaitAsync(ct);
        try
        {
            var current = await repo.Git.GetRefAsync(BranchRef(request.Branch), ct);
            string? parent;
            if (request.Parent is not null)
            {
                parent = await repo.Git.ResolveCommitAsync(request.Parent, ct) ?? throw new SimulatorError(404, $"Parent {request.Parent} not found");
            }
            else if (current is not null)
            {
                parent = current;
            }
            else
            {
                if (!request.CreateBranch) throw new SimulatorError(404, $"Branch {request.Branch} not found");
                parent = await repo.Git.GetRefAsync(BranchRef(repo.Model.DefaultBranch), ct);
            }
            var baseTree = parent is null ? null : await repo.Git.ResolveTreeAsync(parent, ct);
            var changes = request.Files.ToDictionary(f => f.Key, f => f.Value is null ? null : Encoding.UTF8.GetBytes(f.Value));
            var tree = await repo.Git.WriteTreeAsync(baseTree, changes, ct);
            var signature = SignatureOf(author);
            var message = request.Message ?? "Update " + string.Join(", ", request.Files.Keys);
            var sha = await repo.Git.CommitTreeAsync(tree, parent is null ? [] : [parent], message, signature, signature, ct);
            var outcome = await MoveBranchLockedAsync(repo, request.Branch, sha, new MoveRequest(current ?? GitRepository.ZeroSha, false, actor, author), ct);
            if (outcome != MoveOutcome.Moved) throw new SimulatorError(409, $"Branch {request.Branch} could not be moved: {outcome}");
            return new CommitInfo(sha, request.Branch, tree);
        }
        finally
        {
            repo.Git.WriteLock.Release();
        }
    }

    /// <summary>Moves (or with <paramref name="newSha"/> null, deletes) a branch, then does what GitHub does after a push.</summary>
    public async Task<MoveOutcome> MoveBranchAsync(RepoHandle repo, string branch, string? newSha, MoveRequest request, CancellationToken ct = default)
    {
        await repo.Git.WriteLock.WaitAsync(ct);
        try
        {
            return await MoveBranchLockedAsync(repo, branch, newSha, request, ct);
        }
        finally
        {
            repo.Git.WriteLock.Release();
        }
    }

    /// <summary>As <see cref="MoveBranchAsync"/>, for a caller already holding the repository's write lock.</summary>
    internal async Task<MoveOutcome> MoveBranchLockedAsync(RepoHandle repo, string branch, string? newSha, MoveRequest request, CancellationToken ct)
    {
        var fullRef = BranchRef(branch);
        var old = await repo.Git.GetRefAsync(fullRef, ct);
        if (request.ExpectedOld is not null && (old ?? GitRepository.ZeroSha) != request.ExpectedOld)
        {
            if (request.ExpectedOld == GitRepository.ZeroSha) return MoveOutcome.Exists;
            return old is null ? MoveOutcome.Missing : MoveOutcome.Stale;
        }
        if (newSha is null && old is null) return MoveOutcome.Missing;
        // Setting a branch to the commit it already has changes nothing: GitHub answers OK, sends no push, runs no CI.
        if (old is not null && old == newSha) return MoveOutcome.Moved;
        var forced = old is not null && newSha is not null && !await repo.Git.IsAncestorAsync(old, newSha, ct);
        if (forced && request.RequireFastForward) return MoveOutcome.NotFastForward;

        var updated = newSha is null
            ? await repo.Git.DeleteRefAsync(fullRef, old, ct)
            : await repo.Git.UpdateRefAsync(fullRef, newSha, old ?? GitRepository.ZeroSha, ct);
        if (!updated) return MoveOutcome.Stale;

        await AfterMoveAsync(repo, branch, old, newSha, forced, request, ct);
        return MoveOutcome.Moved;
    }

    /// <summary>What GitHub does after a ref changes: push event, synchronize/merge/close pull requests, CI.</summary>
    private async Task AfterMoveAsync(RepoHandle repo, string branch, string? old, string? newSha, bool forced, MoveRequest request, CancellationToken ct)
    {
        var pushed = newSha is null ? [] : await PushedCommitsAsync(repo, branch, old, newSha, ct);
        var baseTips = new Dictionary<string, string?>(StringComparer.Ordinal);
        List<SimPullRequest> affected;
        lock (Sync)
        {
            affected = repo.Model.Pulls.Where(p => p.State == "open" && (p.HeadRef == branch || p.BaseRef == branch)).ToList();
        }
        // Which open pull requests now have their head inside their base (GitHub marks them merged).
        var mergedNow = new HashSet<long>();
        foreach (var pr in affected)
        {
            if (pr == request.MergingPull) continue;
            var head = pr.HeadRef == branch ? newSha : pr.HeadSha;
            if (head is null) continue;
            if (!baseTips.TryGetValue(pr.BaseRef, out var baseTip))
                baseTips[pr.BaseRef] = baseTip = pr.BaseRef == branch ? newSha : await repo.Git.GetRefAsync(BranchRef(pr.BaseRef), ct);
            if (baseTip is not null && await repo.Git.IsAncestorAsync(head, baseTip, ct)) mergedNow.Add(pr.Id);
        }

        var sender = request.Sender;
        var checks = newSha is null ? null : ChecksOf(repo, newSha);
        lock (Sync)
        {
            var now = Now;
            moves.Add(new BranchMove(++moveSequence, repo.FullName, branch, old, newSha, forced, request.Actor, now, checks));
            repo.Model.PushedAt = now;
            Emit(repo, "push", Json.PushEvent(repo.Model, BranchRef(branch), old ?? GitRepository.ZeroSha, newSha ?? GitRepository.ZeroSha, forced, pushed, sender));

            if (request.MergingPull is { } merging)
            {
                MarkMerged(repo, merging, newSha!, sender, now);
            }
            foreach (var pr in affected)
            {
                if (pr == request.MergingPull || pr.State != "open") continue;
                if (pr.HeadRef == branch && newSha is null)
                {
                    // Deleting an open pull request's head branch closes it.
                    pr.State = "closed";
                    pr.ClosedAt = pr.UpdatedAt = now;
                    Emit(repo, "pull_request", Json.PullRequestEvent("closed", repo.Model, pr, sender));
                    continue;
                }
                if (pr.HeadRef == branch && newSha is not null && pr.HeadSha != newSha)
                {
                    var before = pr.HeadSha;
                    pr.HeadSha = newSha;
                    pr.UpdatedAt = now;
                    if (baseTips.TryGetValue(pr.BaseRef, out var tip) && tip is not null) pr.BaseSha = tip;
                    Emit(repo, "pull_request", Json.PullRequestEvent("synchronize", repo.Model, pr, sender, before: before));
                }
                if (mergedNow.Contains(pr.Id))
                {
                    // A push that makes the head reachable from the base merges the pull request;
                    // GitHub then reports the head itself as the merge commit and keeps base.sha.
                    MarkMerged(repo, pr, pr.HeadSha, sender, now);
                    continue;
                }
                if (pr.BaseRef == branch && newSha is not null) pr.BaseSha = newSha;
            }
        }

        if (newSha is not null) Ci.OnPush(repo, branch, newSha);
    }

    /// <summary>Closes a pull request as merged and emits pull_request closed (merged: true). Call under <see cref="Sync"/>.</summary>
    private void MarkMerged(RepoHandle repo, SimPullRequest pr, string mergeCommitSha, SimUser by, DateTimeOffset now)
    {
        pr.State = "closed";
        pr.Merged = true;
        pr.MergedBy = by;
        pr.MergeCommitSha = mergeCommitSha;
        pr.MergedAt = pr.ClosedAt = pr.UpdatedAt = now;
        Emit(repo, "pull_request", Json.PullRequestEvent("closed", repo.Model, pr, by));
    }

    /// <summary>The commits a push event lists: new to the branch, oldest first, at most 20 (as GitHub sends).</summary>
    private async Task<IReadOnlyList<SimCommit>> PushedCommitsAsync(RepoHandle repo, string branch, string? old, string newSha, CancellationToken ct)
    {
        string? exclude = old;
        if (old is null && branch != repo.Model.DefaultBranch)
            exclude = await repo.Git.GetRefAsync(BranchRef(repo.Model.DefaultBranch), ct);
        var shas = await repo.Git.RevListAsync(newSha, exclude, ct);
        return await repo.Git.ReadCommitsAsync(shas.TakeLast(20).ToList(), ct);
    }
}
