using System.Diagnostics;
using System.Net;
using MergeQueue.Simulator.Git;
using MergeQueue.Simulator.Tests.Support;

namespace MergeQueue.Simulator.Tests;

/// <summary>The simulator's worktree-less merges give the trees and conflicts that `git merge` in a clone gives.</summary>
[CancelAfter(60_000)]
public class GitMergeFidelityTests : SimulatorTestBase
{
    private static readonly string Lines = string.Join("\n", Enumerable.Range(1, 20).Select(i => $"line {i}")) + "\n";

    public static IEnumerable<TestCaseData> Scenarios()
    {
        yield return new TestCaseData("different files", Files(("ours.txt", "o")), Files(("theirs.txt", "t")), false).SetName("Merge_DifferentFiles_Clean");
        yield return new TestCaseData("different hunks", Files(("f.txt", Lines.Replace("line 2\n", "line 2 ours\n"))), Files(("f.txt", Lines.Replace("line 18\n", "line 18 theirs\n"))), false).SetName("Merge_DifferentHunksSameFile_Clean");
        yield return new TestCaseData("same line", Files(("f.txt", Lines.Replace("line 10\n", "ours\n"))), Files(("f.txt", Lines.Replace("line 10\n", "theirs\n"))), true).SetName("Merge_SameLine_Conflicts");
        yield return new TestCaseData("modify/delete", Files(("f.txt", Lines + "more\n")), Files(("f.txt", null)), true).SetName("Merge_ModifyDelete_Conflicts");
        yield return new TestCaseData("rename/modify", Files(("f.txt", null), ("g.txt", Lines)), Files(("f.txt", Lines.Replace("line 5\n", "theirs\n"))), false).SetName("Merge_RenameAndModify_FollowsRename");
        yield return new TestCaseData("both add", Files(("new.txt", "ours\n")), Files(("new.txt", "theirs\n")), true).SetName("Merge_BothAddDifferent_Conflicts");
    }

    [TestCaseSource(nameof(Scenarios))]
    public async Task Merge_EqualsGitMerge(string scenario, Dictionary<string, string?> ours, Dictionary<string, string?> theirs, bool conflict)
    {
        var repo = await NewRepoAsync(new Dictionary<string, string> { ["f.txt"] = Lines, ["README.md"] = scenario });
        var main = (await Control.BranchShaAsync(repo, "main"))!;
        await Control.CommitAsync(repo, "ours", ours, "ours", parent: main);
        await Control.CommitAsync(repo, "theirs", theirs, "theirs", parent: main);
        var gitDir = Sim.Engine.FindRepo("acme", Split(repo).Name)!.Git.GitDir;

        var expected = await GitMergeInScratchCloneAsync(gitDir);

        using var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("token", BotToken);
        var response = await http.PostAsync($"repos/{repo}/merges", new StringContent("""{"base":"ours","head":"theirs"}""", System.Text.Encoding.UTF8, "application/json"));

        if (conflict)
        {
            expected.Conflicts.Should().NotBeEmpty();
            response.StatusCode.Should().Be(HttpStatusCode.Conflict);
            var repoHandle = Sim.Engine.FindRepo("acme", Split(repo).Name)!;
            var merge = await repoHandle.Git.MergeTreeAsync((await Control.BranchShaAsync(repo, "ours"))!, (await Control.BranchShaAsync(repo, "theirs"))!);
            merge.Clean.Should().BeFalse();
            merge.ConflictedPaths.Should().BeEquivalentTo(expected.Conflicts);
        }
        else
        {
            expected.Conflicts.Should().BeEmpty();
            response.StatusCode.Should().Be(HttpStatusCode.Created);
            var mergeSha = (await Control.BranchShaAsync(repo, "ours"))!;
            var tree = (await GitCli.RunCheckedAsync(gitDir, ["rev-parse", mergeSha + "^{tree}"])).Text.Trim();
            tree.Should().Be(expected.Tree);
        }
    }

    /// <summary>What `git merge --no-ff theirs` on "ours" gives in a real clone with a worktree.</summary>
    private static async Task<(string? Tree, IReadOnlyList<string> Conflicts)> GitMergeInScratchCloneAsync(string gitDir)
    {
        var scratch = Path.Combine(Path.GetTempPath(), "mq-scratch-" + Guid.NewGuid().ToString("N"));
        try
        {
            await GitCli.RunCheckedAsync(null, ["clone", "--quiet", "--branch", "ours", gitDir, scratch]);
            await GitCli.RunCheckedAsync(null, ["-C", scratch, "fetch", "--quiet", "origin", "theirs"]);
            var merge = await GitCli.RunAsync(null, ["-C", scratch, "merge", "--no-ff", "--no-edit", "FETCH_HEAD"]);
            if (merge.ExitCode == 0)
                return ((await GitCli.RunCheckedAsync(null, ["-C", scratch, "rev-parse", "HEAD^{tree}"])).Text.Trim(), []);
            var conflicts = (await GitCli.RunCheckedAsync(null, ["-C", scratch, "diff", "--name-only", "--diff-filter=U"])).Text
                .Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return (null, conflicts);
        }
        finally
        {
            DeleteDirectory(scratch);
        }
    }

    private static void DeleteDirectory(string path)
    {
        if (!Directory.Exists(path)) return;
        foreach (var f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)) File.SetAttributes(f, FileAttributes.Normal);
        Directory.Delete(path, true);
    }

    [Test]
    public async Task Benchmark_MergeAndCommitCycle()
    {
        var repo = await NewRepoAsync(new Dictionary<string, string> { ["f.txt"] = Lines });
        var handle = Sim.Engine.FindRepo("acme", Split(repo).Name)!;
        var main = (await Control.BranchShaAsync(repo, "main"))!;
        var side = (await Control.CommitAsync(repo, "side", Files(("s.txt", "s")), parent: main)).Sha;
        var sig = new SimSignature("bench", "bench@example.com", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        const int cycles = 20;
        var sw = Stopwatch.StartNew();
        var ours = main;
        for (var i = 0; i < cycles; i++)
        {
            var merge = await handle.Git.MergeTreeAsync(ours, side);
            merge.Clean.Should().BeTrue($"cycle {i} merges a side already merged");
            ours = await handle.Git.CommitTreeAsync(merge.TreeSha!, [ours, side], $"merge {i}", sig, sig);
        }
        sw.Stop();
        // Printed for the record only: wall-clock time is measured in bench/, never asserted.
        TestContext.Out.WriteLine($"git CLI merge-tree + commit-tree: {sw.Elapsed.TotalMilliseconds / cycles:F1} ms per cycle ({cycles} cycles)");
        (await handle.Git.ResolveTreeAsync(ours)).Should().Be(await handle.Git.ResolveTreeAsync(side), "each cycle's merge keeps the side's tree");
    }
}
