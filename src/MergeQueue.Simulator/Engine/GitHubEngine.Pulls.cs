using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Git;

namespace MergeQueue.Simulator.Engine;

/// <summary>The result of merging a pull request through the API.</summary>
public sealed record PullMergeResult(string Sha, string Message);

public sealed partial class GitHubEngine
{
    public SimPullRequest GetPull(RepoHandle repo, int number)
    {
        lock (Sync) return repo.Model.Pulls.FirstOrDefault(p => p.Number == number) ?? throw SimulatorError.NotFound();
    }

    public IReadOnlyList<SimPullRequest> Pulls(RepoHandle repo)
    {
        lock (Sync) return repo.Model.Pulls.ToList();
    }

    public async Task<SimPullRequest> OpenPullRequestAsync(RepoHandle repo, OpenPullRequestRequest request, SimUser author, CancellationToken ct = default)
    {
        var baseRef = request.Base ?? repo.Model.DefaultBranch;
        if (string.IsNullOrWhiteSpace(request.Title)) throw SimulatorError.Validation("Validation Failed", "PullRequest", "title", "missing_field");
        var head = await repo.Git.GetRefAsync(BranchRef(request.Head), ct);
        var baseSha = await repo.Git.GetRefAsync(BranchRef(baseRef), ct);
        if (head is null) throw SimulatorError.Validation("Validation Failed", "PullRequest", "head", "invalid");
        if (baseSha is null) throw SimulatorError.Validation("Validation Failed", "PullRequest", "base", "invalid");
        if (await repo.Git.IsAncestorAsync(head, baseSha, ct))
            throw SimulatorError.Validation($"No commits between {baseRef} and {request.Head}", "PullRequest", null, "custom");
        SimPullRequest pr;
        lock (Sync)
        {
            if (repo.Model.Pulls.Any(p => p.State == "open" && p.HeadRef == request.Head && p.BaseRef == baseRef))
                throw SimulatorError.Validation($"A pull request already exists for {repo.Model.Owner.Login}:{request.Head}.", "PullRequest", null, "custom");
            var now = Now;
            pr = new SimPullRequest
            {
                Id = NextId(),
                Number = ++repo.Model.LastNumber,
                Title = request.Title,
                Body = request.Body,
                User = author,
                HeadRef = request.Head,
                HeadSha = head,
                BaseRef = baseRef,
                BaseSha = baseSha,
                Draft = request.Draft,
                CreatedAt = now,
                UpdatedAt = now,
            };
            repo.Model.Pulls.Add(pr);
            Emit(repo, "pull_request", Json.PullRequestEvent("opened", repo.Model, pr, author));
        }
        Ci.OnPullRequestOpened(repo, pr.HeadRef, head);
        return pr;
    }

    /// <summary>GitHub's mergeability: null once closed, else whether head merges into base without conflicts.</summary>
    public async Task<bool?> MergeableAsync(RepoHandle repo, SimPullRequest pr, CancellationToken ct = default)
    {
        string head, baseRef;
        lock (Sync)
        {
            if (pr.State != "open") return null;
            head = pr.HeadSha;
            baseRef = pr.BaseRef;
        }
        var baseSha = await repo.Git.GetRefAsync(BranchRef(baseRef), ct);
        if (baseSha is null) return false;
        var merge = await repo.Git.MergeTreeAsync(baseSha, head, ct);
        return merge.Clean;
    }

    /// <summary>The size GitHub reports on a single pull request (commits, additions, deletions, changed_files), from git.</summary>
    public async Task<SimDiffStats> PullStatsAsync(RepoHandle repo, SimPullRequest pr, CancellationToken ct = default)
    {
        string head, baseRef, baseSha;
        lock (Sync) (head, baseRef, baseSha) = (pr.HeadSha, pr.BaseRef, pr.BaseSha);
        var baseTip = pr.State == "open" ? await repo.Git.GetRefAsync(BranchRef(baseRef), ct) ?? baseSha : baseSha;
        var commits = await PullCommitsAsync(repo, pr, ct);
        var (files, additions, deletions) = await repo.Git.DiffStatsAsync(baseTip, head, ct);
        return new SimDiffStats(commits.Count, additions, deletions, files);
    }

    public async Task<IReadOnlyList<SimCommit>> PullCommitsAsync(RepoHandle repo, SimPullRequest pr, CancellationToken ct = default)
    {
        string head, baseRef, baseSha;
        lock (Sync) (head, baseRef, baseSha) = (pr.HeadSha, pr.BaseRef, pr.BaseSha);
        var baseTip = pr.State == "open" ? await repo.Git.GetRefAsync(BranchRef(baseRef), ct) ?? baseSha : baseSha;
        // Once merged, the head is inside the current base: list against the base it was merged into.
        if (await repo.Git.IsAncestorAsync(head, baseTip, ct)) baseTip = baseSha;
        if (await repo.Git.IsAncestorAsync(head, baseTip, ct)) return [];
        return await repo.Git.ReadCommitsAsync(await repo.Git.RevListAsync(head, baseTip, ct), ct);
    }

    /// <summary>PUT /pulls/{n}/merge: merge, squash or rebase the pull request into its base.</summary>
    public async Task<PullMergeResult> MergePullRequestAsync(RepoHandle repo, SimPullRequest pr, SimUser user, string method, string? expectedSha, string? title, string? message, CancellationToken ct = default)
    {
        if (method is not ("merge" or "squash" or "rebase"))
            throw SimulatorError.Validation("Invalid request.\n\nmerge_method must be one of merge, squash, rebase.", "PullRequest", "merge_method");
        await repo.Git.WriteLock.WaitAsync(ct);
        try
        {
            string head, baseRef;
            lock (Sync)
            {
                if (pr.State != "open") throw new SimulatorError(405, "Pull Request is not mergeable");
                if (pr.Draft) throw new SimulatorError(405, "Pull Request is still a draft");
                head = pr.HeadSha;
                baseRef = pr.BaseRef;
            }
            if (expectedSha is not null && expectedSha != head)
                throw new SimulatorError(409, "Head branch was modified. Review and try the merge again.");
            var baseSha = await repo.Git.GetRefAsync(BranchRef(baseRef), ct) ?? throw new SimulatorError(405, "Base branch was deleted");
            var now = Now;
            string result;
            switch (method)
            {
                case "merge":
                {
                    var merge = await repo.Git.MergeTreeAsync(baseSha, head, ct);
                    if (!merge.Clean) throw new SimulatorError(405, "Pull Request is not mergeable");
                    var text = (title ?? $"Merge pull request #{pr.Number} from {repo.Model.Owner.Login}/{pr.HeadRef}") + "\n\n" + (message ?? pr.Title);
                    result = await repo.Git.CommitTreeAsync(merge.TreeSha!, [baseSha, head], text, SignatureOf(user, now), GitHubSignature(), ct);
                    break;
                }
                case "squash":
                {
                    var merge = await repo.Git.MergeTreeAsync(baseSha, head, ct);
                    if (!merge.Clean) throw new SimulatorError(405, "Pull Request is not mergeable");
                    var commits = await PullCommitsAsync(repo, pr, ct);
                    var text = (title ?? $"{pr.Title} (#{pr.Number})") + "\n\n" + (message ?? string.Join("\n\n", commits.Select(c => "* " + c.Message)));
                    result = await repo.Git.CommitTreeAsync(merge.TreeSha!, [baseSha], text.TrimEnd(), SignatureOf(pr.User, now), GitHubSignature(), ct);
                    break;
                }
                default:
                {
                    result = baseSha;
                    foreach (var commit in await PullCommitsAsync(repo, pr, ct))
                    {
                        if (commit.Parents.Count > 1) throw new SimulatorError(405, "This branch can't be rebased");
                        var picked = await repo.Git.CherryPickTreeAsync(commit, result, ct);
                        if (!picked.Clean) throw new SimulatorError(405, "This branch can't be rebased");
                        result = await repo.Git.CommitTreeAsync(picked.TreeSha!, [result], commit.Message, commit.Author, GitHubSignature(), ct);
                    }
                    break;
                }
            }
            var outcome = await MoveBranchLockedAsync(repo, baseRef, result, new MoveRequest(baseSha, false, user.Login, user, pr), ct);
            if (outcome != MoveOutcome.Moved) throw new SimulatorError(409, "Base branch was modified. Review and try the merge again.");
            return new PullMergeResult(result, "Pull Request successfully merged");
        }
        finally
        {
            repo.Git.WriteLock.Release();
        }
    }

    public void ClosePull(RepoHandle repo, SimPullRequest pr, SimUser user)
    {
        lock (Sync)
        {
            if (pr.State == "closed") return;
            pr.State = "closed";
            pr.ClosedAt = pr.UpdatedAt = Now;
            Emit(repo, "pull_request", Json.PullRequestEvent("closed", repo.Model, pr, user));
        }
    }

    public async Task ReopenPullAsync(RepoHandle repo, SimPullRequest pr, SimUser user, CancellationToken ct = default)
    {
        var head = await repo.Git.GetRefAsync(BranchRef(pr.HeadRef), ct);
        lock (Sync)
        {
            if (pr.State == "open") return;
            if (pr.Merged || head is null) throw SimulatorError.Validation("state cannot be changed. The head branch was deleted or the pull request was merged.", "PullRequest", "state", "custom");
            pr.State = "open";
            pr.HeadSha = head;
            pr.ClosedAt = null;
            pr.UpdatedAt = Now;
            Emit(repo, "pull_request", Json.PullRequestEvent("reopened", repo.Model, pr, user));
        }
    }

    /// <summary>PATCH /pulls/{n}: title, body, base; state goes through close/reopen.</summary>
    public void EditPull(RepoHandle repo, SimPullRequest pr, SimUser user, string? title, string? body, string? baseRef)
    {
        lock (Sync)
        {
            var changes = new JsonObject();
            if (title is not null && title != pr.Title) { changes["title"] = new JsonObject { ["from"] = pr.Title }; pr.Title = title; }
            if (body is not null && body != pr.Body) { changes["body"] = new JsonObject { ["from"] = pr.Body }; pr.Body = body; }
            if (baseRef is not null && baseRef != pr.BaseRef) { changes["base"] = new JsonObject { ["ref"] = new JsonObject { ["from"] = pr.BaseRef } }; pr.BaseRef = baseRef; }
            if (changes.Count == 0) return;
            pr.UpdatedAt = Now;
            Emit(repo, "pull_request", Json.PullRequestEvent("edited", repo.Model, pr, user, changes));
        }
    }

    public void SetDraft(RepoHandle repo, SimPullRequest pr, bool draft, SimUser user)
    {
        lock (Sync)
        {
            if (pr.Draft == draft || pr.State != "open") return;
            pr.Draft = draft;
            pr.UpdatedAt = Now;
            Emit(repo, "pull_request", Json.PullRequestEvent(draft ? "converted_to_draft" : "ready_for_review", repo.Model, pr, user));
        }
    }

    public SimReview SubmitReview(RepoHandle repo, SimPullRequest pr, SimUser user, string state, string? body, string? commitId)
    {
        state = state.ToUpperInvariant() switch
        {
            "APPROVE" or "APPROVED" => "APPROVED",
            "REQUEST_CHANGES" or "CHANGES_REQUESTED" => "CHANGES_REQUESTED",
            "COMMENT" or "COMMENTED" => "COMMENTED",
            _ => throw SimulatorError.Validation("Invalid review state", "PullRequestReview", "event"),
        };
        lock (Sync)
        {
            if (state != "COMMENTED" && pr.User.Id == user.Id)
                throw SimulatorError.Validation("Can not approve your own pull request", "PullRequestReview", null, "custom");
            var review = new SimReview { Id = NextId(), User = user, State = state, CommitId = commitId ?? pr.HeadSha, Body = body, SubmittedAt = Now };
            pr.Reviews.Add(review);
            Emit(repo, "pull_request_review", Json.PullRequestReviewEvent("submitted", repo.Model, pr, review, user));
            return review;
        }
    }

    public SimReview DismissReview(RepoHandle repo, SimPullRequest pr, long reviewId, SimUser user)
    {
        lock (Sync)
        {
            var review = pr.Reviews.FirstOrDefault(r => r.Id == reviewId) ?? throw SimulatorError.NotFound();
            if (review.State == "DISMISSED") return review;
            review.State = "DISMISSED";
            Emit(repo, "pull_request_review", Json.PullRequestReviewEvent("dismissed", repo.Model, pr, review, user));
            return review;
        }
    }

    public PullRequestInfo PullInfo(SimPullRequest pr)
    {
        lock (Sync)
            return new PullRequestInfo(pr.Number, pr.Title, pr.State, pr.Draft, pr.Merged, pr.HeadRef, pr.HeadSha, pr.BaseRef, pr.BaseSha,
                pr.User.Login, pr.MergedBy?.Login, pr.MergeCommitSha, pr.Labels.ToList(),
                pr.Reviews.Select(r => new ReviewInfo(r.Id, r.User.Login, r.State, r.CommitId, r.SubmittedAt)).ToList());
    }

    /// <summary>A commit reachable in the repository, or 404/422 as GitHub answers for an unknown sha or ref.</summary>
    public async Task<SimCommit> CommitOrThrowAsync(RepoHandle repo, string rev, int status = 404, CancellationToken ct = default) =>
        await repo.Git.ReadCommitAsync(rev, ct) ?? throw (status == 422 ? new SimulatorError(422, $"No commit found for SHA: {rev}") : SimulatorError.NotFound());

    internal static bool IsSha(string s) => s.Length == 40 && s.All(Uri.IsHexDigit);

    internal static string ZeroSha => GitRepository.ZeroSha;
}
