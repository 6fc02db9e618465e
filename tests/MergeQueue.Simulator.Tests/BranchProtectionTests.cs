using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>Branch protection's required status checks: set by the control API or GitHub's PUT, read as GitHub answers.</summary>
[CancelAfter(30_000)]
public class BranchProtectionTests : SimulatorTestBase
{
    [Test]
    public async Task RequiredStatusChecks_SetByControl_ReadByOctokit()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.SetBranchProtectionAsync(repo, "main", ["ci", "lint"]);

        var checks = await Bot.Repository.Branch.GetRequiredStatusChecks(o, n, "main");
        checks.Contexts.Should().Equal("ci", "lint");
        var protection = await Bot.Repository.Branch.GetBranchProtection(o, n, "main");
        protection.RequiredStatusChecks.Contexts.Should().Equal("ci", "lint");
    }

    [Test]
    public async Task RequiredStatusChecks_NotProtectedOrNoChecks_Answer404WithGitHubsMessage()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);

        var notProtected = await FluentActions.Awaiting(() => Bot.Repository.Branch.GetRequiredStatusChecks(o, n, "main")).Should().ThrowAsync<NotFoundException>();
        notProtected.Which.Message.Should().Be("Branch not protected");

        await Control.SetBranchProtectionAsync(repo, "main", null);
        var noChecks = await FluentActions.Awaiting(() => Bot.Repository.Branch.GetRequiredStatusChecks(o, n, "main")).Should().ThrowAsync<NotFoundException>();
        noChecks.Which.Message.Should().Be("Required status checks not enabled");

        await Control.RemoveBranchProtectionAsync(repo, "main");
        await FluentActions.Awaiting(() => Bot.Repository.Branch.GetBranchProtection(o, n, "main")).Should().ThrowAsync<NotFoundException>();
    }

    [Test]
    public async Task Protection_PutByAnAdmin_SetsTheRequiredChecks()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);

        await Bot.Repository.Branch.UpdateBranchProtection(o, n, "main",
            new BranchProtectionSettingsUpdate(new BranchProtectionRequiredStatusChecksUpdate(true, ["build"])));

        (await Bot.Repository.Branch.GetRequiredStatusChecks(o, n, "main")).Contexts.Should().Equal("build");
    }

    [Test]
    public async Task RequiredStatusChecks_ReadByAWriter_IsRefusedAsGitHubDoes()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        await Control.SetBranchProtectionAsync(repo, "main", ["ci"]);
        var writer = await Control.CreateUserAsync("protection-writer");
        await Control.SetPermissionAsync(repo, "protection-writer", "write");

        await FluentActions.Awaiting(() => Octokit(writer.Token).Repository.Branch.GetRequiredStatusChecks(o, n, "main")).Should().ThrowAsync<NotFoundException>();
    }
}
