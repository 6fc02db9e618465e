using MergeQueue.Core;
using MergeQueue.Core.Ports;
using Octokit;
using CorePermission = MergeQueue.Core.Ports.Permission;

namespace MergeQueue.GitHub.Tests.Simulator;

/// <summary>Every port method against the simulator's real git and REST API.</summary>
public sealed class OctokitGitHubTests : SimulatorTest
{
    [Test]
    public async Task GetPullRequest_OpenPr_MapsWhatGitHubShows()
    {
        await Control.CreateUserAsync("alice");
        var opened = await Control.OpenPullRequestWithFilesAsync(RepoName, "feature", new Dictionary<string, string?> { ["new.txt"] = "x\n" }, "Add new", author: "alice");
        await Control.AddLabelsAsync(RepoName, opened.Number, ["priority"]);

        var pr = await GitHub.GetPullRequestAsync(Repo, opened.Number, None);

        pr.Should().BeEquivalentTo(new PullRequestInfo(opened.Number, "Add new", "alice", new CommitSha(opened.HeadSha), "feature", "main",
            Open: true, Merged: false, Draft: false, ["priority"])
        {
            ChangedLines = 1,
        });
        (await GitHub.GetPullRequestAsync(Repo, 999, None)).Should().BeNull();
    }

    [Test]
    public async Task GetPullRequestCommits_TwoCommits_ListsThemOldestFirstWithTheirMessages()
    {
        await Control.CreateUserAsync("alice");
        var opened = await Control.OpenPullRequestWithFilesAsync(RepoName, "feature", new Dictionary<string, string?> { ["a.txt"] = "1\n2\n" }, "feat: first", author: "alice");
        var second = await Control.PushToPullRequestAsync(RepoName, opened.Number, new Dictionary<string, string?> { ["a.txt"] = "1\n" }, "fix: second");

        var commits = await GitHub.GetPullRequestCommitsAsync(Repo, opened.Number, None);
        var pr = await GitHub.GetPullRequestAsync(Repo, opened.Number, None);

        commits.Select(c => (c.Sha.Value, c.Message)).Should().Equal((opened.HeadSha, "feat: first"), (second.Sha, "fix: second"));
        commits[1].Parents.Should().Equal(new CommitSha(opened.HeadSha));
        pr!.ChangedLines.Should().Be(1, "one line added in all (git diff --numstat base...head)");
    }

    [Test]
    public async Task GetPullRequestCommits_MoreThanGitHubLists_ReadsAllOfThemThroughCompare()
    {
        const int count = OctokitGitHub.PullCommitsListLimit + 12;
        await Control.CreateUserAsync("alice");
        var opened = await Control.OpenPullRequestWithFilesAsync(RepoName, "long", new Dictionary<string, string?> { ["n.txt"] = "0\n" }, "commit 0", author: "alice");
        // Commits made with the git data API (quick), then one push of the branch.
        var tree = (await Octokit.Git.Commit.Get(Owner, Repo.Name, opened.HeadSha)).Tree.Sha;
        var head = opened.HeadSha;
        for (var i = 1; i < count; i++)
            head = (await Octokit.Git.Commit.Create(Owner, Repo.Name, new NewCommit($"commit {i}", tree, head))).Sha;
        await Octokit.Git.Reference.Update(Owner, Repo.Name, "heads/long", new ReferenceUpdate(head));

        var commits = await GitHub.GetPullRequestCommitsAsync(Repo, opened.Number, None);

        commits.Select(c => c.Message).Should().Equal(Enumerable.Range(0, count).Select(i => $"commit {i}"));
        (await Octokit.PullRequest.Commits(Owner, Repo.Name, opened.Number)).Should().HaveCount(OctokitGitHub.PullCommitsListLimit, "the list stops there, as GitHub's does");
    }

    [Test]
    public async Task GetOpenPullRequests_ListsOpenOnes_NotClosed()
    {
        await Control.CreateUserAsync("alice");
        var open = await Control.OpenPullRequestWithFilesAsync(RepoName, "open", new Dictionary<string, string?> { ["o.txt"] = "o\n" }, "Open", author: "alice");
        var closed = await Control.OpenPullRequestWithFilesAsync(RepoName, "closed", new Dictionary<string, string?> { ["c.txt"] = "c\n" }, "Closed", author: "alice");
        await Control.ClosePullRequestAsync(RepoName, closed.Number);

        var prs = await GitHub.GetOpenPullRequestsAsync(Repo, None);

        prs.Select(p => (p.Number, p.HeadSha.Value, p.Open)).Should().Equal((open.Number, open.HeadSha, true));
    }

    [Test]
    public async Task GetBranches_EveryBranchWithItsHead_InOneCall()
    {
        var feature = await BranchWith("mergequeue/staging/main/7", new Dictionary<string, string?> { ["s.txt"] = "s\n" });

        await Control.ClearApiCallsAsync();

        var branches = await GitHub.GetBranchesAsync(Repo, None);

        (await Control.ApiCallsAsync()).Should().ContainSingle();
        branches.Should().BeEquivalentTo(new Dictionary<string, CommitSha> { ["main"] = new(MainSha), ["mergequeue/staging/main/7"] = feature });
    }

    [Test]
    public async Task GetReviews_ListsSubmittedReviewsOldestFirst_WithTheirCommit()
    {
        await Control.CreateUserAsync("alice");
        await Control.CreateUserAsync("bob");
        var pr = await Control.OpenPullRequestWithFilesAsync(RepoName, "feature", new Dictionary<string, string?> { ["new.txt"] = "x\n" });
        await Control.ReviewAsync(RepoName, pr.Number, "alice", "CHANGES_REQUESTED");
        await Control.ReviewAsync(RepoName, pr.Number, "bob", "COMMENTED");
        await Control.ReviewAsync(RepoName, pr.Number, "alice", "APPROVED");

        var reviews = await GitHub.GetReviewsAsync(Repo, pr.Number, None);

        reviews.Select(r => (r.Author, r.State, r.CommitSha.Value)).Should().Equal(
            ("alice", ReviewState.ChangesRequested, pr.HeadSha),
            ("bob", ReviewState.Commented, pr.HeadSha),
            ("alice", ReviewState.Approved, pr.HeadSha));
    }

    [Test]
    public async Task GetChecks_LatestStatusPerContext_AndLatestCheckRunPerName()
    {
        var sha = new CommitSha(MainSha);
        await GitHub.SetStatusAsync(Repo, sha, "ci/build", StatusState.Pending, "building", null, None);
        await GitHub.SetStatusAsync(Repo, sha, "ci/build", StatusState.Success, "built", "https://ci.example/1", None);
        await GitHub.SetStatusAsync(Repo, sha, "ci/lint", StatusState.Error, "crashed", null, None);
        await Octokit.Check.Run.Create(Owner, Repo.Name, new NewCheckRun("tests", MainSha) { Status = CheckStatus.InProgress });
        await Octokit.Check.Run.Create(Owner, Repo.Name, new NewCheckRun("docs", MainSha) { Status = CheckStatus.Completed, Conclusion = CheckConclusion.Failure });
        await Octokit.Check.Run.Create(Owner, Repo.Name, new NewCheckRun("docs", MainSha) { Status = CheckStatus.Completed, Conclusion = CheckConclusion.Neutral });

        var checks = await GitHub.GetChecksAsync(Repo, sha, None);

        checks.Select(c => (c.Context, c.State)).Should().BeEquivalentTo(new[]
        {
            ("ci/build", CheckState.Success),
            ("ci/lint", CheckState.Failure),
            ("tests", CheckState.Pending),
            ("docs", CheckState.Success),
        });
        checks.Single(c => c.Context == "ci/build").TargetUrl.Should().Be("https://ci.example/1");
    }

    [Test]
    public async Task GetChecks_MoreContextsThanOnePage_ReadsThemAll()
    {
        var sha = new CommitSha(MainSha);
        for (var i = 0; i < 105; i++)
            await Octokit.Repository.Status.Create(Owner, Repo.Name, MainSha, new NewCommitStatus { State = CommitState.Success, Context = $"ctx-{i:D3}" });

        var checks = await GitHub.GetChecksAsync(Repo, sha, None);

        checks.Should().HaveCount(105);
    }

    [Test]
    public async Task GetPermission_MapsRoles_AndStrangersHaveNone()
    {
        await Control.CreateUserAsync("alice");
        await Control.CreateUserAsync("tina");
        await Control.SetPermissionAsync(RepoName, "alice", "write");
        await Control.SetPermissionAsync(RepoName, "tina", "triage");

        (await GitHub.GetPermissionAsync(Repo, "alice", None)).Should().Be(CorePermission.Write);
        (await GitHub.GetPermissionAsync(Repo, "tina", None)).Should().Be(CorePermission.Triage);
        (await GitHub.GetPermissionAsync(Repo, Owner, None)).Should().Be(CorePermission.Admin);
        (await GitHub.GetPermissionAsync(Repo, "nobody-at-all", None)).Should().Be(CorePermission.None);
    }

    [Test]
    public async Task GetPushedAt_IsTheLatestMoveOfTheBranchToTheCommit_AndNullForOthers()
    {
        var first = await Control.CommitAsync(RepoName, "feature", new Dictionary<string, string?> { ["a.txt"] = "1" }, "one", createBranch: true);
        var moves = await Control.BranchMovesAsync(RepoName, "feature");

        var pushedAt = await GitHub.GetPushedAtAsync(Repo, "feature", new CommitSha(first.Sha), None);

        pushedAt.Should().Be(new DateTimeOffset(moves.Single().Time.UtcDateTime.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero));
        (await GitHub.GetPushedAtAsync(Repo, "main", new CommitSha(first.Sha), None)).Should().BeNull();
    }

    [Test]
    public async Task GetFile_DecodesTheFile_AndMissingOrDirectoryIsNull()
    {
        (await GitHub.GetFileAsync(Repo, ".github/mergequeue.yml", "main", None)).Should().Be("required_approvals: 1\n");
        (await GitHub.GetFileAsync(Repo, ".github/missing.yml", "main", None)).Should().BeNull();
        (await GitHub.GetFileAsync(Repo, "src", "main", None)).Should().BeNull();
    }

    [Test]
    public async Task GetDefaultBranch_IsMain() =>
        (await GitHub.GetDefaultBranchAsync(Repo, None)).Should().Be("main");

    [Test]
    public async Task ResetBranch_CreatesThenForceMoves()
    {
        var feature = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });

        await GitHub.ResetBranchAsync(Repo, "mergequeue/tmp/main/1", new CommitSha(MainSha), None);
        (await GitHub.GetBranchAsync(Repo, "mergequeue/tmp/main/1", None)).Should().Be(new CommitSha(MainSha));

        await GitHub.ResetBranchAsync(Repo, "mergequeue/tmp/main/1", feature, None);
        (await Control.BranchShaAsync(RepoName, "mergequeue/tmp/main/1")).Should().Be(feature.Value);

        // Backwards is not a fast-forward: only a forced update can do it.
        await GitHub.ResetBranchAsync(Repo, "mergequeue/tmp/main/1", new CommitSha(MainSha), None);
        (await Control.BranchShaAsync(RepoName, "mergequeue/tmp/main/1")).Should().Be(MainSha);
    }

    [Test]
    public async Task FastForward_MovesOnlyForward()
    {
        var ahead = await BranchWith("ahead", new Dictionary<string, string?> { ["a.txt"] = "a\n" });
        var sideways = await BranchWith("sideways", new Dictionary<string, string?> { ["b.txt"] = "b\n" });

        (await GitHub.FastForwardAsync(Repo, "main", ahead, None)).Should().BeTrue();
        (await GitHub.FastForwardAsync(Repo, "main", ahead, None)).Should().BeTrue("already there is success");
        (await GitHub.FastForwardAsync(Repo, "main", sideways, None)).Should().BeFalse();

        (await Control.BranchShaAsync(RepoName, "main")).Should().Be(ahead.Value);
        (await CallsTo("PATCH", "/git/refs/heads/main")).Should().Be(3, "a refused fast-forward is an answer, not retried");
    }

    [Test]
    public async Task DeleteBranch_DeletesAndAMissingBranchIsFine()
    {
        await BranchWith("mergequeue/staging/main/1", new Dictionary<string, string?> { ["s.txt"] = "s\n" });

        await GitHub.DeleteBranchAsync(Repo, "mergequeue/staging/main/1", None);
        await GitHub.DeleteBranchAsync(Repo, "mergequeue/staging/main/1", None);
        await GitHub.DeleteBranchAsync(Repo, "never-existed", None);

        (await GitHub.GetBranchAsync(Repo, "mergequeue/staging/main/1", None)).Should().BeNull();
        GitHub.Metrics.Retries.Should().Be(0);
    }

    [Test]
    public async Task Merge_Clean_MakesAMergeCommitOfTheBranchAndTheHead()
    {
        var head = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        await GitHub.ResetBranchAsync(Repo, "mergequeue/tmp/main/1", new CommitSha(MainSha), None);

        var result = await GitHub.MergeAsync(Repo, "mergequeue/tmp/main/1", head, "Merge #1", None);

        var merged = result.Should().BeOfType<MergeResult.Merged>().Subject;
        var commit = await GitHub.GetCommitAsync(Repo, merged.Sha, None);
        commit.Parents.Should().Equal(new CommitSha(MainSha), head);
        commit.Message.Should().StartWith("Merge #1");
        (await GitHub.GetBranchAsync(Repo, "mergequeue/tmp/main/1", None)).Should().Be(merged.Sha);
    }

    [Test]
    public async Task Merge_Conflicting_IsAConflict_AndNotRetried()
    {
        var head = await BranchWith("left", new Dictionary<string, string?> { ["src/shared.txt"] = "one\nLEFT\nthree\n" });
        await BranchWith("right", new Dictionary<string, string?> { ["src/shared.txt"] = "one\nRIGHT\nthree\n" });

        var result = await GitHub.MergeAsync(Repo, "right", head, "Merge left", None);

        result.Should().BeOfType<MergeResult.Conflict>();
        (await CallsTo("POST", "/merges")).Should().Be(1);
    }

    [Test]
    public async Task Merge_HeadAlreadyContained_IsNothingToMerge()
    {
        var head = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });

        var result = await GitHub.MergeAsync(Repo, "feature", new CommitSha(MainSha), "Merge main", None);

        result.Should().BeOfType<MergeResult.NothingToMerge>();
        (await Control.BranchShaAsync(RepoName, "feature")).Should().Be(head.Value);
    }

    [Test]
    public async Task CreateCommit_ThenGetCommit_RoundTrips()
    {
        var main = await GitHub.GetCommitAsync(Repo, new CommitSha(MainSha), None);
        var feature = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });

        var squash = await GitHub.CreateCommitAsync(Repo, (await GitHub.GetCommitAsync(Repo, feature, None)).TreeSha, [new CommitSha(MainSha)], "Squash feature", None);

        var read = await GitHub.GetCommitAsync(Repo, squash, None);
        read.Parents.Should().Equal(new CommitSha(MainSha));
        read.Message.Should().StartWith("Squash feature");
        read.TreeSha.Should().NotBe(main.TreeSha);
    }

    [Test]
    public async Task SetStatus_LongDescription_IsCutTo140Characters()
    {
        await GitHub.SetStatusAsync(Repo, new CommitSha(MainSha), "mergequeue", StatusState.Pending, new string('x', 300), "https://mq.example/pr/1", None);

        var checks = await Control.ChecksAsync(RepoName, MainSha);
        var status = checks.Statuses.Should().ContainSingle().Subject;
        status.Description!.Length.Should().Be(140);
        status.State.Should().Be("pending");
        status.TargetUrl.Should().Be("https://mq.example/pr/1");
    }

    [Test]
    public async Task Comment_AndClose_ActOnThePullRequest()
    {
        var pr = await Control.OpenPullRequestWithFilesAsync(RepoName, "feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });

        await GitHub.CommentAsync(Repo, pr.Number, "Queued at position 1.", None);
        await GitHub.ClosePullRequestAsync(Repo, pr.Number, None);

        (await Control.CommentsAsync(RepoName, pr.Number)).Should().ContainSingle()
            .Which.Should().Match<MergeQueue.Simulator.Control.CommentInfo>(c => c.User == Bot && c.Body == "Queued at position 1.");
        (await GitHub.GetPullRequestAsync(Repo, pr.Number, None))!.Open.Should().BeFalse();
    }

    [TestCase("+1")]
    [TestCase("confused")]
    public async Task AddReaction_ReactsToTheComment_OnceEvenIfRepeated(string content)
    {
        await Control.CreateUserAsync("alice");
        var pr = await Control.OpenPullRequestWithFilesAsync(RepoName, "feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        var comment = await Control.CommentAsync(RepoName, pr.Number, "alice", "@mergequeue merge");

        await GitHub.AddReactionAsync(Repo, comment.Id, content, None);
        await GitHub.AddReactionAsync(Repo, comment.Id, content, None);

        (await Control.CommentsAsync(RepoName, pr.Number)).Single().Reactions
            .Should().ContainSingle().Which.Should().Match<MergeQueue.Simulator.Control.ReactionInfo>(r => r.User == Bot && r.Content == content);
    }

    [Test]
    public async Task PublicConstructor_ConnectsThroughTheApiV3Root()
    {
        var gitHub = new OctokitGitHub(Sim.BaseUrl, BotToken, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        (await gitHub.GetBranchAsync(Repo, "main", None)).Should().Be(new CommitSha(MainSha));
    }
}
