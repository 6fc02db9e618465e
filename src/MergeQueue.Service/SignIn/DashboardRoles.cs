using MergeQueue.Core;
using MergeQueue.Data;

namespace MergeQueue.Service.SignIn;

/// <summary>What a signed-in person may do from the dashboard: their role and, for "user", their repositories.</summary>
public sealed record DashboardRole(string Login, string Role, IReadOnlyList<string> Repos)
{
    /// <summary>admin: everything; user: the repositories an admin assigned; read-only: nothing.</summary>
    public bool MayActOn(RepoId repo) => Role switch
    {
        ApiRoles.Admin => true,
        ApiRoles.User => Repos.Any(r => r.Equals(repo.ToString(), StringComparison.OrdinalIgnoreCase)),
        _ => false,
    };

    public string WhyNot(RepoId repo) => Role switch
    {
        ApiRoles.User => $"{Login} has the user role without {repo} among its repositories: ask an admin to assign it.",
        _ => $"{Login} has the {Role} role, which may only view: ask an admin for the user or admin role.",
    };
}

/// <summary>The roles admins gave (the users table); read at sign-in and again at every action, so changes apply at once.</summary>
public interface IDashboardRoles
{
    Task<DashboardRole> FindAsync(string login, CancellationToken ct);
}

/// <summary>Reads the users table of the REST API; a login nobody registered is read-only.</summary>
public sealed class ApiUserRoles(ApiKeyStore store) : IDashboardRoles
{
    public async Task<DashboardRole> FindAsync(string login, CancellationToken ct)
    {
        var user = await store.FindUserByLoginAsync(login, ct);
        return user is null ? new DashboardRole(login, ApiRoles.ReadOnly, []) : new DashboardRole(user.Login, user.Role, user.Repos);
    }
}
