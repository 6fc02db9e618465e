using MergeQueue.Data;
using MergeQueue.Service.Dashboard;

namespace MergeQueue.Service.Api;

// The API's JSON shapes (camelCase on the wire). Bodies are records so OpenAPI can describe them.

public sealed record CreateKeyBody(string? Name, string? Role, IReadOnlyList<string>? Repos);

public sealed record CreatedKey(long Id, string Key, string Role, string Name, IReadOnlyList<string> Repos);

public sealed record KeyInfo(long Id, string Name, string Role, IReadOnlyList<string> Repos, DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? RevokedAt)
{
    public static KeyInfo From(ApiKeyRecord k) => new(k.Id, k.Name, k.Role, k.Repos, k.CreatedAt, k.CreatedBy, k.RevokedAt);
}

public sealed record UserBody(string? Login, string? Role, IReadOnlyList<string>? Repos);

public sealed record UserInfo(long Id, string Login, string Role, IReadOnlyList<string> Repos, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static UserInfo From(ApiUserRecord u) => new(u.Id, u.Login, u.Role, u.Repos, u.CreatedAt, u.UpdatedAt);
}

public sealed record MergeBody(int? Priority, string? Branch);

public sealed record FreezeBody(string? Reason);

public sealed record ActionResult(bool Accepted, string Message);

public sealed record StatusInfo(string Service, bool Healthy, string Database, int UnprocessedDeliveries, DateTimeOffset? LastPoll, DateTimeOffset? NextPoll,
    int Repositories, CallerInfo Caller);

public sealed record CallerInfo(string Name, string Role, IReadOnlyList<string> Repos);

public sealed record FreezeInfo(string FrozenBy, DateTimeOffset FrozenAt, string? Reason);

public sealed record TargetInfo(string Target, int Queued, int Waiting, IReadOnlyList<long> RunningAttempts, FreezeInfo? Freeze, int Merged24h, int Failed24h);

public sealed record RepoInfo(string Owner, string Name, string FullName, bool? Managed, bool Enabled, IReadOnlyList<TargetInfo> Targets)
{
    public static RepoInfo From(RepoSummary s, bool enabled) => new(s.Repo.Owner, s.Repo.Name, s.Repo.ToString(), s.Managed, enabled,
        s.Targets.Select(t => new TargetInfo(t.Target, t.Queued, t.Waiting, t.Running.Select(a => a.Id).ToList(),
            t.Freeze is { } f ? new FreezeInfo(f.FrozenBy, f.FrozenAt, f.Reason) : null, t.Merged24h, t.Failed24h)).ToList());
}

public sealed record PullInfo(long Id, int Number, string Target, string State, long? Attempt, int Priority, DateTimeOffset RequestedAt,
    DateTimeOffset StateChangedAt, DateTimeOffset? QueuedAt, string? RequestedBy, string? Title, string? Author, string? Reason, string? MergedSha, string HeadSha)
{
    public static PullInfo From(PullRequestRecord p) => new(p.Id, p.Number, p.Target, p.State, p.Attempt, p.Priority, p.RequestedAt, p.StateChangedAt,
        p.QueuedAt, p.RequestedBy, p.Title, p.Author, p.Reason, p.MergedSha, p.HeadSha);
}

public sealed record EventInfo(long Id, DateTimeOffset At, int? PullRequest, long? Attempt, string Kind, string? Entity, string? FromState, string? ToState,
    string? Trigger, string? Reason, string CauseKind, string? CauseId, string? Actor)
{
    public static EventInfo From(EventLogRecord e) => new(e.Id, e.At, e.PullRequest, e.Attempt?.Value, e.Kind, e.Entity, e.From, e.To, e.Trigger,
        e.Reason, e.Cause.Kind, e.Cause.Id, e.Cause.Actor);
}

public sealed record TimelineEntry(EventInfo Change, IReadOnlyList<EventInfo> Effects);

public sealed record AttemptInfo(long Id, string Target, string State, string? BaseSha, string? StagingSha, long? ParentId, DateTimeOffset CreatedAt,
    DateTimeOffset StateChangedAt, string? Reason, IReadOnlyList<int> PullRequests)
{
    public static AttemptInfo From(AttemptRecord a, IEnumerable<int> members) => new(a.Id, a.Target, a.State, a.BaseSha, a.StagingSha, a.ParentId,
        a.CreatedAt, a.StateChangedAt, a.Reason, members.ToList());
}

public sealed record PullDetail(string Repo, int Number, IReadOnlyList<PullInfo> Requests, IReadOnlyList<TimelineEntry> Timeline,
    IReadOnlyList<AttemptInfo> Attempts, IReadOnlyList<string> WhyNotMerging);

/// <summary>A webhook delivery parked after its last failed try.</summary>
public sealed record DeadDelivery(
    string Delivery, string Event, string? Action, string? Repository, DateTimeOffset ReceivedAt, DateTimeOffset? DeadAt, int Attempts, string? Error);
