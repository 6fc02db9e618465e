using MergeQueue.Data;
using MergeQueue.Service.Cluster;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace MergeQueue.Service.Dashboard.Pages;

/// <summary>
/// The instances sharing the database and which holds what: delivery lanes, the notifier, and (on
/// PostgreSQL) repository locks. Names repositories, so with a dashboard that is not public it is for admins.
/// </summary>
public sealed class ClusterModel(ClusterMember member, Database database, DashboardAccess access) : PageModel
{
    public string Self => member.InstanceId;

    public string Provider => database.Provider;

    public IReadOnlyList<InstanceRecord> Instances { get; private set; } = [];

    public sealed record Holding(string Holder, string Kind, string Name, DateTimeOffset? Until);

    /// <summary>What each instance holds: leases and locks, by holder.</summary>
    public ILookup<string, Holding> Holdings { get; private set; } = Array.Empty<Holding>().ToLookup(h => h.Holder);

    public async Task<IActionResult> OnGetAsync(CancellationToken ct)
    {
        if (!access.Public && !await access.IsAdminAsync(User, ct)) return DashboardAccess.Refused(User, "the cluster view (it names every repository's locks)");
        Instances = await member.LiveInstancesAsync(ct);
        var leases = (await member.LeasesAsync(ct)).Select(l => new Holding(l.Holder, "lease", l.Name, l.ExpiresAt));
        var locks = (await member.LocksAsync(ct)).Select(l => new Holding(l.Holder, "lock", l.Name, null));
        Holdings = leases.Concat(locks).ToLookup(h => h.Holder);
        return Page();
    }
}
