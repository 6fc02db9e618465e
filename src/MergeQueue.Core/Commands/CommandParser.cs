using System.Globalization;
using System.Text.RegularExpressions;

namespace MergeQueue.Core.Commands;

/// <summary>
/// Finds the commands in a comment: lines that start with <c>@name</c>, outside quotes (<c>&gt;</c>)
/// and code (fenced blocks, indented blocks). Never throws: anything odd is an Invalid command or
/// nothing at all.
/// </summary>
public static class CommandParser
{
    /// <summary>Longer comments are not read past this (a command is at the start of a line; nobody writes 64 KB to say r+).</summary>
    public const int MaxLength = 65536;
    public const int MaxCommands = 10;

    public static IReadOnlyList<Command> Parse(string? body, string botName)
    {
        if (string.IsNullOrEmpty(body) || string.IsNullOrWhiteSpace(botName)) return [];
        if (body.Length > MaxLength) body = body[..MaxLength];
        var mention = "@" + botName.Trim().TrimStart('@');
        var commands = new List<Command>();
        string? fence = null;
        foreach (var raw in body.Replace("\r\n", "\n").Split('\n'))
        {
            var trimmed = raw.TrimStart();
            var fenceMatch = Regex.Match(trimmed, "^(`{3,}|~{3,})");
            if (fence is not null)
            {
                if (fenceMatch.Success && trimmed.StartsWith(fence, StringComparison.Ordinal)) fence = null;
                continue;
            }
            if (fenceMatch.Success)
            {
                fence = fenceMatch.Groups[1].Value;
                continue;
            }
            // Indented code (four spaces or a tab) and block quotes never trigger.
            if (raw.StartsWith("    ", StringComparison.Ordinal) || raw.StartsWith('\t') || trimmed.StartsWith('>')) continue;
            if (!trimmed.StartsWith(mention, StringComparison.OrdinalIgnoreCase)) continue;
            var rest = trimmed[mention.Length..];
            if (rest.Length > 0 && !char.IsWhiteSpace(rest[0]) && rest[0] != ':' && rest[0] != ',') continue; // @mergequeuebot is someone else
            commands.Add(ParseCommand(rest.TrimStart(':', ',').Trim()));
            if (commands.Count == MaxCommands) break;
        }
        return commands;
    }

    private static Command ParseCommand(string text)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) return new Command.Invalid(text, "no command given");
        var verb = words[0].ToLowerInvariant();
        var args = words.Skip(1).ToArray();
        return verb switch
        {
            "merge" or "r+" or ":+1:" or "👍" => ParseMerge(text, args),
            "cancel" or "r-" or ":-1:" or "👎" => NoArgs(text, args, new Command.Cancel()),
            "try" or "test" => NoArgs(text, args, new Command.Try()), // `test`: the seed's word for a try build
            "retry" => NoArgs(text, args, new Command.Retry()),
            "freeze" or "treeclosed" => new Command.Freeze(args.Length == 0 ? null : string.Join(' ', args)),
            "unfreeze" or "treeopen" => NoArgs(text, args, new Command.Unfreeze()),
            _ => new Command.Invalid(text, $"unknown command '{Truncate(words[0])}'"),
        };
    }

    private static Command NoArgs(string text, string[] args, Command command) =>
        args.Length == 0 ? command : new Command.Invalid(text, $"unexpected '{Truncate(args[0])}'");

    private static Command ParseMerge(string text, string[] args)
    {
        int? priority = null;
        string? branch = null;
        foreach (var arg in args)
        {
            var eq = arg.IndexOf('=');
            var (key, value) = eq < 0 ? (arg.ToLowerInvariant(), "") : (arg[..eq].ToLowerInvariant(), arg[(eq + 1)..]);
            switch (key)
            {
                case "p" or "priority":
                    // A range test, not Math.Abs: that throws for int.MinValue (p=-2147483648).
                    if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var p) || p is < -1000 or > 1000)
                        return new Command.Invalid(text, $"priority must be a whole number from -1000 to 1000, not '{Truncate(value)}'");
                    priority = p;
                    break;
                case "branch":
                    if (!Regex.IsMatch(value, @"^[A-Za-z0-9._/-]{1,200}$") || value.Contains("..", StringComparison.Ordinal))
                        return new Command.Invalid(text, $"'{Truncate(value)}' is not a branch name");
                    branch = value;
                    break;
                default:
                    return new Command.Invalid(text, $"unexpected '{Truncate(arg)}' (merge takes p=N and branch=B)");
            }
        }
        return new Command.Merge(priority, branch);
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
