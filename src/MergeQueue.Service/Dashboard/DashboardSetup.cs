using MergeQueue.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApplicationParts;
using Microsoft.AspNetCore.Mvc.Filters;
using Microsoft.Extensions.Options;

namespace MergeQueue.Service.Dashboard;

/// <summary>
/// The ops dashboard: Razor Pages under <c>Dashboard/Pages</c>, our CSS and htmx (from the npm
/// package, embedded at build) under <c>/static/</c>. Read-only pages are public unless
/// <c>MergeQueue:Dashboard:Public</c> is false.
/// </summary>
public static class DashboardSetup
{
    /// <summary>How often open pages refresh their live part (htmx polling).</summary>
    public const int RefreshSeconds = 3;

    public static IServiceCollection AddDashboard(this IServiceCollection services)
    {
        services.AddSingleton(sp => new DashboardQueries(sp.GetRequiredService<SqliteDatabase>()));
        services.AddSingleton<DashboardReader>();
        services.AddSingleton<DashboardActions>();
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
    /// With <c>Dashboard:Public=false</c> every page needs a signed-in user: a redirect to /signin when
    /// GitHub sign-in is configured, 401 otherwise.
    /// </summary>
    private sealed class DashboardAccessFilter : IAsyncPageFilter
    {
        public Task OnPageHandlerSelectionAsync(PageHandlerSelectedContext context) => Task.CompletedTask;

        public async Task OnPageHandlerExecutionAsync(PageHandlerExecutingContext context, PageHandlerExecutionDelegate next)
        {
            var http = context.HttpContext;
            var options = http.RequestServices.GetRequiredService<IOptions<ServiceOptions>>().Value;
            if (!options.Dashboard.Public && http.User.Identity?.IsAuthenticated != true)
            {
                var schemes = http.RequestServices.GetService<IAuthenticationSchemeProvider>();
                var challenge = schemes is null ? null : await schemes.GetDefaultChallengeSchemeAsync();
                context.Result = challenge is null
                    ? new ContentResult { StatusCode = StatusCodes.Status401Unauthorized, Content = "The dashboard requires sign-in (MergeQueue:Dashboard:Public is false).\n", ContentType = "text/plain" }
                    : new ChallengeResult();
                return;
            }
            await next();
        }
    }
}
