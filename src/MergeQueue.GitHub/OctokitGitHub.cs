using System.Globalization;
using System.Net;
using System.Text;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.GitHub.Resilience;
using Microsoft.Extensions.Logging;
using Octokit;
using CorePermission = MergeQueue.Core.Ports.Permission;

namespace MergeQueue.GitHub;

/// <summary>
/// The GitHub port over Octokit. Every request runs through a retry pipeline (5xx, 429, rate
/// limits, transport errors; never decisions such as 404, 409, 422); writes that may have been
/// applied by an attempt that failed ambiguously look at GitHub before acting again, so a retry
/// never merges twice, double-posts a comment or fails on its own earlier success.
/// </summary>
public sealed class OctokitGitHub : IGitHub
{
    private const int PageSize = 100;
    private static readonly ApiOptions AllPages = new() { PageSize = PageSize };

    /// <summary>How far back a re-posted comment is searched for, beyond the call's start, for clock skew.</summary>
    private static readonly TimeSpan CommentLookBack = TimeSpan.FromMinutes(5);

    private readonly IGitHubClient _client;
    private readonly IApiConnection _api;
    private readonly GitHubCallRunner _runner;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GitHubApp? _app;
    private string? _login;
    private bool _loginKnown;

    /// <summary>Connects with a token to github.com (https://api.github.com/) or a GitHub Enterprise / simulator root.</summary>
    public OctokitGitHub(Uri apiUrl, string token, TimeProvider time, ILogger logger, GitHubRetryOptions? options = null)
        : this(CreateClient(apiUrl, token, options ?? new GitHubRetryOptions()), time, logger, options)
    {
    }

    /// <summary>Connects as a GitHub App: installation tokens per repository; our login is the App's bot.</summary>
    public OctokitGitHub(GitHubApp app, TimeProvider time, ILogger logger, GitHubRetryOptions? options = null)
        : this(app.CreateClient((options ?? new GitHubRetryOptions()).RequestTimeout), time, logger, options)
    {
        _app = app;
    }

    /// <summary>Uses a client the host configured.</summary>
    public OctokitGitHub(IGitHubClient client, TimeProvider time, ILogger logger, GitHubRetryOptions? options = null)
        : this(client, time, logger, options ?? new GitHubRetryOptions(), random: null)
    {
    }

    internal OctokitGitHub(IGitHubClient client, TimeProvider time, ILogger logger, GitHubRetryOptions options, Func<double>? random)
    {
        _client = client;
        _api = new ApiConnection(client.Connection);
        _time = time;
        _logger = logger;
        _runner = new GitHubCallRunner(time, logger, options, new GitHubCallMetrics(), random);
    }

    /// <summary>Calls, attempts, retries, failures and reconciliations, for the host's metrics.</summary>
    public GitHubCallMetrics Metrics => _runner.Metrics;

    private static GitHubClient CreateClient(Uri apiUrl, string token, GitHubRetryOptions options)
    {
        // Octokit maps any host but github.com to {root}/api/v3/, as GitHub Enterprise serves it.
        var client = new GitHubClient(new ProductHeaderValue("MergeQueue"), apiUrl) { Credentials = new Credentials(token) };
        client.SetRequestTimeout(options.RequestTimeout);
        return client;
    }

    public Task<PullRequestInfo?> GetPullRequestAsync(RepoId repo, int number, CancellationToken ct) =>
        _runner.RunAsync("get-pull-request", async a =>
        {
            try
            {
                var pr = await _client.PullRequest.Get(repo.Owner, repo.Name, number).WaitAsync(a.CancellationToken).ConfigureAwait(false);
                return OctokitMapping.PullRequest(pr);
            }
            catch (NotFoundException)
            {
                return (PullRequestInfo?)null;
            }
        }, ct);

    /// <summary>GitHub's list of a pull request's commits stops at this many.</summary>
    public const int PullCommitsListLimit = 250;

    /// <summary>
    /// The PR's commits, oldest first. GET /pulls/{n}/commits stops at 250; a longer PR is read
    /// through the compare API from its base branch to its head, which pages through all of them.
    /// </summary>
    public Task<IReadOnlyList<CommitInfo>> GetPullRequestCommitsAsync(RepoId repo, int number, CancellationToken ct) =>
        _runner.RunAsync<IReadOnlyList<CommitInfo>>("get-pull-request-commits", async a =>
        {
            var commits = await _client.PullRequest.Commits(repo.Owner, repo.Name, number).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            if (commits.Count < PullCommitsListLimit) return commits.Select(OctokitMapping.Commit).ToList();
            var pr = await _client.PullRequest.Get(repo.Owner, repo.Name, number).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            var all = new List<CommitInfo>();
            for (var page = 1; ; page++)
            {
                // By hand: Octokit's Compare does not page through the commits.
                var compare = await _api.Get<CompareResult>(new Uri($"repos/{repo.Owner}/{repo.Name}/compare/{pr.Base.Ref}...{pr.Head.Sha}", UriKind.Relative),
                    new Dictionary<string, string> { ["page"] = page.ToString(CultureInfo.InvariantCulture), ["per_page"] = PageSize.ToString(CultureInfo.InvariantCulture) })
                    .WaitAsync(a.CancellationToken).ConfigureAwait(false);
                all.AddRange((compare.Commits ?? []).Select(OctokitMapping.Commit));
                if (compare.Commits is not { Count: > 0 } || all.Count >= compare.TotalCommits) return all;
            }
        }, ct);

    public Task<IReadOnlyList<Review>> GetReviewsAsync(RepoId repo, int number, CancellationToken ct) =>
        _runner.RunAsync<IReadOnlyList<Review>>("get-reviews", async a =>
        {
            var reviews = await _client.PullRequest.Review.GetAll(repo.Owner, repo.Name, number, AllPages).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            return reviews.Select(OctokitMapping.Review).OfType<Review>().ToList();
        }, ct);

    public Task<IReadOnlyList<Check>> GetChecksAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        _runner.RunAsync("get-checks", async a =>
        {
            var statuses = await GetLatestStatusesAsync(repo, sha, a.CancellationToken).ConfigureAwait(false);
            var runs = await _client.Check.Run.GetAllForReference(repo.Owner, repo.Name, sha.Value,
                new CheckRunRequest { Filter = CheckRunCompletedAtFilter.Latest }, AllPages).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            return OctokitMapping.Checks(statuses, runs.CheckRuns);
        }, ct);

    /// <summary>
    /// The combined status holds the latest status per context; Octokit reads only its first page,
    /// so we page it ourselves.
    /// </summary>
    private async Task<List<CommitStatus>> GetLatestStatusesAsync(RepoId repo, CommitSha sha, CancellationToken ct)
    {
        var all = new List<CommitStatus>();
        var uri = new Uri($"repos/{Escape(repo.Owner)}/{Escape(repo.Name)}/commits/{Escape(sha.Value)}/status", UriKind.Relative);
        for (var page = 1; ; page++)
        {
            var parameters = new Dictionary<string, string>
            {
                ["per_page"] = PageSize.ToString(CultureInfo.InvariantCulture),
                ["page"] = page.ToString(CultureInfo.InvariantCulture),
            };
            var combined = await _api.Get<CombinedCommitStatus>(uri, parameters).WaitAsync(ct).ConfigureAwait(false);
            var statuses = combined.Statuses ?? [];
            all.AddRange(statuses);
            // Stop on a short page or once total_count is reached; either alone would loop forever
            // on a server that ignores one of them.
            if (statuses.Count < PageSize || all.Count >= combined.TotalCount) return all;
        }
    }

    /// <summary>GitHub's repository activity (newest first): the latest move of the branch to the commit.</summary>
    public Task<DateTimeOffset?> GetPushedAtAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) =>
        _runner.RunAsync("get-pushed-at", async a =>
        {
            var uri = new Uri($"repos/{Escape(repo.Owner)}/{Escape(repo.Name)}/activity", UriKind.Relative);
            var parameters = new Dictionary<string, string>
            {
                ["ref"] = $"refs/heads/{branch}",
                ["direction"] = "desc",
                ["per_page"] = PageSize.ToString(CultureInfo.InvariantCulture),
            };
            try
            {
                var activities = await _api.Get<List<RepositoryActivity>>(uri, parameters).WaitAsync(a.CancellationToken).ConfigureAwait(false);
                return activities.FirstOrDefault(x => string.Equals(x.After, sha.Value, StringComparison.OrdinalIgnoreCase))?.Timestamp;
            }
            catch (NotFoundException)
            {
                return null;
            }
        }, ct);

    public Task<CorePermission> GetPermissionAsync(RepoId repo, string login, CancellationToken ct) =>
        _runner.RunAsync("get-permission", async a =>
        {
            try
            {
                var response = await _client.Repository.Collaborator.ReviewPermission(repo.Owner, repo.Name, login).WaitAsync(a.CancellationToken).ConfigureAwait(false);
                return OctokitMapping.Permission(response.RoleName, response.Permission);
            }
            catch (NotFoundException)
            {
                // GitHub answers 404 for a login that is not a collaborator, or not a user at all.
                return CorePermission.None;
            }
        }, ct);

    public Task<IReadOnlyList<string>> GetRequiredStatusChecksAsync(RepoId repo, string branch, CancellationToken ct) =>
        _runner.RunAsync<IReadOnlyList<string>>("get-required-status-checks", async a =>
        {
            var uri = new Uri($"repos/{Escape(repo.Owner)}/{Escape(repo.Name)}/branches/{Escape(branch)}/protection/required_status_checks", UriKind.Relative);
            try
            {
                var checks = await _api.Get<BranchProtectionRequiredStatusChecks>(uri).WaitAsync(a.CancellationToken).ConfigureAwait(false);
                return checks.Contexts?.ToArray() ?? [];
            }
            catch (NotFoundException)
            {
                // GitHub's 404: "Branch not protected" or "Required status checks not enabled".
                return [];
            }
        }, ct);

    public Task<string?> GetFileAsync(RepoId repo, string path, string gitRef, CancellationToken ct) =>
        _runner.RunAsync("get-file", async a =>
        {
            IReadOnlyList<RepositoryContent> contents;
            try
            {
                contents = await _client.Repository.Content.GetAllContentsByRef(repo.Owner, repo.Name, path, gitRef).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                return null;
            }
            // A directory answers with its entries; the caller asked for a file, so there is none.
            if (contents.Count != 1 || !string.Equals(contents[0].Type.StringValue, "file", StringComparison.OrdinalIgnoreCase))
                return null;
            var file = contents[0];
            return file.EncodedContent is { } encoded
                ? Encoding.UTF8.GetString(Convert.FromBase64String(encoded))
                : file.Content;
        }, ct);

    // Octokit follows GitHub's 302 to codeload itself; the codeload URL carries its own token.
    public Task<byte[]> GetTarballAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        _runner.RunAsync("get-tarball", a =>
            _client.Repository.Content.GetArchive(repo.Owner, repo.Name, ArchiveFormat.Tarball, sha.Value, TimeSpan.FromMinutes(10)).WaitAsync(a.CancellationToken), ct);

    public Task<string> GetDefaultBranchAsync(RepoId repo, CancellationToken ct) =>
        _runner.RunAsync("get-default-branch", async a =>
        {
            var repository = await _client.Repository.Get(repo.Owner, repo.Name).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            return repository.DefaultBranch;
        }, ct);

    public Task<IReadOnlyList<PullRequestInfo>> GetOpenPullRequestsAsync(RepoId repo, CancellationToken ct) =>
        _runner.RunAsync<IReadOnlyList<PullRequestInfo>>("get-open-pull-requests", async a =>
        {
            var pulls = await _client.PullRequest.GetAllForRepository(repo.Owner, repo.Name, new PullRequestRequest { State = ItemStateFilter.Open }, AllPages)
                .WaitAsync(a.CancellationToken).ConfigureAwait(false);
            return pulls.Select(OctokitMapping.PullRequest).ToList();
        }, ct);

    public Task<IReadOnlyDictionary<string, CommitSha>> GetBranchesAsync(RepoId repo, CancellationToken ct) =>
        _runner.RunAsync<IReadOnlyDictionary<string, CommitSha>>("get-branches", async a =>
        {
            // matching-refs answers every match in one array (no pages), unlike GET /branches.
            var uri = new Uri($"repos/{Escape(repo.Owner)}/{Escape(repo.Name)}/git/matching-refs/heads/", UriKind.Relative);
            var refs = await _api.Get<List<Reference>>(uri).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            return refs.Where(r => r.Ref.StartsWith("refs/heads/", StringComparison.Ordinal))
                .ToDictionary(r => r.Ref["refs/heads/".Length..], r => new CommitSha(r.Object.Sha), StringComparer.Ordinal);
        }, ct);

    public Task<CommitSha?> GetBranchAsync(RepoId repo, string branch, CancellationToken ct) =>
        _runner.RunAsync("get-branch", a => ReadBranchAsync(repo, branch, a.CancellationToken), ct);

    /// <summary>One unretried read of a branch head, for use inside an attempt.</summary>
    private async Task<CommitSha?> ReadBranchAsync(RepoId repo, string branch, CancellationToken ct)
    {
        try
        {
            // The documented single-ref endpoint (git/ref, singular); 404 when there is no such ref.
            var uri = new Uri($"repos/{Escape(repo.Owner)}/{Escape(repo.Name)}/git/ref/{HeadsPath(branch)}", UriKind.Relative);
            var reference = await _api.Get<Reference>(uri).WaitAsync(ct).ConfigureAwait(false);
            return new CommitSha(reference.Object.Sha);
        }
        catch (NotFoundException)
        {
            return null;
        }
    }

    public Task ResetBranchAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) =>
        _runner.RunAsync("reset-branch", async a =>
        {
            try
            {
                await _client.Git.Reference.Create(repo.Owner, repo.Name, new NewReference($"refs/heads/{branch}", sha.Value)).WaitAsync(a.CancellationToken).ConfigureAwait(false);
                return;
            }
            catch (ApiValidationException e) when (ApiErrors.Says(e, ApiErrors.ReferenceAlreadyExists))
            {
                // The branch exists: from an earlier attempt of ours that answered 5xx, or from before.
            }

            if (await ReadBranchAsync(repo, branch, a.CancellationToken).ConfigureAwait(false) == sha)
            {
                a.Reconciled = a.AfterAmbiguousFailure;
                return;
            }
            await _client.Git.Reference.Update(repo.Owner, repo.Name, HeadsPath(branch), new ReferenceUpdate(sha.Value, force: true)).WaitAsync(a.CancellationToken).ConfigureAwait(false);
        }, ct);

    public Task<bool> FastForwardAsync(RepoId repo, string branch, CommitSha sha, CancellationToken ct) =>
        _runner.RunAsync("fast-forward", async a =>
        {
            try
            {
                await _client.Git.Reference.Update(repo.Owner, repo.Name, HeadsPath(branch), new ReferenceUpdate(sha.Value, force: false)).WaitAsync(a.CancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (ApiValidationException e)
            {
                // Already there (our own earlier attempt, or someone else's push of the same commit) is success.
                if (await ReadBranchAsync(repo, branch, a.CancellationToken).ConfigureAwait(false) == sha)
                {
                    a.Reconciled = a.AfterAmbiguousFailure;
                    return true;
                }
                if (ApiErrors.Says(e, ApiErrors.NotAFastForward)) return false;
                throw;
            }
        }, ct);

    public Task DeleteBranchAsync(RepoId repo, string branch, CancellationToken ct) =>
        _runner.RunAsync("delete-branch", async a =>
        {
            try
            {
                await _client.Git.Reference.Delete(repo.Owner, repo.Name, HeadsPath(branch)).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                // Already gone, perhaps by our own earlier attempt.
            }
            catch (ApiValidationException e) when (ApiErrors.Says(e, ApiErrors.ReferenceDoesNotExist))
            {
                // GitHub's answer for a missing ref on DELETE is a 422, not a 404.
            }
        }, ct);

    public async Task<MergeResult> MergeAsync(RepoId repo, string branch, CommitSha head, string message, CancellationToken ct)
    {
        // Read before merging: after an ambiguous failure this is how we recognise our own merge.
        var before = await GetBranchAsync(repo, branch, ct).ConfigureAwait(false);
        return await _runner.RunAsync<MergeResult>("merge", async a =>
        {
            if (a.AfterAmbiguousFailure && before is { } oldHead
                && await FindOwnMergeAsync(repo, branch, oldHead, head, a.CancellationToken).ConfigureAwait(false) is { } merged)
            {
                a.Reconciled = true;
                return new MergeResult.Merged(merged);
            }
            try
            {
                var merge = await _client.Repository.Merging.Create(repo.Owner, repo.Name, new NewMerge(branch, head.Value) { CommitMessage = message })
                    .WaitAsync(a.CancellationToken).ConfigureAwait(false);
                // 204 (head already contained) has no body, and Octokit hands back null.
                return merge is null ? new MergeResult.NothingToMerge() : new MergeResult.Merged(new CommitSha(merge.Sha));
            }
            catch (ApiException e) when (e.StatusCode == HttpStatusCode.Conflict)
            {
                return new MergeResult.Conflict();
            }
        }, ct).ConfigureAwait(false);
    }

    /// <summary>The branch head, if it is a merge commit of exactly (old head, head): the merge we asked for.</summary>
    private async Task<CommitSha?> FindOwnMergeAsync(RepoId repo, string branch, CommitSha oldHead, CommitSha head, CancellationToken ct)
    {
        var current = await ReadBranchAsync(repo, branch, ct).ConfigureAwait(false);
        if (current is not { } now || now == oldHead) return null;
        var commit = await _client.Git.Commit.Get(repo.Owner, repo.Name, now.Value).WaitAsync(ct).ConfigureAwait(false);
        var parents = commit.Parents ?? [];
        if (parents.Count == 2 && parents[0].Sha == oldHead.Value && parents[1].Sha == head.Value)
        {
            _logger.LogInformation("Merge of {Head} into {Branch} of {Repo} had already been applied as {Merge}; not merging again",
                head.Short, branch, repo, now.Short);
            return now;
        }
        return null;
    }

    public Task<CommitInfo> GetCommitAsync(RepoId repo, CommitSha sha, CancellationToken ct) =>
        _runner.RunAsync("get-commit", async a =>
            OctokitMapping.Commit(await _client.Git.Commit.Get(repo.Owner, repo.Name, sha.Value).WaitAsync(a.CancellationToken).ConfigureAwait(false)), ct);

    // A commit is a content-addressed object: creating it twice after an ambiguous failure leaves
    // at most an unreferenced twin, so a plain retry is safe.
    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, CancellationToken ct) =>
        _runner.RunAsync("create-commit", async a =>
        {
            var commit = await _client.Git.Commit.Create(repo.Owner, repo.Name, new NewCommit(message, treeSha, parents.Select(p => p.Value)))
                .WaitAsync(a.CancellationToken).ConfigureAwait(false);
            return new CommitSha(commit.Sha);
        }, ct);

    // Same as above: a twin commit from a retry is unreferenced and harmless.
    public Task<CommitSha> CreateCommitAsync(RepoId repo, string treeSha, IReadOnlyList<CommitSha> parents, string message, GitIdentity? author, GitIdentity? committer, CancellationToken ct) =>
        _runner.RunAsync("create-commit", async a =>
        {
            var commit = await _client.Git.Commit.Create(repo.Owner, repo.Name, new NewCommit(message, treeSha, parents.Select(p => p.Value))
            {
                Author = OctokitMapping.Signature(author, _time),
                Committer = OctokitMapping.Signature(committer, _time),
            }).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            return new CommitSha(commit.Sha);
        }, ct);

    public Task<CommitRange> CompareCommitsAsync(RepoId repo, CommitSha baseSha, CommitSha head, CancellationToken ct) =>
        _runner.RunAsync("compare", async a =>
        {
            var compare = await _client.Repository.Commit.Compare(repo.Owner, repo.Name, baseSha.Value, head.Value).WaitAsync(a.CancellationToken).ConfigureAwait(false);
            var commits = (compare.Commits ?? []).Select(OctokitMapping.Commit).ToList();
            return new CommitRange(commits, Complete: commits.Count >= compare.TotalCommits);
        }, ct);

    // Statuses are idempotent (the latest per context wins), so a retry simply posts again.
    public Task SetStatusAsync(RepoId repo, CommitSha sha, string context, StatusState state, string description, string? targetUrl, CancellationToken ct) =>
        _runner.RunAsync("set-status", a =>
            _client.Repository.Status.Create(repo.Owner, repo.Name, sha.Value, new NewCommitStatus
            {
                State = OctokitMapping.CommitState(state),
                Context = context,
                Description = OctokitMapping.StatusDescription(description),
                TargetUrl = targetUrl,
            }).WaitAsync(a.CancellationToken), ct);

    public Task ReportCheckRunAsync(RepoId repo, CommitSha sha, string name, CheckRunReport report, CancellationToken ct)
    {
        // Check runs are for Apps only: a token gets 403 from GitHub, so it never asks.
        if (_app is null) return Task.CompletedTask;
        return _runner.RunAsync("report-check-run", async a =>
        {
            var output = new NewCheckRunOutput(report.Title, report.Summary);
            var existing = await _client.Check.Run.GetAllForReference(repo.Owner, repo.Name, sha.Value, new CheckRunRequest { CheckName = name })
                .WaitAsync(a.CancellationToken).ConfigureAwait(false);
            var run = existing.CheckRuns.Where(r => r.App?.Id.ToString(CultureInfo.InvariantCulture) == _app.AppId).OrderByDescending(r => r.Id).FirstOrDefault();
            var status = report.Conclusion is null ? CheckStatus.InProgress : CheckStatus.Completed;
            CheckConclusion? conclusion = report.Conclusion switch
            {
                CheckRunConclusion.Success => CheckConclusion.Success,
                CheckRunConclusion.Failure => CheckConclusion.Failure,
                CheckRunConclusion.Cancelled => CheckConclusion.Cancelled,
                _ => null,
            };
            // A completed run is left as it is: the next request of the same head starts a new one.
            if (run is not null && run.Status.Value != CheckStatus.Completed)
            {
                await _client.Check.Run.Update(repo.Owner, repo.Name, run.Id, new CheckRunUpdate
                {
                    Status = status, Conclusion = conclusion, Output = output, DetailsUrl = report.DetailsUrl,
                    CompletedAt = conclusion is null ? null : _time.GetUtcNow(),
                }).WaitAsync(a.CancellationToken).ConfigureAwait(false);
                return;
            }
            await _client.Check.Run.Create(repo.Owner, repo.Name, new NewCheckRun(name, sha.Value)
            {
                Status = status, Conclusion = conclusion, Output = output, DetailsUrl = report.DetailsUrl,
                StartedAt = _time.GetUtcNow(), CompletedAt = conclusion is null ? null : _time.GetUtcNow(),
            }).WaitAsync(a.CancellationToken).ConfigureAwait(false);
        }, ct);
    }

    public Task CommentAsync(RepoId repo, int number, string body, CancellationToken ct)
    {
        var since = _time.GetUtcNow() - CommentLookBack;
        return _runner.RunAsync("comment", async a =>
        {
            if (a.AfterAmbiguousFailure && await HasOwnCommentAsync(repo, number, body, since, a.CancellationToken).ConfigureAwait(false))
            {
                a.Reconciled = true;
                return;
            }
            await _client.Issue.Comment.Create(repo.Owner, repo.Name, number, body).WaitAsync(a.CancellationToken).ConfigureAwait(false);
        }, ct);
    }

    /// <summary>Whether a comment with this body, by us, was posted since the call began.</summary>
    private async Task<bool> HasOwnCommentAsync(RepoId repo, int number, string body, DateTimeOffset since, CancellationToken ct)
    {
        var login = await GetOwnLoginAsync(ct).ConfigureAwait(false);
        var comments = await _client.Issue.Comment.GetAllForIssue(repo.Owner, repo.Name, number, new IssueCommentRequest { Since = since }, AllPages)
            .WaitAsync(ct).ConfigureAwait(false);
        var wanted = NormalizeNewlines(body);
        return comments.Any(c => c.CreatedAt >= since
            && NormalizeNewlines(c.Body ?? "") == wanted
            && (login is null || string.Equals(c.User?.Login, login, StringComparison.OrdinalIgnoreCase)));
    }

    /// <summary>
    /// Our login, for telling our comments from others': a GitHub App's is its bot,
    /// <c>&lt;slug&gt;[bot]</c> (installation tokens cannot read /user). A token we cannot read
    /// /user with: we match on the body alone, which within the look-back window is still sound.
    /// </summary>
    public async Task<string?> GetOwnLoginAsync(CancellationToken ct)
    {
        if (_loginKnown) return _login;
        try
        {
            _login = _app is not null
                ? await _app.GetBotLoginAsync(ct).ConfigureAwait(false)
                : (await _client.User.Current().WaitAsync(ct).ConfigureAwait(false)).Login;
        }
        catch (ApiException e) when (e.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound or HttpStatusCode.Unauthorized)
        {
            _login = null;
        }
        _loginKnown = true;
        return _login;
    }

    // GitHub keeps one reaction per user and content (a repeat answers 200), so a retry is harmless.
    public Task AddReactionAsync(RepoId repo, long commentId, string content, CancellationToken ct)
    {
        var reaction = OctokitMapping.Reaction(content);
        return _runner.RunAsync("add-reaction", a =>
            _client.Reaction.IssueComment.Create(repo.Owner, repo.Name, commentId, new NewReaction(reaction)).WaitAsync(a.CancellationToken), ct);
    }

    public Task ClosePullRequestAsync(RepoId repo, int number, CancellationToken ct) =>
        _runner.RunAsync("close-pull-request", a =>
            _client.PullRequest.Update(repo.Owner, repo.Name, number, new PullRequestUpdate { State = ItemState.Closed }).WaitAsync(a.CancellationToken), ct);

    private static string HeadsPath(string branch) => "heads/" + string.Join('/', branch.Split('/').Select(Escape));

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private static string NormalizeNewlines(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);
}

/// <summary>One entry of GET /repos/{o}/{r}/activity, as far as the queue reads it (Octokit has no type for it).</summary>
internal sealed class RepositoryActivity
{
    public string? After { get; set; }
    public DateTimeOffset? Timestamp { get; set; }
}
