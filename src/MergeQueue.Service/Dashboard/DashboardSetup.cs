using MergeQueue.Core;
using MergeQueue.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.Mvc.Filters;

namespace MergeQueue.Service.Dashboard;

/// <summary>
/// The ops dashboard: Razor Pages under <c>Dashboard/Pages</c>, our CSS and htmx (from the npm
/// package, embedded at build) under <c>/static/</c>. Read-only pages are public unless
/// <c>MergeQueue:Dashboard:Public</c> is false.
/// </summary>
public static class DashboardSetup
{
    /// <summary>
    /// How often open pages refresh their live part (htmx polling): the queue moves at the pace of CI,
    /// so a few seconds is live enough; the audit log and trends change slower still.
    /// </summary>
    public const int RefreshSeconds = 5, AuditRefreshSeconds = 30, TrendsRefreshSeconds = 60;

    /// <summary>htmx's trigger: poll every so many seconds, but not while the tab is hidden.</summary>
    public static string Poll(int seconds) => $"every {seconds}s [!document.hidden]";

    public static IServiceCollection AddDashboard(this IServiceCollection services)
    {
        services.AddSingleton(sp => new DashboardQueries(sp.GetRequiredService<Database>()));
        services.AddSingleton<DashboardReader>();
        services.AddSingleton<DashboardActions>();
        services.AddSingleton<DashboardAccess>();
        // Razor would write every non-ASCII character (→, names) as an entity: keep the HTML readable.
        services.Configure<Microsoft.Extensions.WebEncoders.WebEncoderOptions>(o =>
            o.TextEncoderSettings = new System.Text.Encodings.Web.TextEncoderSettings(System.Text.Unicode.UnicodeRanges.All));
        services.AddRazorPages(o =>
            {
                o.RootDirectory = "/Dashboard/Pages";
                o.Conventions.ConfigureFilter(new DashboardAccessFilter());
            })
            // The host's application name is the test runner's under tests: name our pages' assembly explicitly.
            .ConfigureApplicationPartManager(m =>
            {
                var assembly = typeof(DashboardSetup).Assembly;
                if (m.ApplicationParts.Any(p => p.Name == assembly.GetName().Name)) return;
                foreach (var part in ApplicationPartFactory.GetApplicationPartFactory(assembly).GetApplicationParts(assembly))
                    m.ApplicationParts.Add(part);
            });
        return services;
    }

    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.MapGet("/static/{file}", (string file) =>
        {
            var stream = typeof(DashboardSetup).Assembly.GetManifestResourceStream("dashboard/" + file);
            if (stream is null) return Results.NotFound();
            var type = file.EndsWith(".css", StringComparison.Ordinal) ? "text/css" : "text/javascript";
            return Results.Stream(stream, type);
        }).ExcludeFromDescription();
        app.MapRazorPages();
        return app;
    }

    /// <summary>
    /// With <c>Dashboard:Public=false</c> every page needs a signed-in user (a redirect to /signin when
    /// GitHub sign-in is configured, 401 otherwise) who may read the repository the page is about
    /// (its route, or <c>?repo=</c>); the audit log and trends across all repositories are for admins.
    /// The overview lists only readable repositories, a delivery's page checks its repository itself.
    /// </summary>
    private sealed class DashboardAccessFilter : IAsyncPageFilter
    {
        public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

        public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
        {
            var http = context.HttpContext;
            var access = http.RequestServices.GetRequiredService<DashboardAccess>();
            if (access.Public)
            {
                await next();
                return;
            }
            if (http.User.Identity?.IsAuthenticated != true)
            {
                context.Result = !SignIn.GitHubSignIn.CanSignIn(http)
                    ? new ContentResult { StatusCode = StatusCodes.Status401Unauthorized, Content = "The dashboard requires sign-in (MergeQueue:Dashboard:Public is false).\n", ContentType = "text/plain" }
                    : new ChallengeResult();
                return;
            }
            var page = context.ActionDescriptor.ViewEnginePath;
            var route = context.RouteData.Values;
            var repo = route["owner"] is string owner && route["repo"] is string name ? new RepoId(owner, name) : AskedRepo(http.Request);
            var ct = http.RequestAborted;
            if (repo is { } id ? !await access.MayReadAsync(http.User, id, ct)
                : page is "/Audit" or "/Trends" && !await access.IsAdminAsync(http.User, ct))
            {
                context.Result = DashboardAccess.Refused(http.User, repo?.ToString() ?? "every repository at once (add ?repo=owner/name)");
                return;
            }
            await next();
        }

        /// <summary><c>?repo=owner/name</c>; null when absent or not a name (the page then covers every repository).</summary>
        private static RepoId? AskedRepo(HttpRequest request)
        {
            var text = request.Query["repo"].ToString().Trim();
            if (text.Length == 0) return null;
            try
            {
                return RepoId.Parse(text);
            }
            catch (FormatException)
            {
                return null;
            }
        }
    }
}
