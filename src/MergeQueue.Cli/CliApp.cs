using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace MergeQueue.Cli;

/// <summary>
/// The <c>mergequeue</c> command line: a client of the REST API only. Exit codes: 0 success,
/// 1 the server refused or could not be reached, 2 a bad command line.
/// </summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Runs one command; <paramref name="environment"/> supplies MERGEQUEUE_URL and MERGEQUEUE_KEY.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken ct = default)
    {
        var root = Build(stdout, environment);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) stderr.WriteLine($"mergequeue: {error.Message}");
            stderr.WriteLine("Run 'mergequeue --help' for usage.");
            return Usage;
        }
        try
        {
            return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }, ct);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"mergequeue: {e.Message}");
            return Usage;
        }
        catch (ApiException e)
        {
            stderr.WriteLine($"mergequeue: {e.Message}");
            return Failed;
        }
    }

    private sealed record Globals(Option<string?> Server, Option<string?> Key, Option<bool> Json);

    private static RootCommand Build(TextWriter stdout, Func<string, string?> environment)
    {
        var g = new Globals(
            new Option<string?>("--server") { Description = "Service URL (default: $MERGEQUEUE_URL)", Recursive = true },
            new Option<string?>("--key") { Description = "API key (default: $MERGEQUEUE_KEY)", Recursive = true },
            new Option<bool>("--json") { Description = "Print the server's raw JSON", Recursive = true });
        var root = new RootCommand("mergequeue: drive a MergeQueue service through its REST API") { g.Server, g.Key, g.Json };

        ApiClient Client(ParseResult r)
        {
            var server = r.GetValue(g.Server) ?? environment("MERGEQUEUE_URL");
            var key = r.GetValue(g.Key) ?? environment("MERGEQUEUE_KEY");
            if (string.IsNullOrWhiteSpace(server))
                throw new UsageException("no server: pass --server URL or set MERGEQUEUE_URL");
            if (!Uri.TryCreate(server, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                throw new UsageException($"'{server}' is not an http(s) URL");
            if (string.IsNullOrWhiteSpace(key))
                throw new ApiException("no API key: pass --key KEY or set MERGEQUEUE_KEY");
            return new ApiClient(url, key, Timeout);
        }

        // A read prints the raw JSON with --json, else the human rendering.
        void Read(Command command, Func<ParseResult, string> path, Action<JsonElement> render) =>
            command.SetAction(async (r, ct) =>
            {
                var p = path(r);
                using var api = Client(r);
                var json = await api.GetAsync(p, ct);
                if (r.GetValue(g.Json)) stdout.WriteLine(json);
                else
                {
                    using var doc = JsonDocument.Parse(json);
                    render(doc.RootElement);
                }
                return Ok;
            });

        // An action prints the server's message (or its JSON with --json).
        void Act(Command command, Func<ParseResult, (string Path, object? Body)> request, Func<ParseResult, JsonElement?, string> message, HttpMethod? method = null) =>
            command.SetAction(async (r, ct) =>
            {
                var (p, body) = request(r);
                using var api = Client(r);
                var json = (method ?? HttpMethod.Post).Method switch
                {
                    "DELETE" => await api.DeleteAsync(p, ct),
                    "PUT" => await api.PutAsync(p, body!, ct),
                    _ => await api.PostAsync(p, body, ct),
                };
                if (r.GetValue(g.Json)) stdout.WriteLine(string.IsNullOrEmpty(json) ? "{}" : json);
                else if (string.IsNullOrEmpty(json)) stdout.WriteLine(message(r, null));
                else
                {
                    using var doc = JsonDocument.Parse(json);
                    stdout.WriteLine(message(r, doc.RootElement.Clone()));
                }
                return Ok;
            });

        // repos
        var repos = new Command("repos", "List the repositories the service knows");
        Read(repos, _ => "repos", e => Table.Write(stdout, ["REPOSITORY", "ENABLED", "MANAGED", "TARGETS"],
            e.EnumerateArray().Select(x => (IReadOnlyList<string>)[
                Str(x, "fullName"), Bool(x, "enabled"), Str(x, "managed") is "" ? "unknown" : Bool(x, "managed"),
                string.Join(", ", x.GetProperty("targets").EnumerateArray().Select(Target))])));
        root.Add(repos);

        // queue
        var queueRepo = RepoArgument();
        var state = new Option<string>("--state") { Description = "active (default), finished, all, or state names, comma-separated", DefaultValueFactory = _ => "active" };
        var limit = new Option<int>("--limit") { Description = "At most this many (1-1000)", DefaultValueFactory = _ => 100 };
        var queue = new Command("queue", "List a repository's pull requests in the queue") { queueRepo, state, limit };
        Read(queue, r => $"repos/{RepoRef.Parse(r.GetValue(queueRepo)!).Path}/pulls?state={Uri.EscapeDataString(r.GetValue(state)!)}&limit={Limit(r.GetValue(limit))}",
            e => Table.Write(stdout, ["PR", "TARGET", "STATE", "PRIORITY", "ATTEMPT", "SINCE", "TITLE"],
                e.EnumerateArray().Select(x => (IReadOnlyList<string>)[
                    "#" + Num(x, "number"), Str(x, "target"), Str(x, "state"), Num(x, "priority"), Str(x, "attempt") is "" ? "-" : Num(x, "attempt"),
                    Time(x, "stateChangedAt"), Str(x, "title")])));
        root.Add(queue);

        // pr
        var prArg = PullArgument();
        var pr = new Command("pr", "Show a pull request: its requests, attempts, timeline and why it is not merging") { prArg };
        Read(pr, r => PullPath(r.GetValue(prArg)!), e => RenderPull(stdout, e));
        root.Add(pr);

        // merge, cancel, retry
        var mergeArg = PullArgument();
        var priority = new Option<int?>("--priority") { Description = "Queue priority (higher first)" };
        var branch = new Option<string?>("--branch") { Description = "Target branch (default: the PR's base)" };
        var merge = new Command("merge", "Ask the queue to merge a pull request") { mergeArg, priority, branch };
        Act(merge, r => (PullPath(r.GetValue(mergeArg)!) + "/merge", new { priority = r.GetValue(priority), branch = r.GetValue(branch) }), ActionMessage);
        root.Add(merge);
        foreach (var (name, help) in new[] { ("cancel", "Take a pull request out of the queue"), ("retry", "Request a pull request again, as last time") })
        {
            var arg = PullArgument();
            var command = new Command(name, help) { arg };
            Act(command, r => (PullPath(r.GetValue(arg)!) + "/" + name, null), ActionMessage);
            root.Add(command);
        }

        // trigger
        var triggerRepo = RepoArgument();
        var triggerBranch = new Option<string?>("--branch") { Description = "Run the repository's runner jobs on this branch's head" };
        var triggerSha = new Option<string?>("--sha") { Description = "Run the repository's runner jobs on this commit (40 hex digits)" };
        var trigger = new Command("trigger",
            "Without options: build the next batches now, without waiting for the poller. With --branch or --sha: run the built-in runner's jobs on that commit")
            { triggerRepo, triggerBranch, triggerSha };
        Act(trigger, r =>
        {
            var (b, sha) = (r.GetValue(triggerBranch), r.GetValue(triggerSha));
            if (b is not null && sha is not null) throw new UsageException("give --branch or --sha, not both");
            return ($"trigger/{RepoRef.Parse(r.GetValue(triggerRepo)!).Path}", b is null && sha is null ? null : new { branch = b, sha });
        }, TriggerMessage);
        root.Add(trigger);

        root.Add(CommitsCommand(stdout, Client, g.Json));
        root.Add(ResultsCommand(stdout, Read));
        root.Add(RunsCommand(stdout, Read, Client));

        // freeze, unfreeze
        foreach (var name in new[] { "freeze", "unfreeze" })
        {
            var repo = RepoArgument();
            var target = new Argument<string>("target") { Description = "Target branch" };
            var command = new Command(name, name == "freeze" ? "Stop new attempts on a target branch" : "Let a frozen target branch start attempts again") { repo, target };
            Option<string?>? reason = null;
            if (name == "freeze")
            {
                reason = new Option<string?>("--reason") { Description = "Why (shown on the dashboard, at most 500 characters)" };
                command.Add(reason);
            }
            Act(command, r => ($"repos/{RepoRef.Parse(r.GetValue(repo)!).Path}/targets/{Uri.EscapeDataString(r.GetValue(target)!)}/{name}",
                reason is null ? null : new { reason = r.GetValue(reason) }), ActionMessage);
            root.Add(command);
        }

        root.Add(KeysCommand(stdout, Read, Act));
        root.Add(UsersCommand(stdout, Read, Act));
        return root;
    }

    private delegate void ReadAction(Command command, Func<ParseResult, string> path, Action<JsonElement> render);

    private delegate void ActAction(Command command, Func<ParseResult, (string Path, object? Body)> request, Func<ParseResult, JsonElement?, string> message, HttpMethod? method = null);

    private static Command KeysCommand(TextWriter stdout, ReadAction read, ActAction act)
    {
        var keys = new Command("keys", "API keys (admin)");

        var name = new Option<string>("--name") { Description = "A name for the key (the actor in the audit log)", Required = true };
        var role = RoleOption(required: true, key: true);
        var repos = RepoListOption();
        var create = new Command("create", "Create a key; its secret is shown only this once") { name, role, repos };
        act(create, r => ("keys", new { name = r.GetValue(name), role = r.GetValue(role), repos = Repos(r.GetValue(repos)) }),
            (_, e) => $"created key {Num(e!.Value, "id")} '{Str(e.Value, "name")}' ({Str(e.Value, "role")}): {Str(e.Value, "key")}\nStore it now: it is not shown again.");
        keys.Add(create);

        var list = new Command("list", "List keys (without secrets)");
        read(list, _ => "keys", e => Table.Write(stdout, ["ID", "NAME", "ROLE", "REPOS", "CREATED", "BY", "REVOKED"],
            e.EnumerateArray().Select(x => (IReadOnlyList<string>)[
                Num(x, "id"), Str(x, "name"), Str(x, "role"), List(x, "repos"), Time(x, "createdAt"), Str(x, "createdBy"),
                Str(x, "revokedAt") is "" ? "-" : Time(x, "revokedAt")])));
        keys.Add(list);

        var id = IdArgument();
        var revoke = new Command("revoke", "Revoke a key: it is refused from now on") { id };
        act(revoke, r => ($"keys/{r.GetValue(id)}", null), (r, _) => $"revoked key {r.GetValue(id)}", HttpMethod.Delete);
        keys.Add(revoke);
        return keys;
    }

    private static Command UsersCommand(TextWriter stdout, ReadAction read, ActAction act)
    {
        var users = new Command("users", "Users who sign in to the dashboard with GitHub (admin)");
        string[] header = ["ID", "LOGIN", "ROLE", "REPOS", "UPDATED"];
        IReadOnlyList<string> Row(JsonElement x) => [Num(x, "id"), Str(x, "login"), Str(x, "role"), List(x, "repos"), Time(x, "updatedAt")];

        var list = new Command("list", "List users");
        read(list, _ => "users", e => Table.Write(stdout, header, e.EnumerateArray().Select(Row)));
        users.Add(list);

        var getId = IdArgument();
        var get = new Command("get", "Show one user") { getId };
        read(get, r => $"users/{r.GetValue(getId)}", e => Table.Write(stdout, header, [Row(e)]));
        users.Add(get);

        var login = new Option<string>("--login") { Description = "GitHub login", Required = true };
        var role = RoleOption(required: true);
        var repos = RepoListOption();
        var create = new Command("create", "Create a user") { login, role, repos };
        act(create, r => ("users", new { login = r.GetValue(login), role = r.GetValue(role), repos = Repos(r.GetValue(repos)) }),
            (_, e) => $"created user {Num(e!.Value, "id")} {Str(e.Value, "login")} ({Str(e.Value, "role")})");
        users.Add(create);

        var updateId = IdArgument();
        var newRole = RoleOption(required: false);
        var newRepos = RepoListOption();
        var update = new Command("update", "Change a user's role or repositories (the others stay)") { updateId, newRole, newRepos };
        act(update, r =>
        {
            var roleValue = r.GetValue(newRole);
            // An absent --repo keeps the user's repositories; the parser gives an empty array either way.
            var repoValues = r.GetResult(newRepos) is null ? null : r.GetValue(newRepos);
            if (roleValue is null && repoValues is null) throw new UsageException("nothing to change: pass --role and/or --repo");
            return ($"users/{r.GetValue(updateId)}", new { role = roleValue, repos = repoValues is null ? null : Repos(repoValues) });
        }, (_, e) => $"updated user {Num(e!.Value, "id")} {Str(e.Value, "login")} ({Str(e.Value, "role")}; repos: {List(e.Value, "repos")})", HttpMethod.Put);
        users.Add(update);

        var deleteId = IdArgument();
        var delete = new Command("delete", "Delete a user") { deleteId };
        act(delete, r => ($"users/{r.GetValue(deleteId)}", null), (r, _) => $"deleted user {r.GetValue(deleteId)}", HttpMethod.Delete);
        users.Add(delete);
        return users;
    }

    private static void RenderPull(TextWriter o, JsonElement e)
    {
        o.WriteLine($"{Str(e, "repo")}#{Num(e, "number")}");
        var requests = e.GetProperty("requests").EnumerateArray().ToList();
        var latest = requests.MaxBy(x => x.GetProperty("requestedAt").GetDateTimeOffset());
        if (latest.ValueKind == JsonValueKind.Object)
        {
            o.WriteLine($"  title:    {Str(latest, "title")}");
            o.WriteLine($"  state:    {Str(latest, "state")} (target {Str(latest, "target")}, priority {Num(latest, "priority")}, requested by {Str(latest, "requestedBy")})");
            if (Str(latest, "reason") is { Length: > 0 } reason) o.WriteLine($"  reason:   {reason}");
        }
        else o.WriteLine("  never requested");
        o.WriteLine("Why not merging:");
        var why = e.GetProperty("whyNotMerging").EnumerateArray().Select(x => x.GetString() ?? "").ToList();
        if (why.Count == 0) o.WriteLine("  (nothing holds it back)");
        foreach (var line in why) o.WriteLine($"  - {line}");
        if (requests.Count > 0)
        {
            o.WriteLine("Requests:");
            Table.Write(o, ["  ID", "TARGET", "STATE", "PRIORITY", "REQUESTED"],
                requests.Select(x => (IReadOnlyList<string>)["  " + Num(x, "id"), Str(x, "target"), Str(x, "state"), Num(x, "priority"), Time(x, "requestedAt")]));
        }
        var attempts = e.GetProperty("attempts").EnumerateArray().ToList();
        if (attempts.Count > 0)
        {
            o.WriteLine("Attempts:");
            Table.Write(o, ["  ID", "TARGET", "STATE", "PRS", "CREATED"],
                attempts.Select(x => (IReadOnlyList<string>)["  " + Num(x, "id"), Str(x, "target"), Str(x, "state"),
                    string.Join(",", x.GetProperty("pullRequests").EnumerateArray().Select(n => "#" + n.GetInt32().ToString(Inv))), Time(x, "createdAt")]));
        }
        var timeline = e.GetProperty("timeline").EnumerateArray().ToList();
        if (timeline.Count > 0)
        {
            o.WriteLine("Timeline:");
            foreach (var entry in timeline)
            {
                var c = entry.GetProperty("change");
                var move = Str(c, "fromState") is { Length: > 0 } from ? $"{from} -> {Str(c, "toState")}" : Str(c, "toState");
                o.WriteLine($"  {Time(c, "at")}  {Str(c, "kind")} {move}".TrimEnd() + (Str(c, "actor") is { Length: > 0 } a ? $" by {a}" : ""));
            }
        }
    }

    private static string ActionMessage(ParseResult r, JsonElement? e) => e is { } x ? Str(x, "message") : "done";

    // ---- the built-in runner's history (docs/cli.md, docs/runner.md "History and trends") ----

    /// <summary>The answer of a trigger: the construct flow's message, or the runner jobs it queued.</summary>
    private static string TriggerMessage(ParseResult r, JsonElement? e)
    {
        if (e is not { } x || !x.TryGetProperty("queued", out var queued)) return ActionMessage(r, e);
        var lines = new List<string> { $"queued {queued.GetArrayLength()} job(s) on {Str(x, "sha")}{(Str(x, "branch") is { Length: > 0 } b ? $" ({b})" : "")}" };
        lines.AddRange(queued.EnumerateArray().Select(j => $"  {Num(j, "id")}  {Str(j, "job")}  {Str(j, "url")}"));
        if (x.GetProperty("alreadyActive").GetArrayLength() > 0) lines.Add($"already queued or running: {List(x, "alreadyActive")}");
        return string.Join(Environment.NewLine, lines);
    }

    private static Command CommitsCommand(TextWriter stdout, Func<ParseResult, ApiClient> client, Option<bool> json)
    {
        var repo = RepoArgument();
        var branch = new Option<string?>("--branch") { Description = "Only commits tested on this branch (e.g. main, pull/12)" };
        var job = new Option<string?>("--job") { Description = "Only this job (its name, the status context); the result is then that job's" };
        var result = new Option<string?>("--result") { Description = "pending, success, failure or cancelled" }.AcceptOnlyFromAmong("pending", "success", "failure", "cancelled");
        var limit = new Option<int>("--limit") { Description = "At most this many (1-1000)", DefaultValueFactory = _ => 20 };
        var before = new Option<long?>("--before") { Description = "Older than this cursor (printed under a full page)" };
        var commits = new Command("commits", "List the commits the built-in runner tested, newest first, with their result") { repo, branch, job, result, limit, before };
        commits.SetAction(async (r, ct) =>
        {
            var query = new List<string> { $"limit={Limit(r.GetValue(limit))}" };
            foreach (var (name, value) in new[] { ("branch", r.GetValue(branch)), ("job", r.GetValue(job)), ("result", r.GetValue(result)) })
                if (value is not null) query.Add($"{name}={Uri.EscapeDataString(value)}");
            if (r.GetValue(before) is { } cursor) query.Add($"before={cursor.ToString(Inv)}");
            using var api = client(r);
            var text = await api.GetAsync($"repos/{RepoRef.Parse(r.GetValue(repo)!).Path}/commits?{string.Join("&", query)}", ct);
            if (r.GetValue(json))
            {
                stdout.WriteLine(text);
                return Ok;
            }
            using var doc = JsonDocument.Parse(text);
            var rows = doc.RootElement.EnumerateArray().ToList();
            Table.Write(stdout, ["SHA", "BRANCH", "TRIGGER", "RESULT", "JOBS", "QUEUED", "FINISHED"],
                rows.Select(x => (IReadOnlyList<string>)[
                    Str(x, "sha")[..Math.Min(12, Str(x, "sha").Length)], Str(x, "branch") is { Length: > 0 } b ? b : "-", Str(x, "trigger"), Str(x, "result"),
                    $"{Num(x.GetProperty("jobs"), "success")}/{Num(x.GetProperty("jobs"), "total")} passed", Time(x, "firstQueuedAt"), Time(x, "lastFinishedAt")]));
            if (rows.Count == r.GetValue(limit)) stdout.WriteLine($"older: --before {Num(rows[^1], "cursor")}");
            return Ok;
        });
        return commits;
    }

    private static Command ResultsCommand(TextWriter stdout, ReadAction read)
    {
        var repo = RepoArgument();
        var sha = new Argument<string>("sha") { Description = "The commit: its full sha, or a prefix only one tested commit has" };
        var results = new Command("results", "Show the runner's jobs on a commit: state, tries, duration, exit code") { repo, sha };
        read(results, r => $"repos/{RepoRef.Parse(r.GetValue(repo)!).Path}/commits/{Uri.EscapeDataString(r.GetValue(sha)!.Trim())}/results",
            e => Table.Write(stdout, ["ID", "JOB", "STATE", "TRIES", "DURATION", "EXIT", "FINISHED", "DESCRIPTION"],
                e.EnumerateArray().Select(x => (IReadOnlyList<string>)[
                    Num(x, "id"), Str(x, "job"), Str(x, "state"), Num(x, "tries"),
                    x.TryGetProperty("durationSeconds", out var d) && d.ValueKind == JsonValueKind.Number ? $"{d.GetDouble().ToString("0.#", Inv)}s" : "-",
                    Str(x, "exitCode") is { Length: > 0 } code ? code : "-", Time(x, "finishedAt"), Str(x, "description")])));
        return results;
    }

    private static Command RunsCommand(TextWriter stdout, ReadAction read, Func<ParseResult, ApiClient> client)
    {
        var runs = new Command("runs", "Built-in runner jobs");

        var showId = IdArgument();
        var show = new Command("show", "Show one job: commit, trigger, state, tries, times, page and log URLs") { showId };
        read(show, r => $"runs/{r.GetValue(showId).ToString(Inv)}", x =>
        {
            foreach (var name in new[] { "repo", "sha", "job", "trigger", "branch", "state", "description", "tries", "exitCode", "queuedAt", "startedAt", "finishedAt", "url", "logUrl" })
                if (Str(x, name) is { Length: > 0 } value)
                    stdout.WriteLine($"{name + ":",-13} {(name.EndsWith("At", StringComparison.Ordinal) ? Time(x, name) : value)}");
        });
        runs.Add(show);

        var logId = IdArgument();
        var log = new Command("log", "Print a job's log so far (every try, in order), as plain text") { logId };
        log.SetAction(async (r, ct) =>
        {
            using var api = client(r);
            stdout.Write(await api.GetAsync($"runs/{r.GetValue(logId).ToString(Inv)}/log", ct));
            return Ok;
        });
        runs.Add(log);
        return runs;
    }

    private static Argument<string> RepoArgument() => new("owner/repo") { Description = "Repository, as owner/repo" };

    private static Argument<string> PullArgument() => new("owner/repo#number") { Description = "Pull request, as owner/repo#number" };

    private static Argument<long> IdArgument() => new("id") { Description = "Numeric id" };

    /// <param name="key">a key's role: also <c>runner</c> (an external runner process's key)</param>
    private static Option<string?> RoleOption(bool required, bool key = false) => key
        ? new Option<string?>("--role") { Description = "admin, user, read-only or runner (an external runner's key)", Required = required }.AcceptOnlyFromAmong("admin", "user", "read-only", "runner")
        : new Option<string?>("--role") { Description = "admin, user or read-only", Required = required }.AcceptOnlyFromAmong("admin", "user", "read-only");

    private static Option<string[]?> RepoListOption() =>
        new("--repo") { Description = "A repository (owner/repo) a user role may act on; repeat for more", AllowMultipleArgumentsPerToken = false };

    private static string[] Repos(string[]? values) => (values ?? []).Select(v => RepoRef.Parse(v).ToString()).ToArray();

    private static string PullPath(string text)
    {
        var pull = PullRef.Parse(text);
        return $"repos/{pull.Repo.Path}/pulls/{pull.Number.ToString(Inv)}";
    }

    private static string Limit(int value) =>
        value is >= 1 and <= 1000 ? value.ToString(Inv) : throw new UsageException($"--limit must be between 1 and 1000, not {value}");

    private static string Target(JsonElement t)
    {
        var text = $"{Str(t, "target")} (queued {Num(t, "queued")}, waiting {Num(t, "waiting")}, running {t.GetProperty("runningAttempts").GetArrayLength()})";
        return t.TryGetProperty("freeze", out var f) && f.ValueKind == JsonValueKind.Object ? text + " FROZEN" : text;
    }

    private static string Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString() ?? "",
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            _ => v.GetRawText(),
        } : "";

    private static string Num(JsonElement e, string name) => Str(e, name);

    private static string Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True ? "yes" : "no";

    private static string List(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0
            ? string.Join(",", v.EnumerateArray().Select(x => x.GetString())) : "-";

    private static string Time(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var t)
            ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm", Inv) : "-";
}
