using MergeQueue.Core.Config;
using MergeQueue.Core.Ports;
using MergeQueue.Core.Rules;

namespace MergeQueue.Core.Tests.Rules;

public class MergeRulesTests
{
    private static PullRequestInfo Pr(string author = "alice", bool draft = false, int? lines = 10, params string[] labels) =>
        new(7, "Change", author, new CommitSha("head000"), "feature", "main", true, false, draft, labels) { ChangedLines = lines };

    private static CommitInfo Commit(string message, string sha = "c0ffee1") => new(new CommitSha(sha), "tree", [], message, "Alice", "a@example.com");

    [Test]
    public void Check_DefaultConfigAndPlainPr_NothingBlocks() =>
        MergeRules.Check(Pr(), [], new RepoConfig()).Should().BeEmpty();

    [TestCase("do-not-merge", BlockerKind.BlockingLabel, false)]
    [TestCase("DO-NOT-MERGE", BlockerKind.BlockingLabel, false)]
    public void Check_BlockingLabel_Waits(string label, BlockerKind kind, bool fails)
    {
        var blocker = MergeRules.Check(Pr(labels: label), null, new RepoConfig()).Single();
        blocker.Should().Be(new Blocker(kind, "blocked by label do-not-merge", fails));
    }

    [Test]
    public void Check_MissingRequiredLabels_WaitsForEachByName()
    {
        var config = new RepoConfig { RequiredLabels = ["reviewed", "qa-ok"] };
        MergeRules.Check(Pr(labels: "Reviewed"), null, config).Should().ContainSingle()
            .Which.Should().Be(new Blocker(BlockerKind.RequiredLabel, "missing required label qa-ok"));
    }

    [Test]
    public void Check_Draft_Waits() =>
        MergeRules.Check(Pr(draft: true), null, new RepoConfig()).Should().ContainSingle().Which.Should().Match<Blocker>(b => b.Kind == BlockerKind.Draft && !b.Fails);

    [TestCase("feat: add widgets", true)]
    [TestCase("fix(ui): align", true)]
    [TestCase("WIP stuff", false)]
    [TestCase("add widgets\n\nfeat: hidden in the body", false)]
    public void Check_CommitMessagePattern_FailsOnTheFirstCommitThatDoesNotMatch(string message, bool ok)
    {
        var config = new RepoConfig { CommitMessagePattern = @"^(feat|fix)(\(\w+\))?: " };
        var blockers = MergeRules.Check(Pr(), [Commit("feat: first", "aaaaaaa1"), Commit(message, "bbbbbbb2")], config);
        if (ok) blockers.Should().BeEmpty();
        else blockers.Should().ContainSingle().Which.Should().Be(new Blocker(BlockerKind.CommitMessage, $@"commit bbbbbbb does not match commit_message_pattern ^(feat|fix)(\(\w+\))?: ", Fails: true));
    }

    [Test]
    public void Check_CommitsNotRead_SkipsThePattern() =>
        MergeRules.Check(Pr(), null, new RepoConfig { CommitMessagePattern = "^never" }).Should().BeEmpty();

    [TestCase(100, 100, false)]
    [TestCase(101, 100, true)]
    public void Check_MaxChangedLines_FailsAbove(int lines, int max, bool fails)
    {
        var blockers = MergeRules.Check(Pr(lines: lines), null, new RepoConfig { MaxChangedLines = max });
        if (fails) blockers.Should().ContainSingle().Which.Should().Be(new Blocker(BlockerKind.ChangedLines, $"{lines} changed lines, more than max_changed_lines {max}", Fails: true));
        else blockers.Should().BeEmpty();
    }

    [TestCase("alice", "", "", false)]
    [TestCase("alice", "bob,alice", "", false)]
    [TestCase("Alice", "alice", "", false)]
    [TestCase("mallory", "bob,alice", "", true)]
    [TestCase("mallory", "", "mallory", true)]
    [TestCase("mallory", "mallory", "MALLORY", true)]
    public void Check_Authors_FailsWhenNotAllowedOrDenied(string author, string allowed, string denied, bool fails)
    {
        var config = new RepoConfig
        {
            AllowedAuthors = allowed.Split(',', StringSplitOptions.RemoveEmptyEntries),
            DeniedAuthors = denied.Split(',', StringSplitOptions.RemoveEmptyEntries),
        };
        var blockers = MergeRules.Check(Pr(author: author), null, config);
        blockers.Any(b => b.Kind == BlockerKind.Author && b.Fails).Should().Be(fails);
    }

    [Test]
    public void MessageMatches_CatastrophicPattern_CountsAsNoMatchInsteadOfHanging() =>
        MergeRules.MessageMatches("^(a+)+$", new string('a', 40) + "!").Should().BeFalse();
}
