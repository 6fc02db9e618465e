using System.Text.Json.Nodes;
using MergeQueue.Simulator.Ci;
using MergeQueue.Simulator.Control;
using MergeQueue.Simulator.Git;
using MergeQueue.Simulator.Webhooks;

namespace MergeQueue.Simulator.Engine;

/// <summary>
/// The simulated GitHub: users, repositories and everything GitHub keeps beside git, and the
/// behaviour that ties them together (branch moves synchronize and merge pull requests, trigger
/// CI and webhooks). The REST API and the control API are thin layers over it.
/// </summary>
/// <remarks>
/// Concurrency: the model is guarded by <see cref="Sync"/>, held only for short in-memory work
/// (never across git or network I/O). Git writes of one repository are serialized by its
/// <see cref="GitRepository.WriteLock"/>, and every branch move is a compare-and-swap.
/// Webhook payloads are built and queued under <see cref="Sync"/>, so deliveries follow the
/// order in which the model changed.
/// </remarks>
public sealed partial class GitHubEngine
{
    private readonly string root;
    private long lastId = 1000;
    private long moveSequence;
    private readonly Dictionary<string, SimUser> users = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SimUser> tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RepoHandle> repos = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<SimHook> globalHooks = [];
    private readonly List<BranchMove> moves = [];

    internal object Sync { get; } = new();

    public GitHubEngine(string root, TimeProvider time, WebhookDispatcher webhooks, SimulatedCiConfigHolder? ci = null)
    {
        this.root = root;
        Time = time;
        Webhooks = webhooks;
        Ci = new SimulatedCi(this, ci ?? new SimulatedCiConfigHolder());
        CiUser = CreateUser(new CreateUserRequest("simulated-ci[bot]", "Bot"));
        GitHubUser = new SimUser { Id = 9919, Login = "web-flow", Type = "User" };
    }

    public TimeProvider Time { get; }
    public WebhookDispatcher Webhooks { get; }
    public SimulatedCi Ci { get; }

    /// <summary>The account the simulated CI posts statuses and check runs as.</summary>
    public SimUser CiUser { get; }

    /// <summary>GitHub's own identity: the committer of merges made through the API.</summary>
    public SimUser GitHubUser { get; }

    /// <summary>Builds GitHub-shaped JSON; set once the server knows its address.</summary>
    public GitHubJson Json { get; internal set; } = new(new Uri("http://127.0.0.1/"));

    public DateTimeOffset Now => Time.GetUtcNow();

    internal long NextId() => Interlocked.Increment(ref lastId);

    // ---- users and permissions ----

    public SimUser CreateUser(CreateUserRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Login) || request.Login.Contains('/'))
            throw SimulatorError.Validation("Invalid login", "User", "login");
        lock (Sync)
        {
            if (users.TryGetValue(request.Login, out var existing))
            {
                if (request.GlobalPermission is not null) existing.GlobalPermission = request.GlobalPermission;
                return existing;
            }
            var user = new SimUser
            {
                Id = NextId(),
                Login = request.Login,
                Type = request.Type ?? (request.Login.EndsWith("[bot]", StringComparison.Ordinal) ? "Bot" : "User"),
                Token = request.Token ?? "ghs_" + Guid.NewGuid().ToString("N"),
                GlobalPermission = request.GlobalPermission,
                Email = request.Email,
            };
            if (tokens.ContainsKey(user.Token)) throw SimulatorError.Validation("Token already in use", "User", "token");
            users[user.Login] = user;
            tokens[user.Token] = user;
            return user;
        }
    }

    public SimUser? FindUser(string login)
    {
        lock (Sync) return users.GetValueOrDefault(login);
    }

    public SimUser GetUser(string login) => FindUser(login) ?? throw new SimulatorError(404, $"User {login} not found");

    public SimUser? UserByToken(string token)
    {
        lock (Sync) return tokens.GetValueOrDefault(token);
    }

    private static readonly string[] PermissionOrder = ["none", "read", "triage", "write", "maintain", "admin"];

    public static int PermissionRank(string? permission) => Math.Max(0, Array.IndexOf(PermissionOrder, permission ?? "none"));

    /// <summary>The user's effective role on the repository: admin, maintain, write, triage, read or none.</summary>
    public string RoleOf(RepoHandle repo, SimUser user)
    {
        lock (Sync)
        {
            if (user.Id == repo.Model.Owner.Id) return "admin";
            var candidates = new List<string> { repo.Model.Private ? "none" : "read" };
            if (repo.Model.Permissions.TryGetValue(user.Login, out var p)) candidates.Add(p);
            // An App's bot may write to its installations' repositories (contents, pull requests, statuses, checks: write).
            if (user.AppId is { } appId && installations.Values.Any(i => i.App.Id == appId && i.Repositories.Contains(repo.FullName))) candidates.Add("write");
            if (user.GlobalPermission is not null) candidates.Add(user.GlobalPermission);
            return candidates.MaxBy(PermissionRank)!;
        }
    }

    public void SetPermission(RepoHandle repo, string login, string permission)
    {
        if (PermissionRank(permission) == 0 && permission != "none")
            throw SimulatorError.Validation($"Unknown permission {permission}", "Permission", "permission");
        GetUser(login);
        lock (Sync)
        {
            if (permission == "none") repo.Model.Permissions.Remove(login);
            else repo.Model.Permissions[login] = permission;
        }
    }

    /// <summary>GitHub hides repositories a user can't read: 404, not 403.</summary>
    public void RequireRead(RepoHandle repo, SimUser user)
    {
        if (PermissionRank(RoleOf(repo, user)) < PermissionRank("read")) throw SimulatorError.NotFound();
    }

    public void RequireWrite(RepoHandle repo, SimUser user)
    {
        RequireRead(repo, user);
        if (PermissionRank(RoleOf(repo, user)) < PermissionRank("write"))
            throw SimulatorError.Forbidden("Must have push access to repository");
    }

    internal SimSignature SignatureOf(SimUser user, DateTimeOffset? when = null) =>
        new(user.Login, user.Email ?? $"{user.Id}+{user.Login}@users.noreply.github.com", when ?? Now);

    internal SimSignature GitHubSignature() => new("GitHub", "noreply@github.com", Now);

    // ---- repositories ----

    public async Task<RepoHandle> CreateRepositoryAsync(CreateRepositoryRequest request, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Contains('/'))
            throw SimulatorError.Validation("name is invalid", "Repository", "name");
        var owner = FindUser(request.Owner) ?? CreateUser(new CreateUserRequest(request.Owner));
        var defaultBranch = request.DefaultBranch ?? "main";
        var fullName = $"{owner.Login}/{request.Name}";
        var id = NextId();
        var gitDir = Path.Combine(root, "repos", id.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".git");
        lock (Sync)
        {
            if (repos.ContainsKey(fullName)) throw SimulatorError.Validation("name already exists on this account", "Repository", "name", "custom");
        }
        var git = await GitRepository.InitAsync(gitDir, defaultBranch, ct);
        var model = new SimRepository
        {
            Id = id,
            Owner = owner,
            Name = request.Name,
            DefaultBranch = defaultBranch,
            Private = request.Private,
            GitDir = gitDir,
            CreatedAt = Now,
            UpdatedAt = Now,
            PushedAt = Now,
        };
        var handle = new RepoHandle(model, git);
        lock (Sync)
        {
            if (!repos.TryAdd(fullName, handle)) throw SimulatorError.Validation("name already exists on this account", "Repository", "name", "custom");
        }
        var files = request.Files ?? new Dictionary<string, string> { ["README.md"] = $"# {request.Name}\n" };
        await CommitFilesAsync(handle, new CommitRequest(defaultBranch, files.ToDictionary(f => f.Key, f => (string?)f.Value), request.Message ?? "Initial commit", owner.Login), "control", ct);
        return handle;
    }

    public RepoHandle? FindRepo(string owner, string name)
    {
        lock (Sync) return repos.GetValueOrDefault($"{owner}/{name}");
    }

    public RepoHandle GetRepo(string owner, string name) => FindRepo(owner, name) ?? throw SimulatorError.NotFound();

    public IReadOnlyList<RepoHandle> AllRepos()
    {
        lock (Sync) return repos.Values.ToList();
    }

    // ---- hooks ----

    public SimHook AddGlobalHook(HookRequest request)
    {
        ValidateHookUrl(request.Url);
        var hook = new SimHook { Id = NextId(), Url = request.Url, Secret = request.Secret, Events = request.Events?.ToList() ?? ["*"], CreatedAt = Now };
        lock (Sync) globalHooks.Add(hook);
        return hook;
    }

    public SimHook AddRepoHook(RepoHandle repo, string url, string? secret, IReadOnlyList<string>? events, bool active, string contentType)
    {
        ValidateHookUrl(url);
        var hook = new SimHook { Id = NextId(), Url = url, Secret = secret, Events = events?.ToList() ?? ["push"], Active = active, Repository = repo.FullName, ContentType = contentType, CreatedAt = Now };
        lock (Sync) repo.Model.Hooks.Add(hook);
        return hook;
    }

    private static void ValidateHookUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            throw SimulatorError.Validation("Invalid URL", "Hook", "url", "custom");
    }

    public IReadOnlyList<SimHook> GlobalHooks()
    {
        lock (Sync) return globalHooks.ToList();
    }

    /// <summary>Queues one event for every active hook that wants it. Call under <see cref="Sync"/>.</summary>
    internal void Emit(RepoHandle repo, string eventName, JsonObject payload)
    {
        var action = payload["action"]?.GetValue<string>();
        var body = payload.ToJsonString();
        foreach (var hook in globalHooks.Concat(repo.Model.Hooks))
        {
            if (!hook.Active || !(hook.Events.Contains("*") || hook.Events.Contains(eventName))) continue;
            var hookBody = body;
            if (hook.Repository is null)
            {
                // A GitHub App's deliveries name the installation they come through; a registered App hears
                // only of its installations' repositories (a hook registered without an App: installation 1).
                long installationId = 1;
                if (hook.AppId is { } appId)
                {
                    if (installations.Values.FirstOrDefault(i => i.App.Id == appId && i.Repositories.Contains(repo.FullName)) is not { } installation) continue;
                    installationId = installation.Id;
                }
                var withInstallation = JsonNode.Parse(body)!.AsObject();
                withInstallation["installation"] = GitHubJson.InstallationReference(installationId);
                hookBody = withInstallation.ToJsonString();
            }
            Webhooks.Enqueue(hook, eventName, action, repo.FullName, hookBody);
        }
    }

    // ---- branch moves ----

    public IReadOnlyList<BranchMove> Moves(string? repository = null, string? branch = null)
    {
        lock (Sync)
            return moves.Where(m => (repository is null || string.Equals(m.Repository, repository, StringComparison.OrdinalIgnoreCase))
                                    && (branch is null || m.Branch == branch)).ToList();
    }

    /// <summary>Latest status per context, GitHub's combined state, and the latest check run per name.</summary>
    public CommitChecks ChecksOf(RepoHandle repo, string sha)
    {
        lock (Sync)
        {
            var latest = LatestStatuses(repo, sha);
            var runs = repo.Model.CheckRuns.Where(r => r.HeadSha == sha)
                .GroupBy(r => r.Name).Select(g => g.MaxBy(r => r.Id)!)
                .Select(r => new CheckRunSnapshot(r.Id, r.Name, r.Status, r.Conclusion, repo.Model.CheckSuites.FirstOrDefault(s => s.Id == r.CheckSuiteId)?.App?.Login))
                .ToList();
            return new CommitChecks(sha, CombinedState(latest),
                latest.Select(s => new StatusSnapshot(s.Id, s.Context, s.State, s.Description, s.TargetUrl, s.Creator.Login, s.CreatedAt)).ToList(),
                runs);
        }
    }

    /// <summary>The latest status of each context (contexts compare case-insensitively, as on GitHub), newest first.</summary>
    internal static List<SimStatus> LatestStatuses(RepoHandle repo, string sha) =>
        repo.Model.Statuses.Where(s => s.Sha == sha)
            .GroupBy(s => s.Context, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.MaxBy(s => s.Id)!)
            .OrderByDescending(s => s.Id)
            .ToList();

    /// <summary>GitHub's rule: failure if any error/failure; pending if none or any pending; success otherwise.</summary>
    public static string CombinedState(IReadOnlyCollection<SimStatus> latest)
    {
        if (latest.Any(s => s.State is "error" or "failure")) return "failure";
        if (latest.Count == 0 || latest.Any(s => s.State == "pending")) return "pending";
        return "success";
    }
}
