using MergeQueue.Core.Commands;

namespace MergeQueue.Core.Tests.Commands;

public class CommandParserTests
{
    private static IReadOnlyList<Command> Parse(string body) => CommandParser.Parse(body, "mergequeue");

    [TestCase("@mergequeue merge")]
    [TestCase("@mergequeue r+")]
    [TestCase("@mergequeue :+1:")]
    [TestCase("@MergeQueue MERGE")]
    [TestCase("  @mergequeue merge  ")]
    [TestCase("@mergequeue: merge")]
    [TestCase("Looks good!\n@mergequeue merge\nthanks")]
    public void Parse_MergeAndAliases_AreMerge(string body) =>
        Parse(body).Should().Equal(new Command.Merge(null, null));

    [TestCase("@mergequeue merge p=5", 5, null)]
    [TestCase("@mergequeue r+ p=-2", -2, null)]
    [TestCase("@mergequeue merge branch=release/1.2", null, "release/1.2")]
    [TestCase("@mergequeue merge p=1 branch=next", 1, "next")]
    [TestCase("@mergequeue merge priority=3", 3, null)]
    public void Parse_MergeArguments_AreRead(string body, int? priority, string? branch) =>
        Parse(body).Should().Equal(new Command.Merge(priority, branch));

    [TestCase("@mergequeue cancel", typeof(Command.Cancel))]
    [TestCase("@mergequeue r-", typeof(Command.Cancel))]
    [TestCase("@mergequeue :-1:", typeof(Command.Cancel))]
    [TestCase("@mergequeue try", typeof(Command.Try))]
    [TestCase("@mergequeue test", typeof(Command.Try))]
    [TestCase("@mergequeue TEST", typeof(Command.Try))]
    [TestCase("@mergequeue: test", typeof(Command.Try))]
    [TestCase("@mergequeue retry", typeof(Command.Retry))]
    [TestCase("@mergequeue unfreeze", typeof(Command.Unfreeze))]
    [TestCase("@mergequeue treeopen", typeof(Command.Unfreeze))]
    [TestCase("@mergequeue treeclosed", typeof(Command.Freeze))]
    public void Parse_OtherCommands_AreRecognized(string body, Type type) =>
        Parse(body).Should().ContainSingle().Which.Should().BeOfType(type);

    [Test]
    public void Parse_FreezeWithReason_KeepsTheReason() =>
        Parse("@mergequeue freeze release in progress").Should().Equal(new Command.Freeze("release in progress"));

    [Test]
    public void Parse_SeveralCommands_AreAllRead() =>
        Parse("@mergequeue cancel\n@mergequeue merge p=2\n@mergequeue try").Should()
            .Equal(new Command.Cancel(), new Command.Merge(2, null), new Command.Try());

    [TestCase("> @mergequeue merge")]
    [TestCase("> quoted\n> @mergequeue merge")]
    [TestCase("```\n@mergequeue merge\n```")]
    [TestCase("~~~\n@mergequeue merge\n~~~")]
    [TestCase("    @mergequeue merge")]
    [TestCase("\t@mergequeue merge")]
    [TestCase("please @mergequeue merge")]
    [TestCase("`@mergequeue merge`")]
    [TestCase("@mergequeuebot merge")]
    [TestCase("@someone merge")]
    [TestCase("")]
    [TestCase("merge")]
    public void Parse_QuotedCodeOrNotAddressed_DoesNotTrigger(string body) => Parse(body).Should().BeEmpty();

    [Test]
    public void Parse_AfterAClosedFence_TriggersAgain() =>
        Parse("```\n@mergequeue cancel\n```\n@mergequeue merge").Should().Equal(new Command.Merge(null, null));

    [TestCase("@mergequeue", "no command given")]
    [TestCase("@mergequeue deploy", "unknown command 'deploy'")]
    [TestCase("@mergequeue merge p=high", "priority must be a whole number")]
    [TestCase("@mergequeue merge p=99999", "priority must be a whole number")]
    [TestCase("@mergequeue merge p=-2147483648", "priority must be a whole number")]
    [TestCase("@mergequeue merge p=2147483647", "priority must be a whole number")]
    [TestCase("@mergequeue merge branch=../etc", "is not a branch name")]
    [TestCase("@mergequeue merge now", "unexpected 'now'")]
    [TestCase("@mergequeue cancel please", "unexpected 'please'")]
    [TestCase("@mergequeue test now", "unexpected 'now'")]
    [TestCase("@mergequeue try p=2", "unexpected 'p=2'")]
    [TestCase("@mergequeue tests", "unknown command 'tests'")]
    public void Parse_Unintelligible_IsInvalidWithAReason(string body, string reason) =>
        Parse(body).Should().ContainSingle().Which.Should().BeOfType<Command.Invalid>().Which.Reason.Should().Contain(reason);

    [Test]
    public void Parse_HugeBody_NeverThrowsAndStopsReading()
    {
        var body = string.Concat(Enumerable.Repeat("@mergequeue merge\n", 100_000));
        Parse(body).Should().HaveCount(CommandParser.MaxCommands);
    }

    [Test]
    public void Parse_BinaryIshBody_NeverThrows()
    {
        var random = new Random(42);
        for (var i = 0; i < 200; i++)
        {
            var chars = Enumerable.Range(0, random.Next(0, 400)).Select(_ => (char)random.Next(0, 0xD7FF)).ToArray();
            var body = (i % 2 == 0 ? "@mergequeue " : "") + new string(chars);
            FluentActions.Invoking(() => Parse(body)).Should().NotThrow();
        }
        FluentActions.Invoking(() => Parse("@mergequeue \0\u0001\uFFFF merge")).Should().NotThrow();
    }

    [Test]
    public void RequiredPermission_FreezeNeedsAdmin_OthersWrite()
    {
        new Command.Freeze(null).RequiredPermission.Should().Be(MergeQueue.Core.Ports.Permission.Admin);
        new Command.Merge(null, null).RequiredPermission.Should().Be(MergeQueue.Core.Ports.Permission.Write);
    }
}
