using MergeQueue.Simulator;

namespace MergeQueue.Simulator.Tests;

/// <summary>
/// A realistic simulator model for exercising <see cref="GitHubJson"/>: a repository with labels and a
/// milestone, an open pull request with assignees, reviews, comments with reactions, statuses, a check
/// suite and run, and two commits. Each call builds a fresh, independent model.
/// </summary>
public sealed class GitHubJsonSamples
{
    public static readonly Uri BaseUrl = new("http://127.0.0.1:5123/");
    private static readonly DateTimeOffset T0 = new(2025, 3, 14, 9, 26, 53, TimeSpan.FromHours(2));

    public GitHubJson Json { get; } = new(BaseUrl);

    public SimUser Owner { get; } = new() { Id = 1001, Login = "octo-owner", Email = "owner@example.com" };
    public SimUser Author { get; } = new() { Id = 1002, Login = "alice", Email = "alice@example.com" };
    public SimUser Reviewer { get; } = new() { Id = 1003, Login = "bob" };
    public SimUser Bot { get; } = new() { Id = 1004, Login = "mergequeue[bot]", Type = "Bot" };

    public SimRepository Repo { get; }
    public SimPullRequest Pr { get; }
    public SimLabel Label { get; }
    public SimReview Approval { get; }
    public SimIssueComment Comment { get; }
    public SimStatus Status { get; }
    public SimCheckSuite Suite { get; }
    public SimCheckRun Run { get; }
    public SimCommit BaseCommit { get; }
    public SimCommit HeadCommit { get; }

    public GitHubJsonSamples()
    {
        Repo = new SimRepository
        {
            Id = 500,
            Owner = Owner,
            Name = "widgets",
            Description = "Widgets and gadgets",
            GitDir = "/tmp/widgets.git",
            CreatedAt = T0.AddDays(-30),
            UpdatedAt = T0.AddDays(-1),
            PushedAt = T0,
            Language = "C#",
        };
        Repo.Topics.Add("merge-queue");
        Repo.Permissions[Author.Login] = "write";
        Repo.Permissions[Reviewer.Login] = "maintain";

        Label = new SimLabel { Id = 71, Name = "ready", Color = "0e8a16", Description = "Ready to merge" };
        Repo.Labels.Add(Label);
        Repo.Labels.Add(new SimLabel { Id = 72, Name = "bug", Color = "d73a4a", Description = "Something isn't working" });

        BaseCommit = new SimCommit(
            "1111111111111111111111111111111111111111", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", [],
            new SimSignature("Octo Owner", "owner@example.com", T0.AddDays(-2)),
            new SimSignature("Octo Owner", "owner@example.com", T0.AddDays(-2)),
            "Initial commit")
        { Added = ["README.md"] };
        HeadCommit = new SimCommit(
            "2222222222222222222222222222222222222222", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", [BaseCommit.Sha],
            new SimSignature("Alice", "alice@example.com", T0.AddHours(-1)),
            new SimSignature("Alice", "alice@example.com", T0.AddHours(-1)),
            "Add widget")
        { Added = ["src/widget.cs"], Modified = ["README.md"] };

        Pr = new SimPullRequest
        {
            Id = 9001,
            Number = 7,
            Title = "Add widget",
            Body = "Adds the widget.",
            User = Author,
            HeadRef = "feature/widget",
            HeadSha = HeadCommit.Sha,
            BaseRef = "main",
            BaseSha = BaseCommit.Sha,
            CreatedAt = T0.AddMinutes(-50),
            UpdatedAt = T0.AddMinutes(-5),
            Milestone = new SimMilestone
            {
                Id = 61,
                Number = 1,
                Title = "v1.0",
                Description = "First release",
                Creator = Owner,
                CreatedAt = T0.AddDays(-10),
                UpdatedAt = T0.AddDays(-1),
                DueOn = T0.AddDays(10),
                State = "closed",
                ClosedAt = T0.AddDays(-1),
            },
            // GitHub fills merge_commit_sha with its test merge once it has computed mergeability.
            MergeCommitSha = "3333333333333333333333333333333333333333",
        };
        Pr.Labels.Add(Label.Name);
        Pr.Assignees.Add(Author);
        Pr.RequestedReviewers.Add(Reviewer);
        Repo.Pulls.Add(Pr);

        Approval = new SimReview { Id = 3001, User = Reviewer, State = "APPROVED", CommitId = Pr.HeadSha, Body = "Looks good", SubmittedAt = T0.AddMinutes(-10) };
        Pr.Reviews.Add(Approval);

        Comment = new SimIssueComment { Id = 4001, IssueNumber = Pr.Number, User = Reviewer, Body = "@mergequeue r+", CreatedAt = T0.AddMinutes(-9), UpdatedAt = T0.AddMinutes(-9) };
        Comment.Reactions.Add(new SimReaction { Id = 4101, User = Bot, Content = "+1", CreatedAt = T0.AddMinutes(-8) });
        Repo.Comments.Add(Comment);

        Status = new SimStatus { Id = 5001, Sha = Pr.HeadSha, State = "success", Context = "ci", Description = "All green", TargetUrl = "http://ci.example/builds/1", Creator = Bot, CreatedAt = T0.AddMinutes(-7) };
        Repo.Statuses.Add(Status);

        Suite = new SimCheckSuite { Id = 6001, HeadSha = Pr.HeadSha, HeadBranch = Pr.HeadRef, Status = "completed", Conclusion = "success", CreatedAt = T0.AddMinutes(-30), UpdatedAt = T0.AddMinutes(-6), Before = BaseCommit.Sha };
        Repo.CheckSuites.Add(Suite);
        Run = new SimCheckRun
        {
            Id = 6101,
            CheckSuiteId = Suite.Id,
            HeadSha = Pr.HeadSha,
            Name = "build",
            Status = "completed",
            Conclusion = "success",
            DetailsUrl = "http://ci.example/builds/1",
            ExternalId = "build-1",
            OutputTitle = "Build passed",
            OutputSummary = "All 42 tests passed",
            OutputText = "Build log: http://ci.example/builds/1/log",
            StartedAt = T0.AddMinutes(-29),
            CompletedAt = T0.AddMinutes(-6),
        };
        Repo.CheckRuns.Add(Run);
    }

    public SimDiffStats Stats { get; } = new(Commits: 1, Additions: 12, Deletions: 3, ChangedFiles: 2);

    public void MergePr()
    {
        Pr.State = "closed";
        Pr.Merged = true;
        Pr.MergedBy = Bot;
        Pr.ClosedAt = Pr.MergedAt = T0;
    }

    public void StartRun()
    {
        Suite.Status = "in_progress";
        Suite.Conclusion = null;
        Run.Status = "in_progress";
        Run.Conclusion = null;
        Run.CompletedAt = null;
    }
}
