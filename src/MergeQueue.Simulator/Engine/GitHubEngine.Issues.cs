using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator.Engine;

public sealed partial class GitHubEngine
{
    private static readonly string[] ReactionContents = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"];

    public SimIssueComment CreateComment(RepoHandle repo, int number, SimUser user, string body)
    {
        if (string.IsNullOrEmpty(body)) throw SimulatorError.Validation("Validation Failed", "IssueComment", "body", "missing_field");
        lock (Sync)
        {
            var pr = GetPull(repo, number);
            var now = Now;
            var comment = new SimIssueComment { Id = NextId(), IssueNumber = number, User = user, Body = body, CreatedAt = now, UpdatedAt = now };
            repo.Model.Comments.Add(comment);
            Emit(repo, "issue_comment", Json.IssueCommentEvent("created", repo.Model, pr, comment, user));
            return comment;
        }
    }

    public SimIssueComment GetComment(RepoHandle repo, long id)
    {
        lock (Sync) return repo.Model.Comments.FirstOrDefault(c => c.Id == id) ?? throw SimulatorError.NotFound();
    }

    public IReadOnlyList<SimIssueComment> Comments(RepoHandle repo, int number)
    {
        lock (Sync)
        {
            GetPull(repo, number);
            return repo.Model.Comments.Where(c => c.IssueNumber == number).OrderBy(c => c.Id).ToList();
        }
    }

    /// <summary>Edits a comment. GitHub lets the author (or anyone with write access) edit it.</summary>
    public SimIssueComment EditComment(RepoHandle repo, long id, SimUser user, string body)
    {
        if (string.IsNullOrEmpty(body)) throw SimulatorError.Validation("Validation Failed", "IssueComment", "body", "missing_field");
        var comment = GetComment(repo, id);
        RequireAuthorOrWrite(repo, comment, user);
        lock (Sync)
        {
            var changes = new JsonObject { ["body"] = new JsonObject { ["from"] = comment.Body } };
            comment.Body = body;
            comment.UpdatedAt = Now;
            Emit(repo, "issue_comment", Json.IssueCommentEvent("edited", repo.Model, GetPull(repo, comment.IssueNumber), comment, user, changes));
            return comment;
        }
    }

    public void DeleteComment(RepoHandle repo, long id, SimUser user)
    {
        var comment = GetComment(repo, id);
        RequireAuthorOrWrite(repo, comment, user);
        lock (Sync)
        {
            repo.Model.Comments.Remove(comment);
            Emit(repo, "issue_comment", Json.IssueCommentEvent("deleted", repo.Model, GetPull(repo, comment.IssueNumber), comment, user));
        }
    }

    private void RequireAuthorOrWrite(RepoHandle repo, SimIssueComment comment, SimUser user)
    {
        if (comment.User.Id != user.Id) RequireWrite(repo, user);
    }

    /// <returns>The reaction and whether it was new (GitHub answers 201 for new, 200 for an existing one).</returns>
    public (SimReaction Reaction, bool Created) AddReaction(RepoHandle repo, long commentId, SimUser user, string content)
    {
        if (!ReactionContents.Contains(content)) throw SimulatorError.Validation("Validation Failed", "Reaction", "content", "invalid");
        lock (Sync)
        {
            var comment = GetComment(repo, commentId);
            var existing = comment.Reactions.FirstOrDefault(r => r.User.Id == user.Id && r.Content == content);
            if (existing is not null) return (existing, false);
            var reaction = new SimReaction { Id = NextId(), User = user, Content = content, CreatedAt = Now };
            comment.Reactions.Add(reaction);
            return (reaction, true);
        }
    }

    public void DeleteReaction(RepoHandle repo, long commentId, long reactionId)
    {
        lock (Sync)
        {
            var comment = GetComment(repo, commentId);
            if (comment.Reactions.RemoveAll(r => r.Id == reactionId) == 0) throw SimulatorError.NotFound();
        }
    }

    public CommentInfo CommentInfo(SimIssueComment c)
    {
        lock (Sync)
            return new CommentInfo(c.Id, c.IssueNumber, c.User.Login, c.Body, c.CreatedAt, c.UpdatedAt,
                c.Reactions.Select(r => new ReactionInfo(r.Id, r.User.Login, r.Content)).ToList());
    }

    /// <summary>Adds labels to a pull request, creating unknown labels in the repository as GitHub does.</summary>
    public IReadOnlyList<SimLabel> AddLabels(RepoHandle repo, int number, IReadOnlyList<string> names, SimUser user)
    {
        if (names.Count == 0 || names.Any(string.IsNullOrWhiteSpace)) throw SimulatorError.Validation("Invalid request.\n\nNo labels given.", "Label", "labels");
        lock (Sync)
        {
            var pr = GetPull(repo, number);
            foreach (var name in names)
            {
                var label = EnsureLabel(repo, name);
                if (pr.Labels.Contains(label.Name, StringComparer.OrdinalIgnoreCase)) continue;
                pr.Labels.Add(label.Name);
                pr.UpdatedAt = Now;
                var payload = Json.PullRequestEvent("labeled", repo.Model, pr, user);
                payload["label"] = Json.Label(repo.Model, label);
                Emit(repo, "pull_request", payload);
            }
            return LabelsOf(repo, pr);
        }
    }

    public IReadOnlyList<SimLabel> RemoveLabel(RepoHandle repo, int number, string name, SimUser user)
    {
        lock (Sync)
        {
            var pr = GetPull(repo, number);
            var present = pr.Labels.FirstOrDefault(l => string.Equals(l, name, StringComparison.OrdinalIgnoreCase))
                ?? throw new SimulatorError(404, "Label does not exist");
            pr.Labels.Remove(present);
            pr.UpdatedAt = Now;
            var payload = Json.PullRequestEvent("unlabeled", repo.Model, pr, user);
            payload["label"] = Json.Label(repo.Model, EnsureLabel(repo, present));
            Emit(repo, "pull_request", payload);
            return LabelsOf(repo, pr);
        }
    }

    public IReadOnlyList<SimLabel> LabelsOf(RepoHandle repo, SimPullRequest pr)
    {
        lock (Sync) return pr.Labels.Select(l => EnsureLabel(repo, l)).ToList();
    }

    private SimLabel EnsureLabel(RepoHandle repo, string name)
    {
        var label = repo.Model.Labels.FirstOrDefault(l => string.Equals(l.Name, name, StringComparison.OrdinalIgnoreCase));
        if (label is null)
        {
            label = new SimLabel { Id = NextId(), Name = name };
            repo.Model.Labels.Add(label);
        }
        return label;
    }
}
