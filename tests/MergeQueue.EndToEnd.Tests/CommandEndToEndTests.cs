using MergeQueue.Simulator.Control;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>Issue 6: every command, permissions, try, freeze, priorities, queue_on_approval, the merge rules and an invalid config, through the real service and the simulator.</summary>
[CancelAfter(120_000)]
public class CommandEndToEndTests
{
    private const string Repo = ServiceTester.Repo;

    private static Task<IReadOnlyList<string>> ReactionsAsync(ServiceTester t, int number, CommentInfo comment) => t.ReactionsAsync(number, comment);

    private static async Task<bool> DecidedAsync(ServiceTester t, int number, string context) =>
        (await t.QueueStatusAsync(number, context))?.State is "success" or "failure" or "error";

    [Test]
    public async Task Merge_WithPriorityAndBranch_MergesIntoThatTargetOnly()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig.Replace("target_branches: [main]", "target_branches: [main, release]"));
        await t.Control.CommitAsync(Repo, "release", new Dictionary<string, string?> { ["RELEASE.md"] = "2.x\n" }, "release branch");
        var mainBefore = await t.Control.BranchShaAsync(Repo, "main");
        var n = await t.OpenPrAsync(new Dictionary<string, string?> { ["backport.txt"] = "fix\n" });
        await t.ApproveAsync(n);

        var comment = await t.CommentAsync(n, "@mergequeue merge p=3 branch=release");

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        var release = await t.Control.BranchShaAsync(Repo, "release");
        (await t.QueueStatusAsync(n))!.Should().Match<StatusSnapshot>(s => s.State == "success" && s.Description == $"Merged in {release}");
        (await t.Control.BranchShaAsync(Repo, "main")).Should().Be(mainBefore);
        (await ReactionsAsync(t, n, comment)).Should().Equal("+1");
        await t.AssertTargetOnlyMovedToGreenAsync("release");
    }

    [TestCase("@mergequeue merge branch=gh-pages", TestName = "Merge_BranchThatIsNoTarget_IsRefusedWithConfusedAndNoStatus")]
    // int.MinValue once threw in the parser (Math.Abs), failing the delivery with no reaction.
    [TestCase("@mergequeue merge p=-2147483648", TestName = "Merge_PriorityIntMinValue_IsRefusedWithConfusedAndNoStatus")]
    public async Task Merge_BadArgument_IsRefusedWithConfusedAndNoStatus(string command)
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAsync(n);

        var comment = await t.CommentAsync(n, command);
        await t.SettleAsync();

        (await ReactionsAsync(t, n, comment)).Should().Equal("confused");
        (await t.QueueStatusAsync(n)).Should().BeNull("a refused command never sets the mergequeue status");
    }

    [Test]
    public async Task Priorities_HigherPFirst_OrderTheBatches()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig.Replace("max_batch_size: 8", "max_batch_size: 1"));
        var low = await t.OpenPrAsync();
        var high = await t.OpenPrAsync();
        var bumped = await t.OpenPrAsync();
        foreach (var n in new[] { low, high, bumped }) await t.ApproveAsync(n);
        await t.CommentAsync(low, "@mergequeue merge");
        await t.CommentAsync(high, "@mergequeue r+ p=5");
        await t.CommentAsync(bumped, "@mergequeue merge");
        await t.CommentAsync(bumped, "@mergequeue merge p=10"); // repeating merge changes the priority

        await t.RunUntilAsync(() => t.AllClosedAsync(low, high, bumped));

        var moves = (await t.Control.BranchMovesAsync(Repo, "main")).Where(m => m.Actor == ServiceTester.Bot).Select(m => m.NewSha).ToList();
        var order = new List<(int Number, int Index)>();
        foreach (var n in new[] { low, high, bumped })
        {
            var status = (await t.QueueStatusAsync(n))!;
            status.State.Should().Be("success");
            order.Add((n, moves.IndexOf(status.Description!["Merged in ".Length..])));
        }
        order.OrderBy(o => o.Index).Select(o => o.Number).Should().Equal(bumped, high, low);
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Try_GreenAndRed_ReportOnMergequeueTryAndNeverMoveTheTarget()
    {
        await using var t = await ServiceTester.StartAsync();
        var mainBefore = await t.Control.BranchShaAsync(Repo, "main");
        var green = await t.OpenPrAsync();
        var red = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });

        var c1 = await t.CommentAsync(green, "@mergequeue try");
        var c2 = await t.CommentAsync(red, "@mergequeue try", by: "alice");

        await t.RunUntilAsync(async () => await DecidedAsync(t, green, "mergequeue-try") && await DecidedAsync(t, red, "mergequeue-try"));
        (await t.QueueStatusAsync(green, "mergequeue-try"))!.State.Should().Be("success");
        (await t.QueueStatusAsync(red, "mergequeue-try"))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Try failed: ci");
        (await t.Control.CiRunsAsync(Repo)).Should().Contain(r => r.Branch == $"mergequeue/try/{green}");
        (await t.Control.CiRunsAsync(Repo)).Should().NotContain(r => r.Branch.StartsWith("mergequeue/tmp/", StringComparison.Ordinal));
        (await t.Control.BranchShaAsync(Repo, "main")).Should().Be(mainBefore);
        (await t.Control.BranchMovesAsync(Repo, "main")).Should().NotContain(m => m.Actor == ServiceTester.Bot);
        (await t.QueueStatusAsync(green)).Should().BeNull("try is not a merge request");
        (await t.PrAsync(green)).Merged.Should().BeFalse();
        (await ReactionsAsync(t, green, c1)).Should().Equal("+1");
        (await ReactionsAsync(t, red, c2)).Should().Equal("+1");
        (await t.QueueBranchesAsync()).Should().BeEmpty();
    }

    [Test]
    public async Task Retry_AfterAFailure_RequestsAgainAndMerges()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync(new Dictionary<string, string?> { ["FAIL"] = "x" });
        await t.ApproveAndMergeAsync(n);
        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.QueueStatusAsync(n))!.Description.Should().Be("Checks failed: ci");

        await t.Control.PushToPullRequestAsync(Repo, n, new Dictionary<string, string?> { ["FAIL"] = null });
        await t.ApproveAsync(n);
        var retry = await t.CommentAsync(n, "@mergequeue retry");

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        (await ReactionsAsync(t, n, retry)).Should().Equal("+1");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Freeze_ByAdmin_HoldsTheQueueUntilUnfreeze_AndIsRefusedToOthers()
    {
        await using var t = await ServiceTester.StartAsync();
        await t.Control.SetPermissionAsync(Repo, "carol", "admin");
        var n = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(n);
        await t.SettleAsync();

        var refused = await t.CommentAsync(n, "@mergequeue freeze", by: "bob");
        await t.SettleAsync();
        (await ReactionsAsync(t, n, refused)).Should().Equal("confused");

        var freeze = await t.CommentAsync(n, "@mergequeue treeclosed release 2.0 going out", by: "carol");
        await t.StartBatchAsync();
        await t.StartBatchAsync();

        (await ReactionsAsync(t, n, freeze)).Should().Equal("+1");
        (await t.QueueStatusAsync(n))!.Description.Should().Be("Queued: position 1; main is frozen by carol: release 2.0 going out");
        (await t.Control.CiRunsAsync(Repo)).Should().NotContain(r => r.Branch.StartsWith("mergequeue/staging/", StringComparison.Ordinal));

        var unfreezeByBob = await t.CommentAsync(n, "@mergequeue unfreeze", by: "bob");
        await t.SettleAsync();
        (await ReactionsAsync(t, n, unfreezeByBob)).Should().Equal("confused");
        await t.CommentAsync(n, "@mergequeue treeopen", by: "carol");

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
    }

    [Test]
    public async Task Unauthorized_ReadOnlyUser_GetsConfusedAndNothingChanges()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAsync(n);

        var comment = await t.CommentAsync(n, "@mergequeue merge\n@mergequeue try\n@mergequeue freeze", by: "mallory");
        await t.StartBatchAsync();

        (await ReactionsAsync(t, n, comment)).Should().Equal("confused");
        (await t.QueueStatusAsync(n)).Should().BeNull();
        (await t.QueueStatusAsync(n, "mergequeue-try")).Should().BeNull();
        (await t.QueueBranchesAsync()).Should().BeEmpty();
        (await t.Control.CommentsAsync(Repo, n)).Should().ContainSingle("the bot does not comment unless comments: true");
    }

    [Test]
    public async Task EditedComment_WithACommandAddedLater_IsNotRun()
    {
        await using var t = await ServiceTester.StartAsync();
        var n = await t.OpenPrAsync();
        await t.ApproveAsync(n);
        var comment = await t.CommentAsync(n, "Nice work.");
        await t.SettleAsync();

        await t.Control.EditCommentAsync(Repo, comment.Id, "Nice work.\n@mergequeue merge", user: "bob");
        await t.StartBatchAsync();

        (await t.QueueStatusAsync(n)).Should().BeNull();
        (await ReactionsAsync(t, n, comment)).Should().BeEmpty();
        (await t.Control.DeliveriesAsync("issue_comment")).Should().Contain(d => d.Action == "edited" && d.StatusCode == 202, "the edit was delivered, and ignored");
    }

    [Test]
    public async Task SeveralCommands_InOneComment_AllRunAndCommentsWhenAskedTo()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\ncomments: true\n");
        var n = await t.OpenPrAsync();
        await t.ApproveAsync(n);

        var comment = await t.CommentAsync(n, "Looks good.\n\n@mergequeue try\n@mergequeue merge p=2\n> @mergequeue cancel\n");

        await t.RunUntilAsync(async () => await t.AllClosedAsync(n) && await DecidedAsync(t, n, "mergequeue-try"));
        (await t.PrAsync(n)).Merged.Should().BeTrue("the quoted cancel does not count");
        (await ReactionsAsync(t, n, comment)).Should().Equal("+1");
        var bot = (await t.Control.CommentsAsync(Repo, n)).Where(c => c.User == ServiceTester.Bot).Select(c => c.Body).ToArray();
        bot.Should().Contain(b => b.StartsWith("@bob", StringComparison.Ordinal) && b.Contains("try: accepted") && b.Contains("merge: accepted"));
    }

    [Test]
    public async Task RefusedCommand_ByAUserWithoutWriteAccess_GetsAReactionButNeverAReply()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\ncomments: true\n");
        var n = await t.OpenPrAsync();

        var comment = await t.CommentAsync(n, "@mergequeue merge", by: "mallory");
        await t.SettleAsync();

        (await ReactionsAsync(t, n, comment)).Should().Equal("confused");
        (await t.Control.CommentsAsync(Repo, n)).Should().NotContain(c => c.User == ServiceTester.Bot, "the bot answers no one who may not command it");
        (await t.QueueStatusAsync(n)).Should().BeNull();
    }

    [Test]
    public async Task QueueOnApproval_ApprovalByAWriter_RequestsTheMerge_ButNotByAReader()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\nqueue_on_approval: true\n");
        var n = await t.OpenPrAsync();
        var other = await t.OpenPrAsync();

        await t.ApproveAsync(other, by: "mallory");
        await t.ApproveAsync(n, by: "bob");

        await t.RunUntilAsync(() => t.AllClosedAsync(n));
        (await t.PrAsync(n)).Merged.Should().BeTrue();
        (await t.QueueStatusAsync(other)).Should().BeNull("mallory may not merge, so her approval requests nothing");
    }

    [Test]
    public async Task Rules_ThatWait_SayWhatIsMissingAndMergeOnceFixed()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + "\nrequired_labels: [qa-ok]\n");
        var unlabeled = await t.OpenPrAsync();
        var blocked = await t.OpenPrAsync();
        var draft = await t.OpenPrAsync();
        await t.Control.AddLabelsAsync(Repo, blocked, ["qa-ok", "do-not-merge"]);
        await t.Control.AddLabelsAsync(Repo, draft, ["qa-ok"]);
        await t.Control.SetDraftAsync(Repo, draft, true);
        await t.ApproveAndMergeAsync(unlabeled, blocked, draft);
        await t.StartBatchAsync();

        (await t.QueueStatusAsync(unlabeled))!.Description.Should().Be("Requested, missing required label qa-ok");
        (await t.QueueStatusAsync(blocked))!.Description.Should().Be("Requested, blocked by label do-not-merge");
        (await t.QueueStatusAsync(draft))!.Description.Should().Be("Requested, draft: mark it ready for review");

        await t.Control.AddLabelsAsync(Repo, unlabeled, ["qa-ok"]);
        await t.Control.RemoveLabelAsync(Repo, blocked, "do-not-merge");
        await t.Control.SetDraftAsync(Repo, draft, false);

        await t.RunUntilAsync(() => t.AllClosedAsync(unlabeled, blocked, draft));
        foreach (var n in new[] { unlabeled, blocked, draft }) (await t.PrAsync(n)).Merged.Should().BeTrue($"PR #{n}");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [Test]
    public async Task Rules_ThatFail_ReportTheirOwnReason()
    {
        await using var t = await ServiceTester.StartAsync(ServiceTester.DefaultConfig + """

            commit_message_pattern: '^(feat|fix): '
            max_changed_lines: 3
            denied_authors: [carol]
            """);
        var good = await t.OpenPrAsync(title: "feat: widgets");
        var badMessage = await t.OpenPrAsync(title: "WIP widgets");
        var tooBig = await t.OpenPrAsync(new Dictionary<string, string?> { ["big.txt"] = "1\n2\n3\n4\n" }, title: "feat: big");
        var denied = await t.OpenPrAsync(author: "carol", title: "fix: by carol");
        await t.ApproveAndMergeAsync(good, badMessage, tooBig, denied);

        await t.RunUntilAsync(() => t.AllClosedAsync(good, badMessage, tooBig, denied));

        (await t.PrAsync(good)).Merged.Should().BeTrue();
        (await t.QueueStatusAsync(badMessage))!.Should().Match<StatusSnapshot>(s => s.State == "failure"
            && s.Description!.StartsWith("Rule failed: commit ") && s.Description.EndsWith("does not match commit_message_pattern ^(feat|fix): "));
        (await t.QueueStatusAsync(tooBig))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Rule failed: 4 changed lines, more than max_changed_lines 3");
        (await t.QueueStatusAsync(denied))!.Should().Match<StatusSnapshot>(s => s.State == "failure" && s.Description == "Rule failed: author carol is in denied_authors");
        await t.AssertTargetOnlyMovedToGreenAsync();
    }

    [TestCase("target_branches: [main]\nbatch_delay: [oops", "invalid YAML")]
    [TestCase("target_branches: [main]\nstrategy: rebase-everything", "strategy")]
    [TestCase("target_branches: [main]\nbatch_delay: 10 minutes", "batch_delay")]
    public async Task InvalidConfig_PushedToTheDefaultBranch_FailsOnThatCommitAndKeepsTheLastGoodConfig(string yaml, string mentions)
    {
        await using var t = await ServiceTester.StartAsync();
        var first = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(first);
        await t.SettleAsync();

        var bad = await t.Control.CommitAsync(Repo, "main", new Dictionary<string, string?> { [".github/mergequeue.yml"] = yaml }, "break the config");
        await t.SettleAsync();

        var status = (await t.Control.ChecksAsync(Repo, bad.Sha)).Statuses.Where(s => s.Context == "mergequeue-config").MaxBy(s => s.Id);
        status.Should().NotBeNull();
        status!.State.Should().Be("failure");
        status.Description.Should().Contain(mentions);
        status.Description!.Length.Should().BeLessThanOrEqualTo(140);

        var second = await t.OpenPrAsync();
        await t.ApproveAndMergeAsync(second);
        await t.RunUntilAsync(() => t.AllClosedAsync(first, second));
        (await t.PrAsync(first)).Merged.Should().BeTrue("the last good config stays in force");
        (await t.PrAsync(second)).Merged.Should().BeTrue();
    }
}
