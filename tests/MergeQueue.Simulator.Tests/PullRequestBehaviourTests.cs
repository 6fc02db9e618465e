using System.Globalization;
using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>What GitHub does on its own when branches move: merges pull requests whose head lands in the base, synchronizes on pushes.</summary>
[CancelAfter(30_000)]
public class PullRequestBehaviourTests : SimulatorTestBase
{
    [Test]
    public async Task BaseFastForwardedToStagingCommit_MarksPullRequestsMerged_AndDeliversClosedMerged()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr1 = await Control.OpenPullRequestWithFilesAsync(repo, "one", Files(("one.txt", "1")), author: "alice");
        var pr2 = await Control.OpenPullRequestWithFilesAsync(repo, "two", Files(("two.txt", "2")), author: "bob");
        var main = (await Control.BranchShaAsync(repo, "main"))!;

        // What the merge queue does: build the staging commit (merge of both heads) and fast-forward main to it.
        await Bot.Git.Reference.Create(o, n, new NewReference("refs/heads/mergequeue/staging/main/1", main));
        var m1 = await Bot.Repository.Merging.Create(o, n, new NewMerge("mergequeue/staging/main/1", "one"));
        var m2 = await Bot.Repository.Merging.Create(o, n, new NewMerge("mergequeue/staging/main/1", "two"));
        await Bot.Git.Reference.Update(o, n, "heads/main", new ReferenceUpdate(m2.Sha));

        foreach (var number in new[] { pr1.Number, pr2.Number })
        {
            var pr = await Bot.PullRequest.Get(o, n, number);
            pr.Merged.Should().BeTrue();
            pr.State.Value.Should().Be(ItemState.Closed);
            pr.MergedBy.Login.Should().Be("mergequeue[bot]");
        }
        (await Control.GetPullRequestAsync(repo, pr1.Number)).MergeCommitSha.Should().Be(pr1.HeadSha);
        (await Control.GetPullRequestAsync(repo, pr2.Number)).MergeCommitSha.Should().Be(pr2.HeadSha);
        m1.Sha.Should().NotBe(m2.Sha);
        (await Control.BranchMovesAsync(repo, "main")).Last().Actor.Should().Be("mergequeue[bot]");
    }

    [Test]
    public async Task RepositoryActivity_ListsEveryMoveOfTheBranch_NewestFirst_AsGitHubDoes()
    {
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a.txt", "1")), author: "alice");
        var pushed = await Control.PushToPullRequestAsync(repo, pr.Number, Files(("a.txt", "2")));
        await Bot.Git.Reference.Update(o, n, "heads/feature", new ReferenceUpdate(pr.HeadSha, force: true));

        using var http = new HttpClient { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new("token", BotToken);
        var activity = JsonNode.Parse(await http.GetStringAsync($"repos/{repo}/activity?ref=refs/heads/feature"))!.AsArray();

        activity.Select(a => (string?)a!["activity_type"]).Should().Equal("force_push", "push", "branch_creation");
        activity.Select(a => (string?)a!["after"]).Should().Equal(pr.HeadSha, pushed.Sha, pr.HeadSha);
        activity[0]!["before"]!.GetValue<string>().Should().Be(pushed.Sha);
        activity[0]!["ref"]!.GetValue<string>().Should().Be("refs/heads/feature");
        activity[0]!["actor"]!["login"]!.GetValue<string>().Should().Be("mergequeue[bot]");
        DateTimeOffset.Parse(activity[0]!["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture)
            .Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
        var oldestFirst = JsonNode.Parse(await http.GetStringAsync($"repos/{repo}/activity?ref=feature&direction=asc&activity_type=push"))!.AsArray();
        oldestFirst.Select(a => (string?)a!["after"]).Should().Equal(pushed.Sha);
    }

    [Test]
    public async Task BaseMove_DeliversClosedEventWithMergedTrue()
    {
        await using var receiver = new WebhookReceiver("s");
        await Control.RegisterHookAsync(receiver.Url, "s", ["pull_request"]);
        var repo = await NewRepoAsync();
        var (o, n) = Split(repo);
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        await Bot.Git.Reference.Update(o, n, "heads/main", new ReferenceUpdate(pr.HeadSha));

        var closed = await SimulatorClient.WaitForAsync(
            _ => Task.FromResult(receiver.Received.FirstOrDefault(r => r.Action == "closed" && r.Payload["repository"]!["full_name"]!.GetValue<string>() == repo)),
            r => r is not null);
        closed!.Payload["pull_request"]!["merged"]!.GetValue<bool>().Should().BeTrue();
        closed.Payload["pull_request"]!["number"]!.GetValue<int>().Should().Be(pr.Number);
    }

    [Test]
    public async Task PushToHeadBranch_UpdatesHeadSha_AndDeliversSynchronize()
    {
        await using var receiver = new WebhookReceiver("s");
        await Control.RegisterHookAsync(receiver.Url, "s", ["pull_request"]);
        var repo = await NewRepoAsync();
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")));
        var pushed = await Control.PushToPullRequestAsync(repo, pr.Number, Files(("a", "2")));

        (await Control.GetPullRequestAsync(repo, pr.Number)).HeadSha.Should().Be(pushed.Sha);
        var sync = await SimulatorClient.WaitForAsync(
            _ => Task.FromResult(receiver.Received.FirstOrDefault(r => r.Action == "synchronize" && r.Payload["repository"]!["full_name"]!.GetValue<string>() == repo)),
            r => r is not null);
        sync!.Payload["pull_request"]!["head"]!["sha"]!.GetValue<string>().Should().Be(pushed.Sha);
        sync.Payload["before"]!.GetValue<string>().Should().Be(pr.HeadSha);
    }

    [Test]
    public async Task DraftReadyLabelsAndDismiss_ChangeTheModel()
    {
        var repo = await NewRepoAsync();
        var pr = await Control.OpenPullRequestWithFilesAsync(repo, "feature", Files(("a", "1")), author: "alice");
        (await Control.SetDraftAsync(repo, pr.Number, true)).Draft.Should().BeTrue();
        (await Control.SetDraftAsync(repo, pr.Number, false)).Draft.Should().BeFalse();
        await Control.AddLabelsAsync(repo, pr.Number, ["a", "b"]);
        (await Control.RemoveLabelAsync(repo, pr.Number, "a")).Should().Equal("b");
        var review = await Control.ReviewAsync(repo, pr.Number, "bob");
        (await Control.DismissReviewAsync(repo, pr.Number, review.Id)).State.Should().Be("DISMISSED");
        var comment = await Control.CommentAsync(repo, pr.Number, "bob", "x");
        (await Control.EditCommentAsync(repo, comment.Id, "y")).Body.Should().Be("y");
        await Control.DeleteCommentAsync(repo, comment.Id);
        (await Control.CommentsAsync(repo, pr.Number)).Should().BeEmpty();
    }

    [Test]
    public async Task OpenPullRequest_WithoutCommits_IsRefused()
    {
        var repo = await NewRepoAsync();
        var main = (await Control.BranchShaAsync(repo, "main"))!;
        await Control.CommitAsync(repo, "empty", Files(("README.md", "hello\n")), parent: main);
        await Control.DeleteBranchAsync(repo, "empty");
        var act = () => Control.OpenPullRequestAsync(repo, "main", "same");
        (await act.Should().ThrowAsync<SimulatorClientException>()).Which.Status.Should().Be(System.Net.HttpStatusCode.UnprocessableEntity);
    }
}
