using System.Security.Claims;
using MergeQueue.Core;
using MergeQueue.Core.Flows;
using MergeQueue.Core.Ports;
using MergeQueue.Service.SignIn;

namespace MergeQueue.Service.Dashboard;

/// <summary>
/// The dashboard's buttons: the same flows as the comment commands, with a "dashboard" cause
/// naming the signed-in login, so the audit log shows who did it. The role is read again at every
/// action (an admin's change applies at once, not at the next sign-in).
/// </summary>
public sealed class DashboardActions(MergeQueueFlows flows, IDashboardRoles roles)
{
    public const string CauseKind = "dashboard";

    /// <summary>The signed-in person's role, or null for a visitor.</summary>
    public async Task<DashboardRole?> WhoAsync(ClaimsPrincipal user, CancellationToken ct) =>
        user.Identity is { IsAuthenticated: true, Name: { } login } ? await roles.FindAsync(login, ct) : null;

    public Task<FlowResult> CancelAsync(DashboardRole who, RepoId repo, int number, CancellationToken ct) =>
        Guard(who, repo, cause => flows.CancelAsync(repo, number, Messages.CancelledByCommand(who.Login), cause, ct));

    public Task<FlowResult> RetryAsync(DashboardRole who, RepoId repo, int number, CancellationToken ct) =>
        Guard(who, repo, cause => flows.RetryAsync(repo, number, who.Login, cause, ct));

    /// <summary>Changes the priority as a repeated <c>merge p=N</c> does; only for a PR in the queue.</summary>
    public Task<FlowResult> PriorityAsync(DashboardRole who, RepoId repo, int number, int priority, CancellationToken ct) =>
        Guard(who, repo, async cause =>
        {
            var active = await flows.FindActiveAsync(repo, number, ct);
            if (active is null) return FlowResult.Refused(Messages.RefusedNotInQueue);
            return await flows.RequestAsync(repo, number, new MergeRequest(who.Login, priority, active.Target), cause, ct);
        });

    public Task<FlowResult> FreezeAsync(DashboardRole who, RepoId repo, string target, string? reason, CancellationToken ct) =>
        Guard(who, repo, cause => flows.FreezeTargetAsync(new QueueId(repo, target), who.Login, string.IsNullOrWhiteSpace(reason) ? null : reason.Trim(), cause, ct));

    public Task<FlowResult> UnfreezeAsync(DashboardRole who, RepoId repo, string target, CancellationToken ct) =>
        Guard(who, repo, cause => flows.UnfreezeTargetAsync(new QueueId(repo, target), cause, ct));

    /// <summary>A visitor pressed a button: sign-in when it exists, otherwise a plain refusal.</summary>
    public static Task<Microsoft.AspNetCore.Mvc.IActionResult> NotSignedInAsync(HttpContext http) => Task.FromResult(NotSignedIn(http));

    private static Microsoft.AspNetCore.Mvc.IActionResult NotSignedIn(HttpContext http)
    {
        // Back to the page itself after sign-in, not to the POST's handler URL.
        if (SignIn.GitHubSignIn.CanSignIn(http))
            return new Microsoft.AspNetCore.Mvc.ChallengeResult(new Microsoft.AspNetCore.Authentication.AuthenticationProperties { RedirectUri = http.Request.PathBase + http.Request.Path });
        return new Microsoft.AspNetCore.Mvc.ContentResult
        {
            StatusCode = StatusCodes.Status403Forbidden,
            Content = "Dashboard actions need sign-in with GitHub, which is not configured (MergeQueue:GitHub:OAuthClientId and OAuthClientSecret).\n",
            ContentType = "text/plain",
        };
    }

    public static string Notice(FlowResult result) => result.Accepted ? $"Done: {result.Message}" : $"Refused: {result.Message}";

    private static async Task<FlowResult> Guard(DashboardRole who, RepoId repo, Func<Cause, Task<FlowResult>> action)
    {
        if (!who.MayActOn(repo)) return FlowResult.Refused(who.WhyNot(repo));
        return await action(new Cause(CauseKind, Guid.NewGuid().ToString("N")[..12], who.Login));
    }
}
