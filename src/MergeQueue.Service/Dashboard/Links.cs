using MergeQueue.Core;
using MergeQueue.Core.Ports;

namespace MergeQueue.Service.Dashboard;

/// <summary>The dashboard's URLs, in one place.</summary>
public static class Links
{
    public static string Repo(RepoId repo) => $"/repos/{Uri.EscapeDataString(repo.Owner)}/{Uri.EscapeDataString(repo.Name)}";
    public static string Pull(RepoId repo, int number) => $"{Repo(repo)}/pulls/{number}";
    public static string RepoRuns(RepoId repo) => $"{Repo(repo)}/runs";
    public static string Run(long id) => $"/runs/{id}";
    public static string RunLog(long id) => $"/runs/{id}/log";
    public static string Delivery(string id) => $"/audit/deliveries/{Uri.EscapeDataString(id)}";

    /// <summary>Where a cause leads: its delivery (a command came in one too), or every row of the same poll tick.</summary>
    public static string? Cause(Cause cause) => cause switch
    {
        { Kind: "delivery" or "command", Id: { } id } => Delivery(id),
        { Id: { } id } => $"/audit?causeKind={Uri.EscapeDataString(cause.Kind)}&causeId={Uri.EscapeDataString(id)}",
        _ => null,
    };

    public static string Describe(Cause cause) => cause.Kind switch
    {
        "delivery" => $"delivery {cause.Id}",
        "command" => $"command by {cause.Actor} (delivery {cause.Id})",
        "poll" => $"poll {cause.Id}",
        "api" => $"API call by {cause.Actor}",
        "dashboard" => $"dashboard action by {cause.Actor}",
        _ => cause.Id is null ? cause.Kind : $"{cause.Kind} {cause.Id}",
    };
}
