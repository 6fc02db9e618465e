using System.Text.Json;
using MergeQueue.Cli;

namespace MergeQueue.Cli.Tests;

/// <summary>One run of the CLI's entry point, in process, with its output captured.</summary>
public sealed record CliRun(int ExitCode, string Out, string Err)
{
    public static async Task<CliRun> RunAsync(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr, name => environment.TryGetValue(name, out var v) ? v : null);
        return new CliRun(code, stdout.ToString(), stderr.ToString());
    }

    public JsonElement Json()
    {
        using var doc = JsonDocument.Parse(Out);
        return doc.RootElement.Clone();
    }

    public CliRun ShouldSucceed()
    {
        ExitCode.Should().Be(0, ToString());
        Err.Should().BeEmpty(ToString());
        return this;
    }

    public CliRun ShouldFail(int code, string messagePart)
    {
        ExitCode.Should().Be(code, ToString());
        Err.Should().Contain(messagePart, ToString());
        Err.TrimEnd().Split('\n').Should().NotBeEmpty();
        Out.Should().BeEmpty(ToString());
        return this;
    }

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}--- stderr\n{Err}";
}
