using System.Text;
using MergeQueue.Core.Commands;

namespace MergeQueue.Core.Tests.Commands;

/// <summary>Issue 13 item 6: whatever a comment says, the parser answers, and with at most <see cref="CommandParser.MaxCommands"/> commands.</summary>
public sealed class CommandParserPropertyTests
{
    private static readonly string[] Pieces =
    [
        "@mergequeue", "@MergeQueue", "@mergequeue-bot", "@", "merge", "r+", "r-", ":+1:", ":-1:", "try", "retry", "cancel", "freeze", "unfreeze",
        "treeclosed", "treeopen", "p=", "p=-2147483648", "p=2147483648", "p=99999999999999999999", "p=-", "p=+5", "branch=", "branch=main", "=",
        " ", "  ", "\t", "\n", "\r\n", "\r", "```", "`", "> ", ">", "~~~", "<!--", "-->", "\"", "'", "\\", "\0", "\u0007", "\u202e", "\u00a0",
        "\ud83d\ude00", "\ud800", "\udc00", "é", "ｍｅｒｇｅ", "0", "-1", "1000", "1001", "x", "reason with words",
    ];

    [Test]
    public void Parse_AnyText_NeverThrowsAndYieldsAtMostMaxCommands()
    {
        var random = new Random(1301);
        for (var i = 0; i < 20_000; i++)
        {
            var body = new StringBuilder();
            var length = random.Next(0, i % 100 == 0 ? 2_000 : 40);
            for (var j = 0; j < length; j++)
                body.Append(random.Next(8) == 0 ? (char)random.Next(0, 0x10000) : Pieces[random.Next(Pieces.Length)]);
            var text = body.ToString();

            IReadOnlyList<Command> commands = null!;
            var parse = () => commands = CommandParser.Parse(text, "mergequeue");
            parse.Should().NotThrow($"case {i}: {text}");
            commands.Count.Should().BeLessThanOrEqualTo(CommandParser.MaxCommands, $"case {i}");
        }
    }

    [TestCase("@mergequeue merge p=-2147483648")]
    [TestCase("@mergequeue merge p=2147483648")]
    [TestCase("@mergequeue merge p=-1001")]
    public void Parse_PriorityOutOfRange_IsInvalidNotAnException(string body) =>
        CommandParser.Parse(body, "mergequeue").Should().ContainSingle().Which.Should().BeOfType<Command.Invalid>();

    [Test]
    public void Parse_ManyCommandLines_StopsAtMaxCommands() =>
        CommandParser.Parse(string.Concat(Enumerable.Repeat("@mergequeue retry\n", 50)), "mergequeue").Should().HaveCount(CommandParser.MaxCommands);
}
