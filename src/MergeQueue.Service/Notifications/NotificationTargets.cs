using MergeQueue.Core;
using MergeQueue.Core.Config;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Notifications;

/// <summary>
/// Which targets of the settings hear about a repository: those its <c>notify:</c> names, and those
/// set to hear about every repository. A name the settings do not define is logged and skipped.
/// </summary>
public sealed class NotificationTargets(IOptions<ServiceOptions> options, ILogger<NotificationTargets> logger)
{
    public sealed record Resolved(IReadOnlyList<ServiceOptions.WebhookTarget> Webhooks, IReadOnlyList<ServiceOptions.SlackTarget> Slack)
    {
        public bool IsEmpty => Webhooks.Count == 0 && Slack.Count == 0;
    }

    private ServiceOptions.NotificationOptions Settings => options.Value.Notifications;

    /// <summary>True when no target is configured at all: the notifier then has nothing to do.</summary>
    public bool None => Settings.Webhooks.Count == 0 && Settings.Slack.Count == 0;

    public Resolved For(RepoId repo, NotifyConfig? notify)
    {
        var webhooks = Pick(repo, "webhooks", Settings.Webhooks, notify?.Webhooks ?? [], w => w.Name, w => w.AllRepositories);
        var slack = Pick(repo, "slack", Settings.Slack, notify?.Slack ?? [], s => s.Name, s => s.AllRepositories);
        return new Resolved(webhooks, slack);
    }

    private List<T> Pick<T>(RepoId repo, string key, List<T> defined, IReadOnlyList<string> named, Func<T, string> name, Func<T, bool> all)
    {
        foreach (var n in named.Where(n => !defined.Any(d => string.Equals(name(d), n, StringComparison.OrdinalIgnoreCase))))
            logger.LogWarning("{Repo}: notify.{Key} names '{Name}', which MergeQueue:Notifications does not define; skipped", repo, key, n);
        return defined.Where(d => all(d) || named.Contains(name(d), StringComparer.OrdinalIgnoreCase)).ToList();
    }

    /// <summary>Refuses to start with a target that cannot work: no name, a name used twice, no URL, a webhook without a secret.</summary>
    public static void Validate(ServiceOptions.NotificationOptions settings)
    {
        void Check(string kind, int i, string name, string url)
        {
            var key = $"MergeQueue:Notifications:{kind}:{i}";
            if (string.IsNullOrWhiteSpace(name)) throw new InvalidOperationException($"{key}:Name is missing: repositories pick notification targets by name.");
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw new InvalidOperationException($"{key}:Url must be an absolute http or https URL, not '{url}'.");
        }
        for (var i = 0; i < settings.Webhooks.Count; i++)
        {
            Check("Webhooks", i, settings.Webhooks[i].Name, settings.Webhooks[i].Url);
            if (string.IsNullOrEmpty(settings.Webhooks[i].Secret))
                throw new InvalidOperationException($"MergeQueue:Notifications:Webhooks:{i}:Secret is missing: outgoing webhooks are signed (X-MergeQueue-Signature-256).");
        }
        for (var i = 0; i < settings.Slack.Count; i++) Check("Slack", i, settings.Slack[i].Name, settings.Slack[i].Url);
        foreach (var (kind, names) in new[] { ("Webhooks", settings.Webhooks.Select(w => w.Name)), ("Slack", settings.Slack.Select(s => s.Name)) })
            if (names.GroupBy(n => n, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } dup)
                throw new InvalidOperationException($"MergeQueue:Notifications:{kind}: the name '{dup.Key}' is used twice.");
        if (settings.MaxAttempts < 1) throw new InvalidOperationException("MergeQueue:Notifications:MaxAttempts must be at least 1.");
    }
}
