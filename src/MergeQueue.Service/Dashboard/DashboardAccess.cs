using System.Security.Claims;
using MergeQueue.Core;
using MergeQueue.Core.Ports;
using MergeQueue.Data;
using MergeQueue.Service.Repositories;
using MergeQueue.Service.SignIn;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Dashboard;

/// <summary>
/// Who may see what on the dashboard (docs/operations.md, "Security model"). With
/// <c>MergeQueue:Dashboard:Public=false</c> a repository's pages are shown to a signed-in login with
/// at least read access to it on GitHub (through <see cref="PermissionCache"/>: one call per login and
/// repository a minute at most) or with the admin role; pages across repositories show only those.
/// Raw webhook payloads are for admins whatever the setting.
/// </summary>
public sealed class DashboardAccess(IOptions<ServiceOptions> options, IDashboardRoles roles, PermissionCache permissions)
{
    public bool Public => options.Value.Dashboard.Public;

    public async Task<bool> IsAdminAsync(ClaimsPrincipal user, CancellationToken ct) =>
        user.Identity is { IsAuthenticated: true, Name: { } login } && (await roles.FindAsync(login, ct)).Role == ApiRoles.Admin;

    public async Task<bool> MayReadAsync(ClaimsPrincipal user, RepoId repo, CancellationToken ct)
    {
        if (Public) return true;
        if (user.Identity is not { IsAuthenticated: true, Name: { } login }) return false;
        return await IsAdminAsync(user, ct) || await permissions.GetAsync(repo, login, ct) >= Permission.Read;
    }

    /// <summary>The repositories of the list this person may see.</summary>
    public async Task<IReadOnlyList<RepoId>> ReadableAsync(ClaimsPrincipal user, IEnumerable<RepoId> repos, CancellationToken ct)
    {
        var readable = new List<RepoId>();
        foreach (var repo in repos)
            if (await MayReadAsync(user, repo, ct)) readable.Add(repo);
        return readable;
    }

    /// <summary>The answer for a page this person may not see.</summary>
    public static Microsoft.AspNetCore.Mvc.ContentResult Refused(ClaimsPrincipal user, string what) => new()
    {
        StatusCode = StatusCodes.Status403Forbidden,
        Content = $"{user.Identity?.Name ?? "A visitor"} may not see {what}: MergeQueue:Dashboard:Public is false, and it needs read access to the repository on GitHub, or the admin role.\n",
        ContentType = "text/plain; charset=utf-8",
    };
}
