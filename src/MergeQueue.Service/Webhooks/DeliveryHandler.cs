using MergeQueue.Core;
using MergeQueue.Core.Commands;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using MergeQueue.Data;
using MergeQueue.Service.Repositories;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Webhooks;

/// <summary>Turns one delivery into flow calls (seed 003's "Webhooks" list). Returns the outcome recorded on the inbox row.</summary>
public sealed class DeliveryHandler(
    MergeQueueFlows flows,
    RepoConfigCache configs,
    IGitHub github,
    PermissionCache permissions,
    GitHubReads reads,
    Api.RepoSwitches switches,
    Runner.JobScheduler runner,
    IOptions<ServiceOptions> options,
    ILogger<DeliveryHandler> logger)
{
    public async Task<string> HandleAsync(WebhookDelivery delivery, Cause cause, CancellationToken ct)
    {
        var ev = GitHubEvent.Parse(delivery.Event, delivery.Payload);
        switch (ev)
        {
            case GitHubEvent.Ping:
                return "pong";
            case GitHubEvent.Ignored ignored:
                return $"ignored: {ignored.Why}";
            case GitHubEvent.InstallationChanged installation:
                return await OnInstallationAsync(installation, ct);
        }

        var repo = delivery.Repo ?? throw new FormatException("missing repository.full_name");
        if (ev is GitHubEvent.Pushed push && push.Ref == $"refs/heads/{push.DefaultBranch}"
            && (push.ChangedFiles.Count == 0 || push.ChangedFiles.Contains(Core.Config.RepoConfigParser.Path)))
            await configs.ReloadAsync(repo, push.After, ct);
        // A repository disabled through the API: its deliveries change nothing (its config still follows pushes).
        if (!await switches.IsEnabledAsync(repo, ct)) return "ignored: repository disabled";
        if (await configs.GetAsync(repo, ct) is not { } config) return "ignored: repository not managed";
        await QueueRunnerJobsAsync(repo, config, ev, ct);

        switch (ev)
        {
            case GitHubEvent.PullRequestChanged pr:
                return await OnPullRequestAsync(repo, pr, cause, ct);
            case GitHubEvent.ReviewChanged review:
                return await OnReviewAsync(repo, review, cause, ct);
            case GitHubEvent.CommentChanged comment:
                return await OnCommentAsync(repo, comment, delivery, ct);
            case GitHubEvent.StatusChanged status:
                // A pending status cannot settle a staging or try build: no need to read their checks
                // (the dashboard learns of it from the delivery).
                if (status.State != "pending")
                {
                    await flows.TestAsync(repo, status.Sha, cause, ct);
                    await flows.TestTryAsync(repo, status.Sha, cause, ct);
                }
                else reads.NotePending(repo, status.Sha, status.Context);
                await flows.InitiateForCommitAsync(repo, status.Sha, cause, ct);
                return "checked";
            case GitHubEvent.ChecksChanged checks:
                await flows.TestAsync(repo, checks.Sha, cause, ct);
                await flows.TestTryAsync(repo, checks.Sha, cause, ct);
                await flows.InitiateForCommitAsync(repo, checks.Sha, cause, ct);
                return "checked";
            case GitHubEvent.Pushed pushed when pushed.Ref.StartsWith("refs/heads/", StringComparison.Ordinal):
                await flows.TargetPushedAsync(repo, pushed.Ref["refs/heads/".Length..], pushed.After, cause, ct);
                return "push";
            default:
                return "ignored";
        }
    }

    /// <summary>The built-in runner's jobs for the commit this delivery announces (docs/runner.md); nothing when it is off.</summary>
    private async Task QueueRunnerJobsAsync(RepoId repo, Core.Config.RepoConfig config, GitHubEvent ev, CancellationToken ct)
    {
        if (!runner.Enabled) return;
        switch (ev)
        {
            case GitHubEvent.Pushed pushed when pushed.Ref.StartsWith("refs/heads/", StringComparison.Ordinal):
                await runner.BranchPushedAsync(repo, config, pushed.Ref["refs/heads/".Length..], pushed.After, ct);
                break;
            case GitHubEvent.PullRequestChanged { Action: "opened" or "synchronize" or "reopened" } pr:
                await runner.PullRequestHeadAsync(repo, config, pr.Number, pr.HeadSha, ct);
                break;
        }
    }

    /// <summary>
    /// A repository the App can now reach is discovered (managed if its default branch holds the
    /// config); one it can no longer reach stops being managed, so nothing new starts there.
    /// </summary>
    private async Task<string> OnInstallationAsync(GitHubEvent.InstallationChanged installation, CancellationToken ct)
    {
        foreach (var repo in installation.Removed) configs.Unreachable(repo);
        var managed = 0;
        foreach (var repo in installation.Added)
            if (await configs.ReloadAsync(repo, null, ct) is not null) managed++;
        logger.LogInformation("Installation {Installation} {Action}: {Added} repositories added ({Managed} managed), {Removed} removed",
            installation.InstallationId, installation.Action, installation.Added.Count, managed, installation.Removed.Count);
        return $"installation {installation.Action}: {installation.Added.Count} added ({managed} managed), {installation.Removed.Count} removed";
    }

    private async Task<string> OnPullRequestAsync(RepoId repo, GitHubEvent.PullRequestChanged pr, Cause cause, CancellationToken ct)
    {
        switch (pr.Action)
        {
            case "synchronize":
                await flows.PushedAsync(repo, pr.Number, pr.HeadSha, cause, ct);
                return "synchronize";
            case "closed" when pr.Merged:
                // Our own fast-forward closes PRs as merged; Complete records that. A PR merged by hand
                // while merely waiting leaves the queue; one in an attempt is settled by that attempt.
                var active = await flows.FindActiveAsync(repo, pr.Number, ct);
                if (active?.State is Core.PullRequests.PullRequestState.Requested or Core.PullRequests.PullRequestState.Queued)
                    await flows.CancelAsync(repo, pr.Number, Messages.CancelledMergedElsewhere, cause, ct);
                return "closed (merged)";
            case "closed":
                await flows.ClosedAsync(repo, pr.Number, cause, ct);
                return "closed";
            case "converted_to_draft":
                // Draft PRs never merge: a waiting request notes it, a queued or merging one leaves.
                if ((await flows.FindActiveAsync(repo, pr.Number, ct))?.State is { } state && state != Core.PullRequests.PullRequestState.Requested)
                    await flows.DraftedAsync(repo, pr.Number, cause, ct);
                else
                    await flows.InitiateAsync(repo, pr.Number, cause, ct);
                return "draft";
            case "edited" when pr.BaseRefBefore is { } before && before != pr.BaseRef:
                await flows.CancelAsync(repo, pr.Number, Messages.CancelledBaseChanged(before, pr.BaseRef), cause, ct);
                return "base changed";
            case "ready_for_review" or "labeled" or "unlabeled" or "reopened" or "edited":
                await flows.InitiateAsync(repo, pr.Number, cause, ct);
                return pr.Action;
            default:
                return $"ignored: pull_request.{pr.Action}";
        }
    }

    /// <summary>
    /// A review may make a waiting request ready (Initiate). With <c>queue_on_approval: true</c>, an
    /// approving review by someone who may merge (write or admin) is also the merge request, for the
    /// commit it approved (<c>review.commit_id</c>) only.
    /// </summary>
    private async Task<string> OnReviewAsync(RepoId repo, GitHubEvent.ReviewChanged review, Cause cause, CancellationToken ct)
    {
        var config = await configs.GetAsync(repo, ct);
        if (config is { QueueOnApproval: true } && review.Action == "submitted"
            && string.Equals(review.State, "approved", StringComparison.OrdinalIgnoreCase))
        {
            var permission = await permissions.GetAsync(repo, review.Reviewer, ct);
            if (permission >= Permission.Write)
            {
                // The request is for the commit approved: a head moved past it is not requested.
                var result = await flows.RequestAsync(repo, review.Number, new MergeRequest(review.Reviewer) { Head = review.CommitSha }, Cause.Command(cause.Id, review.Reviewer), ct);
                logger.LogInformation("Approval by {Reviewer} on {Repo}#{Number} requested the merge: {Accepted} {Message}",
                    review.Reviewer, repo, review.Number, result.Accepted ? "accepted" : "refused", result.Message);
                return $"review approved: merge {(result.Accepted ? "accepted" : "refused")} ({result.Message})";
            }
        }
        await flows.InitiateAsync(repo, review.Number, cause, ct);
        return $"review {review.Action}";
    }

    private async Task<string> OnCommentAsync(RepoId repo, GitHubEvent.CommentChanged comment, WebhookDelivery delivery, CancellationToken ct)
    {
        // Commands run once, when written: an edit or a deletion never runs them again.
        if (comment.Action != "created") return $"ignored: comment {comment.Action}";
        var commands = CommandParser.Parse(comment.Body, options.Value.Bot.Name);
        if (commands.Count == 0) return "no command";
        if (!comment.OnPullRequest)
        {
            await ReactAsync(repo, comment.CommentId, accepted: false, ct);
            return "refused: commands work on pull requests only";
        }

        var results = new List<string>();
        var allAccepted = true;
        foreach (var command in commands)
        {
            var cause = Cause.Command(delivery.DeliveryId, comment.Author);
            var result = await RunAsync(repo, comment, command, cause, ct);
            logger.LogInformation("Command {Command} by {Actor} on {Repo}#{Number}: {Accepted} {Message}",
                command.GetType().Name, comment.Author, repo, comment.Number, result.Accepted ? "accepted" : "refused", result.Message);
            allAccepted &= result.Accepted;
            results.Add($"{command.GetType().Name.ToLowerInvariant()}: {(result.Accepted ? "accepted" : "refused")} ({result.Message})");
        }
        await ReactAsync(repo, comment.CommentId, allAccepted, ct);
        // Replies only to those who may command the queue: anyone else gets the reaction, never a
        // comment the bot writes at their bidding.
        if ((await configs.GetAsync(repo, ct))?.Comments == true
            && (allAccepted || await permissions.GetAsync(repo, comment.Author, ct) >= Permission.Write))
            await ReplyAsync(repo, comment.Number, Messages.CommandReply(comment.Author, results), ct);
        return string.Join("; ", results);
    }

    private async Task<FlowResult> RunAsync(RepoId repo, GitHubEvent.CommentChanged comment, Command command, Cause cause, CancellationToken ct)
    {
        if (command is Command.Invalid invalid) return FlowResult.Refused(invalid.Reason);
        var permission = await permissions.GetAsync(repo, comment.Author, ct);
        if (permission < command.RequiredPermission)
            return FlowResult.Refused($"{comment.Author} needs {command.RequiredPermission.ToString().ToLowerInvariant()} permission");

        return command switch
        {
            Command.Merge merge => await flows.RequestAsync(repo, comment.Number, new MergeRequest(comment.Author, merge.Priority, merge.Branch) { WrittenAt = comment.CreatedAt }, cause, ct),
            Command.Retry => await flows.RetryAsync(repo, comment.Number, comment.Author, cause, ct, comment.CreatedAt),
            Command.Cancel => await flows.CancelAsync(repo, comment.Number, Messages.CancelledByCommand(comment.Author), cause, ct),
            Command.Try => await flows.TryAsync(repo, comment.Number, comment.Author, cause, ct, comment.CreatedAt),
            Command.Freeze freeze => await flows.FreezeAsync(repo, comment.Number, comment.Author, freeze.Reason, cause, ct),
            Command.Unfreeze => await flows.UnfreezeAsync(repo, comment.Number, cause, ct),
            _ => FlowResult.Refused($"'{command.GetType().Name.ToLowerInvariant()}' is not a command"),
        };
    }

    /// <summary>Only with <c>comments: true</c>: the bot is quiet otherwise (seed 000: commenting is rude).</summary>
    private async Task ReplyAsync(RepoId repo, int number, string body, CancellationToken ct)
    {
        try
        {
            await github.CommentAsync(repo, number, body, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not comment on {Repo}#{Number}", repo, number);
        }
    }

    private async Task ReactAsync(RepoId repo, long commentId, bool accepted, CancellationToken ct)
    {
        try
        {
            await github.AddReactionAsync(repo, commentId, accepted ? "+1" : "confused", ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not react to comment {CommentId}", commentId);
        }
    }
}
