using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>GitHub's combined status: latest per context wins; failure if any error/failure; pending if none or any pending; success otherwise.</summary>
[CancelAfter(30_000)]
public class CombinedStatusRulesTests : SimulatorTestBase
{
    // Each status is "context:state", posted in order.
    [TestCase(new string[0], "pending")]
    [TestCase(new[] { "ci:success" }, "success")]
    [TestCase(new[] { "ci:pending" }, "pending")]
    [TestCase(new[] { "ci:success", "lint:pending" }, "pending")]
    [TestCase(new[] { "ci:success", "lint:failure" }, "failure")]
    [TestCase(new[] { "ci:pending", "lint:error" }, "failure")]
    [TestCase(new[] { "ci:failure", "ci:success" }, "success")]
    [TestCase(new[] { "ci:success", "ci:failure" }, "failure")]
    [TestCase(new[] { "ci:pending", "ci:success", "lint:success" }, "success")]
    [TestCase(new[] { "CI:failure", "ci:success" }, "success")]
    public async Task Combined_FollowsGitHubRules(string[] statuses, string expected)
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var sha = (await Control.BranchShaAsync(repo, "main"))!;
        foreach (var s in statuses)
        {
            var (context, state) = (s.Split(':')[0], s.Split(':')[1]);
            await Bot.Repository.Status.Create(o, n, sha, new NewCommitStatus { Context = context, State = Enum.Parse<CommitState>(state, ignoreCase: true) });
        }
        var combined = await Bot.Repository.Status.GetCombined(o, n, sha);
        combined.State.StringValue.Should().Be(expected);
        (await Control.ChecksAsync(repo, sha)).CombinedState.Should().Be(expected);
    }
}
