using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MergeQueue.Core;
using MergeQueue.Data;

namespace MergeQueue.Service.Notifications;

/// <summary>A pull request a notification is about.</summary>
public sealed record NotifiedPull(int Number, string? Title);

/// <summary>
/// Something worth announcing: a PR merged, failed or timed out, a target stuck, frozen or unfrozen.
/// It is turned into the exact bytes each channel sends when it is queued.
/// </summary>
public sealed record NotificationEvent(
    string Event,
    RepoId Repo,
    string? Target,
    IReadOnlyList<NotifiedPull> Pulls,
    long? Attempt,
    string? Reason,
    string? Actor,
    string? Sha,
    DateTimeOffset At,
    TimeSpan? StuckAfter = null)
{
    public const string Merged = "merged";
    public const string Failed = "failed";
    public const string TimedOut = "timed_out";
    public const string Stuck = "stuck";
    public const string Frozen = "frozen";
    public const string Unfrozen = "unfrozen";

    /// <summary>The header carrying <c>sha256=</c> and the HMAC-SHA256 of the body, as GitHub signs its own webhooks.</summary>
    public const string SignatureHeader = "X-MergeQueue-Signature-256";
    public const string EventHeader = "X-MergeQueue-Event";
    public const string DeliveryHeader = "X-MergeQueue-Delivery";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The outgoing webhook's JSON body (docs/operations.md lists its fields): what happened, where,
    /// to which PRs, why, and links to the dashboard.
    /// </summary>
    public string WebhookBody(string publicUrl)
    {
        var root = publicUrl.TrimEnd('/');
        var repoLink = root + Dashboard.Links.Repo(Repo);
        return JsonSerializer.Serialize(new
        {
            Event,
            Repository = Repo.ToString(),
            Target,
            PullRequests = Pulls.Select(p => new { p.Number, p.Title, Url = root + Dashboard.Links.Pull(Repo, p.Number) }).ToArray(),
            Attempt,
            Reason,
            Actor,
            Sha,
            StuckAfterSeconds = StuckAfter is { } s ? (long?)s.TotalSeconds : null,
            At = At.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            Links = new
            {
                Repository = repoLink,
                PullRequest = Pulls.Count == 1 ? root + Dashboard.Links.Pull(Repo, Pulls[0].Number) : null,
            },
        }, Json);
    }

    /// <summary>The Slack incoming webhook's body: one <c>text</c> line with a link to the dashboard.</summary>
    public string SlackBody(string publicUrl)
    {
        var root = publicUrl.TrimEnd('/');
        var pulls = Pulls.Select(p => $"<{root}{Dashboard.Links.Pull(Repo, p.Number)}|#{p.Number}>{(p.Title is null ? "" : " " + SlackEscape(p.Title))}").ToArray();
        var text = Messages.Notification(Event, $"<{root}{Dashboard.Links.Repo(Repo)}|{Repo}>", Target, pulls,
            Reason is null ? null : SlackEscape(Reason), Actor, StuckAfter);
        return JsonSerializer.Serialize(new { text }, Json);
    }

    /// <summary>Slack reads &amp;, &lt; and &gt; as markup (links, mentions): text from users is escaped.</summary>
    public static string SlackEscape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary>The outbox rows for this event, one per target, keyed so it is queued once per target.</summary>
    public IEnumerable<NewNotification> ToNotifications(string eventKey, NotificationTargets.Resolved targets, string publicUrl)
    {
        var pr = Pulls.Count == 1 ? Pulls[0].Number : (int?)null;
        foreach (var w in targets.Webhooks)
            yield return new NewNotification(eventKey, Event, Repo, Target, pr, "webhook", w.Name, WebhookBody(publicUrl));
        foreach (var s in targets.Slack)
            yield return new NewNotification(eventKey, Event, Repo, Target, pr, "slack", s.Name, SlackBody(publicUrl));
    }

    /// <summary><c>sha256=</c> and the lower-case hex HMAC-SHA256 of the body under the secret.</summary>
    public static string Sign(string secret, string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body)));
}
