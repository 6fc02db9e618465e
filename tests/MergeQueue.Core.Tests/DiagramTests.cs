using MergeQueue.Core.MergeAttempts;
using MergeQueue.Core.PullRequests;

namespace MergeQueue.Core.Tests;

/// <summary>docs/state-machines.md shows the machines as the code configures them; this keeps the two equal.</summary>
public class DiagramTests
{
    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MergeQueue.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("MergeQueue.sln not found above the test directory");
    }

    /// <summary>The docs page as generated from the machines.</summary>
    public static string Generate() => $"""
        # State machines

        Generated from the Stateless configurations in `src/MergeQueue.Core` (`PullRequest.ToMermaid()`
        and `MergeAttempt.ToMermaid()`); `DiagramTests` fails when this file and the code differ. To
        regenerate, run the tests with `MQ_WRITE_DIAGRAMS=1`.

        ## Pull request

        ```mermaid
        {PullRequest.ToMermaid().Trim()}
        ```

        ## Merge attempt

        ```mermaid
        {MergeAttempt.ToMermaid().Trim()}
        ```

        """.ReplaceLineEndings("\n");

    [Test]
    public void Docs_StateMachineDiagrams_MatchTheCode()
    {
        var path = Path.Combine(RepoRoot(), "docs", "state-machines.md");
        var expected = Generate();
        if (Environment.GetEnvironmentVariable("MQ_WRITE_DIAGRAMS") == "1") File.WriteAllText(path, expected);
        File.Exists(path).Should().BeTrue($"{path} should exist; run the tests with MQ_WRITE_DIAGRAMS=1 to write it");
        File.ReadAllText(path).ReplaceLineEndings("\n").Should().Be(expected, "docs/state-machines.md must be regenerated after a machine changes");
    }
}
