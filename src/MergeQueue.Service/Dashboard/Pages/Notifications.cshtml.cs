using MergeQueue.Data;
using MergeQueue.Service.SignIn;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>
/// The notification delivery log: the configured targets (names only: their URLs hold secrets) and
/// the latest messages, newest first, each with every delivery try.
/// </summary>
public sealed class NotificationsModel(NotificationStore outbox, IOptions<ServiceOptions> options, DashboardActions actions, DashboardAccess access) : PageModel
{
    public const int Shown = 100;

    public IReadOnlyList<(Notification Notification, IReadOnlyList<NotificationAttempt> Attempts)> Recent { get; private set; } = [];

    public IReadOnlyList<(string Channel, string Name, bool AllRepositories)> Targets { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken ct)
    {
        var settings = options.Value.Notifications;
        Targets = [.. settings.Webhooks.Select(w => ("webhook", w.Name, w.AllRepositories)), .. settings.Slack.Select(s => ("slack", s.Name, s.AllRepositories))];
        var isAdmin = (await actions.WhoAsync(User, ct))?.Role == ApiRoles.Admin;
        var shown = new List<(Notification, IReadOnlyList<NotificationAttempt>)>();
        // Not public: only the messages of repositories this person may read (admins: all).
        foreach (var entry in await outbox.RecentAsync(Shown, ct))
            if (access.Public || isAdmin || await access.MayReadAsync(User, entry.Notification.Repo, ct)) shown.Add(entry);
        Recent = shown;
    }
}
