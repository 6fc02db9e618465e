using System.Text.Json.Nodes;
using Octokit;
using Octokit.Internal;

namespace MergeQueue.Simulator.Tests;

/// <summary>
/// Octokit reads every REST object the simulator builds: each builder's output goes through Octokit's
/// own deserializer, and the fields the service relies on come back with their values.
/// </summary>
public class RestShapeTests
{
    // NUnit shares one fixture instance between tests; each test gets its own model.
    private GitHubJsonSamples s = null!;

    [SetUp]
    public void NewModel() => s = new GitHubJsonSamples();

    private static T Read<T>(JsonObject json) => new SimpleJsonSerializer().Deserialize<T>(json.ToJsonString());

    [Test]
    public void PullRequest_ReadByOctokit_KeepsHeadBaseDraftMergedAndMergeable()
    {
        s.Pr.Draft = true;

        var pr = Read<PullRequest>(s.Json.PullRequest(s.Repo, s.Pr, mergeable: true, s.Stats));

        pr.Number.Should().Be(7);
        pr.Id.Should().Be(9001);
        pr.Head.Sha.Should().Be(s.HeadCommit.Sha);
        pr.Head.Ref.Should().Be("feature/widget");
        pr.Base.Ref.Should().Be("main");
        pr.Base.Sha.Should().Be(s.BaseCommit.Sha);
        pr.Base.Repository.FullName.Should().Be("octo-owner/widgets");
        pr.Draft.Should().BeTrue();
        pr.Merged.Should().BeFalse();
        pr.Mergeable.Should().BeTrue();
        pr.MergeableState!.Value.Value.Should().Be(MergeableState.Draft);
        pr.State.Value.Should().Be(ItemState.Open);
        pr.User.Login.Should().Be("alice");
        pr.Labels.Select(l => l.Name).Should().Equal("ready");
        pr.Assignees.Select(a => a.Login).Should().Equal("alice");
        pr.RequestedReviewers.Select(r => r.Login).Should().Equal("bob");
        pr.Milestone.Title.Should().Be("v1.0");
        pr.Commits.Should().Be(1);
        pr.ChangedFiles.Should().Be(2);
        pr.CreatedAt.Should().Be(s.Pr.CreatedAt);
        pr.Url.Should().Be("http://127.0.0.1:5123/api/v3/repos/octo-owner/widgets/pulls/7");
    }

    [Test]
    public void PullRequest_Merged_ReadByOctokitAsMergedAndClosed()
    {
        s.MergePr();

        var pr = Read<PullRequest>(s.Json.PullRequest(s.Repo, s.Pr, mergeable: null));

        pr.Merged.Should().BeTrue();
        pr.State.Value.Should().Be(ItemState.Closed);
        pr.MergedBy.Login.Should().Be("mergequeue[bot]");
        pr.MergeCommitSha.Should().Be(s.Pr.MergeCommitSha);
        pr.MergedAt.Should().NotBeNull();
        pr.Mergeable.Should().BeNull();
    }

    [TestCase("APPROVED", PullRequestReviewState.Approved)]
    [TestCase("CHANGES_REQUESTED", PullRequestReviewState.ChangesRequested)]
    [TestCase("COMMENTED", PullRequestReviewState.Commented)]
    [TestCase("DISMISSED", PullRequestReviewState.Dismissed)]
    public void Review_ReadByOctokit_KeepsStateAndCommit(string state, PullRequestReviewState expected)
    {
        s.Approval.State = state;

        var review = Read<PullRequestReview>(s.Json.Review(s.Repo, s.Pr, s.Approval));

        review.State.Value.Should().Be(expected);
        review.CommitId.Should().Be(s.HeadCommit.Sha);
        review.User.Login.Should().Be("bob");
        review.Body.Should().Be("Looks good");
        review.AuthorAssociation.Value.Should().Be(AuthorAssociation.Collaborator);
    }

    [Test]
    public void IssueComment_ReadByOctokit_KeepsBodyUserAndReactions()
    {
        var comment = Read<IssueComment>(s.Json.IssueComment(s.Repo, s.Comment));

        comment.Id.Should().Be(4001);
        comment.Body.Should().Be("@mergequeue r+");
        comment.User.Login.Should().Be("bob");
        comment.HtmlUrl.Should().EndWith("/octo-owner/widgets/pull/7#issuecomment-4001");
        comment.Reactions.Plus1.Should().Be(1);
        comment.Reactions.TotalCount.Should().Be(1);
    }

    [Test]
    public void Reaction_ReadByOctokit_KeepsContent()
    {
        var reaction = Read<Reaction>(s.Json.Reaction(s.Comment.Reactions[0]));

        reaction.Content.Value.Should().Be(ReactionType.Plus1);
        reaction.User.Login.Should().Be("mergequeue[bot]");
    }

    [Test]
    public void Issue_ReadByOctokit_IsAPullRequest()
    {
        var issue = Read<Issue>(s.Json.Issue(s.Repo, s.Pr));

        issue.Number.Should().Be(7);
        issue.PullRequest.Should().NotBeNull();
        issue.Labels.Select(l => l.Name).Should().Equal("ready");
        issue.State.Value.Should().Be(ItemState.Open);
        issue.Comments.Should().Be(1);
    }

    [Test]
    public void Status_ReadByOctokit_KeepsStateAndContext()
    {
        var status = Read<CommitStatus>(s.Json.Status(s.Repo, s.Status));

        status.State.Value.Should().Be(CommitState.Success);
        status.Context.Should().Be("ci");
        status.Description.Should().Be("All green");
        status.TargetUrl.Should().Be("http://ci.example/builds/1");
        status.Creator.Login.Should().Be("mergequeue[bot]");
    }

    [Test]
    public void CheckRun_ReadByOctokit_KeepsStatusConclusionAndSuite()
    {
        var run = Read<CheckRun>(s.Json.CheckRun(s.Repo, s.Run));

        run.Name.Should().Be("build");
        run.HeadSha.Should().Be(s.HeadCommit.Sha);
        run.Status.Value.Should().Be(CheckStatus.Completed);
        run.Conclusion!.Value.Value.Should().Be(CheckConclusion.Success);
        run.CheckSuite.Id.Should().Be(6001);
        run.Output.Title.Should().Be("Build passed");
        run.PullRequests.Select(p => p.Number).Should().Equal(7);
        run.App.Should().NotBeNull();
    }

    [Test]
    public void CheckRun_InProgress_ReadByOctokitWithoutConclusion()
    {
        s.StartRun();

        var run = Read<CheckRun>(s.Json.CheckRun(s.Repo, s.Run));

        run.Status.Value.Should().Be(CheckStatus.InProgress);
        run.Conclusion.Should().BeNull();
        run.CompletedAt.Should().BeNull();
    }

    [Test]
    public void CheckSuite_ReadByOctokit_KeepsHeadAndConclusion()
    {
        var suite = Read<CheckSuite>(s.Json.CheckSuite(s.Repo, s.Suite, s.HeadCommit));

        suite.HeadSha.Should().Be(s.HeadCommit.Sha);
        suite.HeadBranch.Should().Be("feature/widget");
        suite.Status.Value.Should().Be(CheckStatus.Completed);
        suite.Conclusion!.Value.Value.Should().Be(CheckConclusion.Success);
        suite.After.Should().Be(s.HeadCommit.Sha);
        suite.Before.Should().Be(s.BaseCommit.Sha);
        suite.PullRequests.Select(p => p.Number).Should().Equal(7);
    }

    [Test]
    public void Label_ReadByOctokit_KeepsNameAndColor()
    {
        var label = Read<Label>(s.Json.Label(s.Repo, s.Label));

        label.Name.Should().Be("ready");
        label.Color.Should().Be("0e8a16");
        label.Description.Should().Be("Ready to merge");
    }

    [Test]
    public void GitCommit_ReadByOctokit_KeepsTreeParentsAndSignatures()
    {
        var commit = Read<Commit>(s.Json.GitCommit(s.Repo, s.HeadCommit));

        commit.Sha.Should().Be(s.HeadCommit.Sha);
        commit.Tree.Sha.Should().Be(s.HeadCommit.TreeSha);
        commit.Parents.Select(p => p.Sha).Should().Equal(s.BaseCommit.Sha);
        commit.Message.Should().Be("Add widget");
        commit.Author.Email.Should().Be("alice@example.com");
        commit.Committer.Date.Should().Be(s.HeadCommit.Committer.Date);
        commit.Verification.Verified.Should().BeFalse();
    }

    [Test]
    public void RepoCommit_ReadByOctokit_KeepsNestedCommitAndAuthorAccount()
    {
        var commit = Read<GitHubCommit>(s.Json.RepoCommit(s.Repo, s.HeadCommit));

        commit.Sha.Should().Be(s.HeadCommit.Sha);
        commit.Commit.Message.Should().Be("Add widget");
        commit.Commit.Tree.Sha.Should().Be(s.HeadCommit.TreeSha);
        commit.Parents.Select(p => p.Sha).Should().Equal(s.BaseCommit.Sha);
        commit.Author.Login.Should().Be("alice");
    }

    [Test]
    public void RepoCommit_NoReplyAuthorEmail_LinksToThatAccount()
    {
        var commit = s.HeadCommit with { Author = new SimSignature("Carol", "1009+carol@users.noreply.github.com", s.HeadCommit.Author.Date) };

        var read = Read<GitHubCommit>(s.Json.RepoCommit(s.Repo, commit));

        read.Author.Login.Should().Be("carol");
        read.Author.Id.Should().Be(1009);
    }

    [Test]
    public void Reference_ReadByOctokit_KeepsRefAndSha()
    {
        var reference = Read<Reference>(s.Json.Reference(s.Repo, "refs/heads/main", s.BaseCommit.Sha));

        reference.Ref.Should().Be("refs/heads/main");
        reference.Object.Sha.Should().Be(s.BaseCommit.Sha);
        reference.Object.Type.Value.Should().Be(TaggedType.Commit);
        reference.Url.Should().Be("http://127.0.0.1:5123/api/v3/repos/octo-owner/widgets/git/refs/heads/main");
    }

    [Test]
    public void Repository_ReadByOctokit_KeepsNameOwnerAndDefaultBranch()
    {
        var repo = Read<Repository>(s.Json.Repository(s.Repo));

        repo.Id.Should().Be(500);
        repo.FullName.Should().Be("octo-owner/widgets");
        repo.Name.Should().Be("widgets");
        repo.Owner.Login.Should().Be("octo-owner");
        repo.DefaultBranch.Should().Be("main");
        repo.Private.Should().BeFalse();
        repo.Topics.Should().Equal("merge-queue");
        repo.CloneUrl.Should().Be("http://127.0.0.1:5123/octo-owner/widgets.git");
        repo.OpenIssuesCount.Should().Be(1);
    }

    [Test]
    public void User_ReadByOctokit_KeepsLoginIdAndType()
    {
        var bot = Read<User>(s.Json.User(s.Bot));
        var user = Read<User>(s.Json.User(s.Author));

        bot.Login.Should().Be("mergequeue[bot]");
        bot.Id.Should().Be(1004);
        bot.Type.Should().Be(AccountType.Bot);
        user.Type.Should().Be(AccountType.User);
        user.SiteAdmin.Should().BeFalse();
    }
}
