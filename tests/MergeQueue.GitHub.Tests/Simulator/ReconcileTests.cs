using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.GitHub.Tests.Simulator;

/// <summary>
/// Writes that the simulator carried out but whose answer was lost (a 502 from a proxy, or a
/// timeout): the retry must recognise its own earlier success instead of failing or acting twice.
/// </summary>
public sealed class ReconcileTests : SimulatorTest
{
    [Test]
    public async Task Merge_AppliedThen502_IsNotMergedTwice()
    {
        var head = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        await GitHub.ResetBranchAsync(Repo, "mergequeue/tmp/main/1", new CommitSha(MainSha), None);
        Drops.BadGatewayAfter(HttpMethod.Post, "/merges");

        var result = await GitHub.MergeAsync(Repo, "mergequeue/tmp/main/1", head, "Merge #1", None);

        var merged = result.Should().BeOfType<MergeResult.Merged>().Subject;
        (await Control.BranchShaAsync(RepoName, "mergequeue/tmp/main/1")).Should().Be(merged.Sha.Value);
        (await GitHub.GetCommitAsync(Repo, merged.Sha, None)).Parents.Should().Equal(new CommitSha(MainSha), head);
        (await CallsTo("POST", "/merges")).Should().Be(1, "the retry looked instead of merging again");
        GitHub.Metrics.Reconciliations.Should().Be(1);
    }

    [Test]
    public async Task Merge_AppliedThenTimedOut_IsNotMergedTwice()
    {
        var head = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        Drops.TimeoutAfter(HttpMethod.Post, "/merges");

        var result = await GitHub.MergeAsync(Repo, "main", head, "Merge feature", None);

        result.Should().BeOfType<MergeResult.Merged>();
        (await Control.BranchMovesAsync(RepoName, "main")).Where(m => m.Actor == Bot).Should().ContainSingle("main moved once, by the one merge");
        (await CallsTo("POST", "/merges")).Should().Be(1);
    }

    [Test]
    public async Task ResetBranch_CreatedThen502_FindsTheRefAtTheSha()
    {
        Drops.BadGatewayAfter(HttpMethod.Post, "/git/refs");

        await GitHub.ResetBranchAsync(Repo, "mergequeue/tmp/main/7", new CommitSha(MainSha), None);

        (await Control.BranchShaAsync(RepoName, "mergequeue/tmp/main/7")).Should().Be(MainSha);
        (await CallsTo("POST", "/git/refs")).Should().Be(2, "the retry got 'Reference already exists'");
        (await CallsTo("PATCH", "/git/refs/heads/mergequeue/tmp/main/7")).Should().Be(0, "the ref was already right");
        GitHub.Metrics.Reconciliations.Should().Be(1);
    }

    [Test]
    public async Task ResetBranch_ExistingElsewhere_IsForceMoved()
    {
        var other = await BranchWith("mergequeue/tmp/main/8", new Dictionary<string, string?> { ["o.txt"] = "o\n" });

        await GitHub.ResetBranchAsync(Repo, "mergequeue/tmp/main/8", new CommitSha(MainSha), None);

        (await Control.BranchShaAsync(RepoName, "mergequeue/tmp/main/8")).Should().Be(MainSha);
        (await Control.BranchMovesAsync(RepoName, "mergequeue/tmp/main/8")).Last().Forced.Should().BeTrue();
        other.Value.Should().NotBe(MainSha);
    }

    [Test]
    public async Task FastForward_AppliedThen502_IsSuccess()
    {
        var ahead = await BranchWith("ahead", new Dictionary<string, string?> { ["a.txt"] = "a\n" });
        Drops.BadGatewayAfter(HttpMethod.Patch, "/git/refs/heads/main");

        (await GitHub.FastForwardAsync(Repo, "main", ahead, None)).Should().BeTrue();

        (await Control.BranchShaAsync(RepoName, "main")).Should().Be(ahead.Value);
        // The retry re-sends the same update, which is a no-op; main changed once.
        (await Control.BranchMovesAsync(RepoName, "main")).Where(m => m.Actor == Bot && m.OldSha != m.NewSha).Should().ContainSingle();
    }

    [Test]
    public async Task DeleteBranch_AppliedThen502_IsFine()
    {
        await BranchWith("mergequeue/staging/main/3", new Dictionary<string, string?> { ["s.txt"] = "s\n" });
        Drops.BadGatewayAfter(HttpMethod.Delete, "/git/refs/heads/mergequeue/staging/main/3");

        await GitHub.DeleteBranchAsync(Repo, "mergequeue/staging/main/3", None);

        (await Control.BranchShaAsync(RepoName, "mergequeue/staging/main/3")).Should().BeNull();
    }

    [Test]
    public async Task Comment_PostedThen502_IsNotPostedTwice()
    {
        var pr = await Control.OpenPullRequestWithFilesAsync(RepoName, "feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        Drops.BadGatewayAfter(HttpMethod.Post, $"/issues/{pr.Number}/comments");

        await GitHub.CommentAsync(Repo, pr.Number, "Merge failed:\nconflict in src/shared.txt", None);

        (await Control.CommentsAsync(RepoName, pr.Number)).Should().ContainSingle();
        GitHub.Metrics.Reconciliations.Should().Be(1);
    }

    [Test]
    public async Task Comment_NotPostedBefore502_IsPosted()
    {
        var pr = await Control.OpenPullRequestWithFilesAsync(RepoName, "feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        await Control.CreateUserAsync("alice");
        // Someone else said the same words: that is not our comment.
        await Control.CommentAsync(RepoName, pr.Number, "alice", "Queued.");
        await Control.InjectApiFaultAsync(new MergeQueue.Simulator.Control.ApiFault("bad_gateway", Count: 1, Method: "POST", PathPrefix: RepoPath + "/issues/"));

        await GitHub.CommentAsync(Repo, pr.Number, "Queued.", None);

        (await Control.CommentsAsync(RepoName, pr.Number)).Select(c => c.User).Should().Equal("alice", Bot);
    }

    [Test]
    public async Task Status_PostedThen502_IsPostedAgain_LatestWins()
    {
        Drops.BadGatewayAfter(HttpMethod.Post, "/statuses/" + MainSha);

        await GitHub.SetStatusAsync(Repo, new CommitSha(MainSha), "mergequeue", StatusState.Success, "merged", null, None);

        (await GitHub.GetChecksAsync(Repo, new CommitSha(MainSha), None)).Should().ContainSingle()
            .Which.Should().Be(new Check("mergequeue", CheckState.Success, "merged", null));
    }
}
