using System.Net;
using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>The real Octokit GitHubClient against the simulator, for every call the service will make.</summary>
[CancelAfter(30_000)]
public class OctokitRestTests : SimulatorTestBase
{
    [Test]
    public async Task Repository_Get_ReturnsDefaultBranch()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var r = await Bot.Repository.Get(o, n);
        r.FullName.Should().Be(repo);
        r.DefaultBranch.Should().Be("main");
    }

    [Test]
    public async Task PullRequests_GetAndList_ShowHeadBaseDraftAndMergeable()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var opened = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a.txt", "a\n")), "Add a", author: "alice");
        await Control.OpenPullRequestWithFilesAsync(repo, "other", Files(("b.txt", "b\n")), "Add b", author: "bob");

        var pr = await Bot.PullRequest.Get(o, n, opened.Number);
        pr.Head.Ref.Should().Be("feature");
        pr.Head.Sha.Should().Be(opened.HeadSha);
        pr.Base.Ref.Should().Be("main");
        pr.Base.Sha.Should().Be(await Control.BranchShaAsync(repo, "main"));
        pr.Draft.Should().BeFalse();
        pr.State.Value.Should().Be(ItemState.Open);
        pr.Merged.Should().BeFalse();
        pr.Mergeable.Should().BeTrue();
        pr.User.Login.Should().Be("alice");

        var all = await Bot.PullRequest.GetAllForRepository(o, n);
        all.Select(p => p.Number).Should().BeEquivalentTo([1, 2]);
    }

    [Test]
    public async Task PullRequest_ConflictingWithBase_IsNotMergeable()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("README.md", "feature\n")));
        await Control.CommitAsync(repo, "main", Files(("README.md", "main\n")));
        (await Bot.PullRequest.Get(o, n, pr.Number)).Mergeable.Should().BeFalse();
    }

    [Test]
    public async Task Reviews_AndCommits_AreListed()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a.txt", "1")), author: "alice");
        await Control.PushToPullRequestAsync(repo, pr.Number, Files(("a.txt", "2")), "second");
        await Control.ReviewAsync(repo, pr.Number, "bob", "CHANGES_REQUESTED");
        await Control.ReviewAsync(repo, pr.Number, "carol", "APPROVED");

        var reviews = await Bot.PullRequest.Review.GetAll(o, n, pr.Number);
        reviews.Select(r => (r.User.Login, r.State.Value)).Should().Equal(("bob", PullRequestReviewState.ChangesRequested), ("carol", PullRequestReviewState.Approved));
        reviews[1].CommitId.Should().Be((await Control.GetPullRequestAsync(repo, pr.Number)).HeadSha);

        var commits = await Bot.PullRequest.Commits(o, n, pr.Number);
        commits.Select(c => c.Commit.Message).Should().Equal("Change feature", "second");
    }

    [Test]
    public async Task PullRequest_Close_ClosesWithoutMerging()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a.txt", "1")));
        var closed = await Bot.PullRequest.Update(o, n, pr.Number, new PullRequestUpdate { State = ItemState.Closed });
        closed.State.Value.Should().Be(ItemState.Closed);
        closed.Merged.Should().BeFalse();
    }

    [TestCase(PullRequestMergeMethod.Merge, 2)]
    [TestCase(PullRequestMergeMethod.Squash, 1)]
    [TestCase(PullRequestMergeMethod.Rebase, 1)]
    public async Task PullRequest_Merge_MovesBaseAndMarksMerged(PullRequestMergeMethod method, int parents)
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a.txt", "1")));
        await Control.CommitAsync(repo, "main", Files(("b.txt", "main moved")));

        var merged = await Bot.PullRequest.Merge(o, n, pr.Number, new MergePullRequest { Sha = pr.HeadSha, MergeMethod = method });

        merged.Merged.Should().BeTrue();
        (await Control.BranchShaAsync(repo, "main")).Should().Be(merged.Sha);
        var commit = await Bot.Git.Commit.Get(o, n, merged.Sha);
        commit.Parents.Should().HaveCount(parents);
        var tree = await Bot.Git.Tree.Get(o, n, commit.Tree.Sha);
        tree.Tree.Select(e => e.Path).Should().BeEquivalentTo(["README.md", "a.txt", "b.txt"]);
        var after = await Bot.PullRequest.Get(o, n, pr.Number);
        after.Merged.Should().BeTrue();
        after.State.Value.Should().Be(ItemState.Closed);
    }

    [Test]
    public async Task PullRequest_MergeWithStaleSha_Is409()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a.txt", "1")));
        await Control.PushToPullRequestAsync(repo, pr.Number, Files(("a.txt", "2")));

        var act = () => Bot.PullRequest.Merge(o, n, pr.Number, new MergePullRequest { Sha = pr.HeadSha });

        (await act.Should().ThrowAsync<PullRequestMismatchException>()).Which.StatusCode.Should().Be(HttpStatusCode.Conflict);
    }

    [Test]
    public async Task CollaboratorPermission_ReflectsRole()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.CreateUserAsync("writer");
        await Control.SetPermissionAsync(repo, "writer", "write");
        await Control.CreateUserAsync("outsider");

        (await Bot.Repository.Collaborator.ReviewPermission(o, n, "writer")).Permission.Should().Be("write");
        (await Bot.Repository.Collaborator.ReviewPermission(o, n, "acme")).Permission.Should().Be("admin");
        (await Bot.Repository.Collaborator.ReviewPermission(o, n, "outsider")).Permission.Should().Be("read");
    }

    [Test]
    public async Task References_GetCreateUpdateDelete()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var main = await Bot.Git.Reference.Get(o, n, "heads/main");
        main.Ref.Should().Be("refs/heads/main");

        var created = await Bot.Git.Reference.Create(o, n, new NewReference("refs/heads/mergequeue/tmp/main/1", main.Object.Sha));
        created.Object.Sha.Should().Be(main.Object.Sha);
        (await Bot.Git.Reference.GetAllForSubNamespace(o, n, "heads/mergequeue")).Select(r => r.Ref).Should().Equal("refs/heads/mergequeue/tmp/main/1");

        var ahead = await Control.CommitAsync(repo, "side", Files(("s.txt", "s")), parent: main.Object.Sha);
        var ff = await Bot.Git.Reference.Update(o, n, "heads/mergequeue/tmp/main/1", new ReferenceUpdate(ahead.Sha));
        ff.Object.Sha.Should().Be(ahead.Sha);

        var notFf = () => Bot.Git.Reference.Update(o, n, "heads/mergequeue/tmp/main/1", new ReferenceUpdate(main.Object.Sha));
        (await notFf.Should().ThrowAsync<ApiValidationException>()).Which.Message.Should().Be("Update is not a fast forward");

        var forced = await Bot.Git.Reference.Update(o, n, "heads/mergequeue/tmp/main/1", new ReferenceUpdate(main.Object.Sha, force: true));
        forced.Object.Sha.Should().Be(main.Object.Sha);
        (await Control.BranchMovesAsync(repo, "mergequeue/tmp/main/1")).Select(m => m.Forced).Should().Equal(false, false, true);

        await Bot.Git.Reference.Delete(o, n, "heads/mergequeue/tmp/main/1");
        await FluentActions.Awaiting(() => Bot.Git.Reference.Get(o, n, "heads/mergequeue/tmp/main/1")).Should().ThrowAsync<NotFoundException>();
    }

    [Test]
    public async Task References_CreateExisting_Is422()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var sha = (await Bot.Git.Reference.Get(o, n, "heads/main")).Object.Sha;
        var act = () => Bot.Git.Reference.Create(o, n, new NewReference("refs/heads/main", sha));
        (await act.Should().ThrowAsync<ApiValidationException>()).Which.Message.Should().Be("Reference already exists");
    }

    [Test]
    public async Task Commits_CreateAndGet_WithTreeAndParents()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var main = await Bot.Repository.Commit.Get(o, n, "main");
        var created = await Bot.Git.Commit.Create(o, n, new NewCommit("squashed", main.Commit.Tree.Sha, [main.Sha]));
        created.Message.Should().Be("squashed");
        var read = await Bot.Git.Commit.Get(o, n, created.Sha);
        read.Parents.Select(p => p.Sha).Should().Equal(main.Sha);
        read.Tree.Sha.Should().Be(main.Commit.Tree.Sha);
        (await Bot.Repository.Commit.Get(o, n, created.Sha)).Sha.Should().Be(created.Sha);
    }

    [Test]
    public async Task Tree_Recursive_ListsNestedFiles()
    {
        var repo = await NewRepoAsync(new Dictionary<string, string> { ["src/a/b.txt"] = "x", ["top.txt"] = "y" });
        var (o, n) = Split(repo);
        var tree = await Bot.Git.Tree.GetRecursive(o, n, "main");
        tree.Tree.Where(t => t.Type.Value == TreeType.Blob).Select(t => t.Path).Should().BeEquivalentTo(["src/a/b.txt", "top.txt"]);
    }

    [Test]
    public async Task Compare_ReportsAheadBehindAndCommits()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.CommitAsync(repo, "feature", Files(("a", "1")));
        await Control.CommitAsync(repo, "feature", Files(("a", "2")));
        await Control.CommitAsync(repo, "main", Files(("m", "1")));
        var compare = await Bot.Repository.Commit.Compare(o, n, "main", "feature");
        compare.Status.Should().Be("diverged");
        compare.AheadBy.Should().Be(2);
        compare.BehindBy.Should().Be(1);
        compare.Commits.Should().HaveCount(2);
        (await Bot.Repository.Commit.Compare(o, n, "main", "main")).Status.Should().Be("identical");
    }

    [Test]
    public async Task Merges_CreatesCommit_NothingToMerge_Conflict_Missing()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.CommitAsync(repo, "clean", Files(("a", "1")));
        await Control.CommitAsync(repo, "conflict", Files(("README.md", "theirs\n")));
        await Control.CommitAsync(repo, "main", Files(("README.md", "ours\n")));

        var merge = await Bot.Repository.Merging.Create(o, n, new NewMerge("main", "clean"));
        merge.Parents.Should().HaveCount(2);
        (await Control.BranchShaAsync(repo, "main")).Should().Be(merge.Sha);

        using var http = RawClient();
        (await http.PostAsync($"repos/{repo}/merges", Json("""{"base":"main","head":"clean"}"""))).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await http.PostAsync($"repos/{repo}/merges", Json("""{"base":"main","head":"conflict"}"""))).StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await http.PostAsync($"repos/{repo}/merges", Json("""{"base":"main","head":"nope"}"""))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await http.PostAsync($"repos/{repo}/merges", Json("""{"base":"nope","head":"clean"}"""))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        var conflict = () => Bot.Repository.Merging.Create(o, n, new NewMerge("main", "conflict"));
        (await conflict.Should().ThrowAsync<ApiException>()).Which.StatusCode.Should().Be(HttpStatusCode.Conflict);
    }

    [Test]
    public async Task Statuses_CreateListCombined()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var sha = (await Control.BranchShaAsync(repo, "main"))!;
        await Bot.Repository.Status.Create(o, n, sha, new NewCommitStatus { State = CommitState.Pending, Context = "mergequeue", Description = "queued" });
        await Bot.Repository.Status.Create(o, n, sha, new NewCommitStatus { State = CommitState.Success, Context = "mergequeue", Description = "merged" });
        await Bot.Repository.Status.Create(o, n, sha, new NewCommitStatus { State = CommitState.Success, Context = "ci" });

        var all = await Bot.Repository.Status.GetAll(o, n, sha);
        all.Select(s => s.Context).Should().Equal("ci", "mergequeue", "mergequeue");
        var combined = await Bot.Repository.Status.GetCombined(o, n, "main");
        combined.State.Value.Should().Be(CommitState.Success);
        combined.TotalCount.Should().Be(2);
        combined.Sha.Should().Be(sha);

        var tooLong = () => Bot.Repository.Status.Create(o, n, sha, new NewCommitStatus { State = CommitState.Pending, Description = new string('x', 141) });
        await tooLong.Should().ThrowAsync<ApiValidationException>();
    }

    [Test]
    public async Task CheckRuns_CreateUpdateList()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var sha = (await Control.BranchShaAsync(repo, "main"))!;
        var run = await Bot.Check.Run.Create(o, n, new NewCheckRun("build", sha) { Status = CheckStatus.InProgress });
        run.Status.Value.Should().Be(CheckStatus.InProgress);
        var done = await Bot.Check.Run.Update(o, n, run.Id, new CheckRunUpdate { Conclusion = CheckConclusion.Success });
        done.Status.Value.Should().Be(CheckStatus.Completed);
        var list = await Bot.Check.Run.GetAllForReference(o, n, "main");
        list.TotalCount.Should().Be(1);
        list.CheckRuns[0].Conclusion!.Value.Value.Should().Be(CheckConclusion.Success);
    }

    [Test]
    public async Task Contents_ReturnsBase64FileAtRef()
    {
        var repo = await NewRepoAsync(new Dictionary<string, string> { [".github/mergequeue.yml"] = "required_approvals: 2\n" });
        var (o, n) = Split(repo);
        var files = await Bot.Repository.Content.GetAllContentsByRef(o, n, ".github/mergequeue.yml", "main");
        files.Should().ContainSingle().Which.Content.Should().Be("required_approvals: 2\n");
        var raw = await Bot.Repository.Content.GetRawContentByRef(o, n, ".github/mergequeue.yml", "main");
        System.Text.Encoding.UTF8.GetString(raw).Should().Be("required_approvals: 2\n");
        await FluentActions.Awaiting(() => Bot.Repository.Content.GetAllContentsByRef(o, n, "missing.yml", "main")).Should().ThrowAsync<NotFoundException>();
    }

    [Test]
    public async Task Comments_CreateListEditDelete_AndReactions()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        var c = await Bot.Issue.Comment.Create(o, n, pr.Number, "hello");
        (await Bot.Issue.Comment.GetAllForIssue(o, n, pr.Number)).Select(x => x.Body).Should().Equal("hello");
        (await Bot.Issue.Comment.Update(o, n, c.Id, "edited")).Body.Should().Be("edited");

        var human = await Control.CommentAsync(repo, pr.Number, "alice", "@mergequeue merge");
        await Bot.Reaction.IssueComment.Create(o, n, human.Id, new NewReaction(ReactionType.Plus1));
        (await Bot.Reaction.IssueComment.GetAll(o, n, human.Id)).Select(r => r.Content.Value).Should().Equal(ReactionType.Plus1);
        (await Control.CommentsAsync(repo, pr.Number)).Single(x => x.Id == human.Id).Reactions.Select(r => r.Content).Should().Equal("+1");

        await Bot.Issue.Comment.Delete(o, n, c.Id);
        (await Bot.Issue.Comment.GetAllForIssue(o, n, pr.Number)).Select(x => x.Id).Should().Equal(human.Id);
    }

    [Test]
    public async Task Labels_AddRemoveList_AndIssueGet()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        (await Bot.Issue.Labels.AddToIssue(o, n, pr.Number, ["do-not-merge", "ready"])).Select(l => l.Name).Should().Equal("do-not-merge", "ready");
        await Bot.Issue.Labels.RemoveFromIssue(o, n, pr.Number, "do-not-merge");
        (await Bot.Issue.Labels.GetAllForIssue(o, n, pr.Number)).Select(l => l.Name).Should().Equal("ready");
        var issue = await Bot.Issue.Get(o, n, pr.Number);
        issue.Number.Should().Be(pr.Number);
        issue.PullRequest.Should().NotBeNull();
    }

    [Test]
    public async Task ApiV3Prefix_AndRootPath_ServeTheSameApi_WithRateLimitHeaders()
    {
        var repo = await NewRepoAsync();
        using var http = RawClient();
        var root = await http.GetAsync(new Uri(Sim.BaseUrl, $"repos/{repo}"));
        var v3 = await http.GetAsync(new Uri(Sim.BaseUrl, $"api/v3/repos/{repo}"));
        root.StatusCode.Should().Be(HttpStatusCode.OK);
        v3.StatusCode.Should().Be(HttpStatusCode.OK);
        foreach (var h in new[] { "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used", "x-ratelimit-resource" })
            v3.Headers.Contains(h).Should().BeTrue(h);
        var info = Bot.GetLastApiInfo();
        info.Should().NotBeNull();
    }

    [Test]
    public async Task Auth_MissingOrBadToken_Is401()
    {
        var repo = await NewRepoAsync();
        using var anonymous = new HttpClient { BaseAddress = Sim.BaseUrl };
        var none = await anonymous.GetAsync($"repos/{repo}");
        none.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await none.Content.ReadAsStringAsync()).Should().Contain("Requires authentication");
        var bad = () => Octokit("nope").Repository.Get(Split(repo).Owner, Split(repo).Name);
        (await bad.Should().ThrowAsync<AuthorizationException>()).Which.Message.Should().Be("Bad credentials");
    }

    [Test]
    public async Task ApiCalls_AreRecordedWithUserAndStatus()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var before = (await Control.ApiCallsAsync()).Select(c => c.Sequence).DefaultIfEmpty().Max();
        await Bot.Repository.Get(o, n);
        var calls = await Control.ApiCallsAsync(before);
        calls.Should().Contain(c => c.Method == "GET" && c.Path == $"/repos/{repo}" && c.Status == 200 && c.User == "mergequeue[bot]");
    }

    private HttpClient RawClient()
    {
        var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("token", BotToken);
        return http;
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
