using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.GitHub.Tests.Simulator;

/// <summary>The port methods the merge strategies add: compare with three dots, and commits with an explicit author.</summary>
public sealed class StrategyPortTests : SimulatorTest
{
    [Test]
    public async Task CompareCommits_ThreeDots_ListsThePrsOwnCommitsOldestFirstWithParentsAndAuthors()
    {
        await Control.CreateUserAsync("alice");
        await Control.CreateUserAsync("carol");
        var first = await Control.CommitAsync(RepoName, "feature", new Dictionary<string, string?> { ["a.txt"] = "a\n" }, "First", "alice");
        var second = await Control.CommitAsync(RepoName, "feature", new Dictionary<string, string?> { ["b.txt"] = "b\n" }, "Second", "carol", createBranch: false);
        // The target moves on: its new commit is not part of the PR's range.
        var moved = await Control.CommitAsync(RepoName, "main", new Dictionary<string, string?> { ["m.txt"] = "m\n" }, "Move main", createBranch: false);

        var range = await GitHub.CompareCommitsAsync(Repo, new CommitSha(moved.Sha), new CommitSha(second.Sha), None);

        range.Complete.Should().BeTrue();
        range.Commits.Select(c => c.Sha.Value).Should().Equal(first.Sha, second.Sha);
        range.Commits[0].Parents.Should().Equal(new CommitSha(MainSha));
        range.Commits[1].Parents.Should().Equal(new CommitSha(first.Sha));
        range.Commits.Select(c => (c.Message.TrimEnd(), c.AuthorName)).Should().Equal(("First", "alice"), ("Second", "carol"));
        range.Commits.Should().OnlyContain(c => c.AuthorDate != null && c.AuthorEmail.Length > 0);
        range.Commits[1].TreeSha.Should().Be(second.TreeSha);
    }

    [Test]
    public async Task CreateCommit_WithAnAuthor_KeepsNameEmailAndDate()
    {
        var feature = await BranchWith("feature", new Dictionary<string, string?> { ["f.txt"] = "f\n" });
        var tree = (await GitHub.GetCommitAsync(Repo, feature, None)).TreeSha;
        var when = new DateTimeOffset(2024, 2, 29, 12, 30, 0, TimeSpan.Zero);

        var sha = await GitHub.CreateCommitAsync(Repo, tree, [new CommitSha(MainSha)], "Replayed", new GitIdentity("Ada Lovelace", "ada@example.com", when), null, None);

        var read = await GitHub.GetCommitAsync(Repo, sha, None);
        read.Author.Should().Be(new GitIdentity("Ada Lovelace", "ada@example.com", when));
        read.Parents.Should().Equal(new CommitSha(MainSha));
        read.TreeSha.Should().Be(tree);
    }
}
