using System.Text.Json.Nodes;
using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator.Engine;

/// <summary>
/// Branch protection, as far as its required status checks go: set by the control API or by
/// GitHub's <c>PUT /branches/{branch}/protection</c>, read back by the protection endpoints.
/// The simulator does not enforce it on pushes.
/// </summary>
public sealed partial class GitHubEngine
{
    public BranchProtectionInfo SetBranchProtection(RepoHandle repo, string branch, BranchProtectionRequest request)
    {
        lock (Sync)
        {
            var protection = new SimBranchProtection { RequiredContexts = request.RequiredStatusChecks?.Distinct(StringComparer.Ordinal).ToList(), Strict = request.Strict };
            repo.Model.Protections[branch] = protection;
            return Info(branch, protection);
        }
    }

    /// <summary>Removes the branch's protection; false when it had none.</summary>
    public bool RemoveBranchProtection(RepoHandle repo, string branch)
    {
        lock (Sync) return repo.Model.Protections.Remove(branch);
    }

    public BranchProtectionInfo? BranchProtection(RepoHandle repo, string branch)
    {
        lock (Sync) return repo.Model.Protections.TryGetValue(branch, out var p) ? Info(branch, p) : null;
    }

    /// <summary>
    /// GitHub shows a branch's protection only to repository admins, and to Apps with the
    /// Administration permission (installed Apps count as having it here).
    /// </summary>
    public void RequireProtectionRead(RepoHandle repo, SimUser user)
    {
        RequireRead(repo, user);
        if (user.AppId is { } appId && IsInstalledOn(repo, appId)) return;
        if (PermissionRank(RoleOf(repo, user)) < PermissionRank("admin"))
            throw user.AppId is null ? new SimulatorError(404, "Not Found") : SimulatorError.Forbidden();
    }

    private bool IsInstalledOn(RepoHandle repo, long appId)
    {
        lock (Sync) return installations.Values.Any(i => i.App.Id == appId && i.Repositories.Contains(repo.FullName));
    }

    /// <summary>GET /branches/{branch}/protection/required_status_checks, or its 404s.</summary>
    public JsonObject RequiredStatusChecksJson(RepoHandle repo, string branch)
    {
        var protection = BranchProtection(repo, branch) ?? throw new SimulatorError(404, "Branch not protected");
        if (protection.RequiredStatusChecks is not { } contexts) throw new SimulatorError(404, "Required status checks not enabled");
        var url = Json.ApiUrl($"repos/{repo.FullName}/branches/{Uri.EscapeDataString(branch)}/protection/required_status_checks");
        return new JsonObject
        {
            ["url"] = url,
            ["strict"] = protection.Strict,
            ["contexts"] = new JsonArray(contexts.Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
            ["contexts_url"] = url + "/contexts",
            ["checks"] = new JsonArray(contexts.Select(c => (JsonNode)new JsonObject { ["context"] = c, ["app_id"] = null }).ToArray()),
        };
    }

    /// <summary>GET /branches/{branch}/protection (the parts the simulator keeps), or 404 "Branch not protected".</summary>
    public JsonObject BranchProtectionJson(RepoHandle repo, string branch)
    {
        var protection = BranchProtection(repo, branch) ?? throw new SimulatorError(404, "Branch not protected");
        var url = Json.ApiUrl($"repos/{repo.FullName}/branches/{Uri.EscapeDataString(branch)}/protection");
        return new JsonObject
        {
            ["url"] = url,
            ["required_status_checks"] = protection.RequiredStatusChecks is null ? null : RequiredStatusChecksJson(repo, branch),
            ["enforce_admins"] = new JsonObject { ["url"] = url + "/enforce_admins", ["enabled"] = false },
        };
    }

    private static BranchProtectionInfo Info(string branch, SimBranchProtection p) => new(branch, p.RequiredContexts?.ToArray(), p.Strict);
}
