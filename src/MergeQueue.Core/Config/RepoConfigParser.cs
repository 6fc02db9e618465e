using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace MergeQueue.Core.Config;

/// <summary>The result of reading a config file: the config when it is valid, else every error found.</summary>
public sealed record ConfigParseResult(RepoConfig? Config, IReadOnlyList<string> Errors)
{
    public bool IsValid => Config is not null;
}

/// <summary>Reads <c>.github/mergequeue.yml</c>. Unknown keys are errors, so a typo never silently falls back to a default.</summary>
public static class RepoConfigParser
{
    public const string Path = ".github/mergequeue.yml";
    /// <summary>The value of <c>required_checks</c> that reads the checks from the target's branch protection.</summary>
    public const string FromBranchProtection = "from_branch_protection";

    public static ConfigParseResult Parse(string yaml)
    {
        var errors = new List<string>();
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode map)
                return new(null, ["the file must be a YAML mapping of keys to values"]);
            root = map;
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            return new(null, [$"invalid YAML at line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}"]);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner throws this for some malformed input instead of a YamlException.
            return new(null, [$"invalid YAML: {e.Message}"]);
        }

        var config = RepoConfig.FileDefaults;
        foreach (var (keyNode, value) in root.Children)
        {
            // A key that is a list or a mapping is a mistake in the file, not a reason to throw.
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                errors.Add($"a key must be a plain word, not '{keyNode}'");
                continue;
            }
            try
            {
                config = key switch
                {
                    "target_branches" => config with { TargetBranches = NonEmptyList(key, value) },
                    "strategy" => config with { Strategy = Strategy(Scalar(key, value)) },
                    "required_approvals" => config with { RequiredApprovals = Int(key, value, min: 0) },
                    "required_checks" when value is YamlScalarNode { Value: FromBranchProtection } =>
                        config with { RequiredChecks = [], RequiredChecksFromBranchProtection = true },
                    "required_checks" => config with { RequiredChecks = List(key, value), RequiredChecksFromBranchProtection = false },
                    "pre_checks" => config with { PreChecks = List(key, value) },
                    "queue_on_approval" => config with { QueueOnApproval = Bool(key, value) },
                    "batch_delay" or "max_batch_size" or "batch_min_size" or "beside_bisection" when Scalar(key, value) == "auto" => config,
                    "batch_delay" => Fixed(config, key) with { BatchDelay = Duration(key, value) },
                    "max_batch_size" => Fixed(config, key) with { MaxBatchSize = Int(key, value, min: 1) },
                    "batch_min_size" => Fixed(config, key) with { BatchMinSize = Int(key, value, min: 0) },
                    "comments" => config with { Comments = Bool(key, value) },
                    "branch_prefix" => config with { BranchPrefix = BranchPrefix(key, value) },
                    "required_labels" => config with { RequiredLabels = List(key, value) },
                    "blocking_labels" => config with { BlockingLabels = List(key, value) },
                    "commit_message_pattern" => config with { CommitMessagePattern = Pattern(key, value) },
                    "max_changed_lines" => config with { MaxChangedLines = NullableInt(key, value) },
                    "allowed_authors" => config with { AllowedAuthors = List(key, value) },
                    "denied_authors" => config with { DeniedAuthors = List(key, value) },
                    "timeouts" => config with { Timeouts = ParseTimeouts(value) },
                    "parallel_attempts" => config with { ParallelAttempts = Int(key, value, min: 1) },
                    "bisect" => config with { Bisect = Scalar(key, value) switch
                    {
                        "concurrent" => BisectMode.Concurrent,
                        "serial" => BisectMode.Serial,
                        var s => throw new ConfigException($"'bisect' must be concurrent or serial, not '{s}'"),
                    } },
                    "beside_bisection" => Fixed(config, key) with { BesideBisection = Bool(key, value) },
                    "allow_no_checks" => config with { AllowNoChecks = Bool(key, value) },
                    "flaky_retries" => config with { FlakyRetries = Int(key, value, min: 0) },
                    "flaky_patterns" => config with { FlakyPatterns = List(key, value) },
                    "notify" => config with { Notify = ParseNotify(value) },
                    "jobs" => config with { Jobs = ParseJobs(value, errors) },
                    _ => throw new ConfigException($"unknown key '{key}'"),
                };
            }
            catch (ConfigException e)
            {
                errors.Add(e.Message);
            }
        }
        // With no required check the target would move to commits nothing tested: only on purpose.
        if (config.RequiredChecks.Count == 0 && !config.AllowNoChecks && !config.RequiredChecksFromBranchProtection)
            errors.Add("'required_checks' is empty: the target would move to untested commits; list the checks, use from_branch_protection, or also set allow_no_checks: true");
        return errors.Count == 0 ? new(config, []) : new(null, errors);
    }

    /// <summary>Parses <c>30s</c>, <c>10m</c>, <c>1h</c>, <c>1d</c> (CONTRACT §3).</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        var m = Regex.Match(text.Trim(), @"^(\d{1,7})(s|m|h|d)$");
        if (!m.Success) return false;
        var n = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        duration = m.Groups[2].Value switch
        {
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
        return true;
    }

    private static Timeouts ParseTimeouts(YamlNode node)
    {
        if (node is not YamlMappingNode map) throw new ConfigException("'timeouts' must be a mapping");
        var t = new Timeouts();
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } key }) throw new ConfigException("a key of 'timeouts' must be a plain word");
            var d = Duration($"timeouts.{key}", v);
            t = key switch
            {
                "requested" => t with { Requested = d },
                "queued" => t with { Queued = d },
                "merging" => t with { Merging = d },
                "split" => t with { Split = d },
                "constructing" => t with { Constructing = d },
                "testing" => t with { Testing = d },
                "success" => t with { Success = d },
                _ => throw new ConfigException($"unknown key 'timeouts.{key}'"),
            };
        }
        return t;
    }

    private static NotifyConfig ParseNotify(YamlNode node)
    {
        if (node is not YamlMappingNode map) throw new ConfigException("'notify' must be a mapping (webhooks, slack, stuck_after)");
        var n = new NotifyConfig();
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } key }) throw new ConfigException("a key of 'notify' must be a plain word");
            n = key switch
            {
                "webhooks" => n with { Webhooks = List("notify.webhooks", v) },
                "slack" => n with { Slack = List("notify.slack", v) },
                "stuck_after" => n with { StuckAfter = IsNull(v) ? null : Duration("notify.stuck_after", v) },
                // Worded without "unknown key": that phrase is kept for the file's top level (ConfigSchemaTests).
                _ => throw new ConfigException($"'notify' has no setting '{key}' (webhooks, slack, stuck_after)"),
            };
        }
        return n;
    }

    /// <summary>Contexts the queue posts itself: a job of that name would fight over the status.</summary>
    public static readonly IReadOnlySet<string> ReservedJobNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "mergequeue", "mergequeue-try", "mergequeue-config" };

    /// <summary>Reads <c>jobs:</c>; each bad job adds its errors and is left out (the whole file is then refused).</summary>
    private static IReadOnlyList<JobConfig> ParseJobs(YamlNode node, List<string> errors)
    {
        if (IsNull(node)) return [];
        if (node is not YamlMappingNode map) throw new ConfigException("'jobs' must be a mapping of job names to jobs (run, on, timeout, env)");
        var jobs = new List<JobConfig>();
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { Length: > 0 } name }) { errors.Add("a job's name must be a plain word"); continue; }
            try
            {
                if (ReservedJobNames.Contains(name)) throw new ConfigException($"job '{name}': the name is the queue's own status context; choose another");
                if (!Regex.IsMatch(name, @"^[A-Za-z0-9][A-Za-z0-9._/ -]{0,99}$"))
                    throw new ConfigException($"job '{name}': a name is letters, digits, '.', '_', '-', '/' or spaces (at most 100)");
                jobs.Add(ParseJob(name, v));
            }
            catch (ConfigException e)
            {
                errors.Add(e.Message);
            }
        }
        return jobs;
    }

    private static JobConfig ParseJob(string name, YamlNode node)
    {
        if (node is not YamlMappingNode map) throw new ConfigException($"job '{name}' must be a mapping (run, on, timeout, env)");
        string? run = null;
        var job = new JobConfig { Name = name, Run = "" };
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } key }) throw new ConfigException($"a key of job '{name}' must be a plain word");
            var where = $"jobs.{name}.{key}";
            switch (key)
            {
                case "run": run = Scalar(where, v); break;
                case "on": job = job with { On = List(where, v).Select(t => Trigger(where, t)).Distinct().ToArray() }; break;
                case "timeout":
                    var timeout = Duration(where, v);
                    job = job with { Timeout = timeout > TimeSpan.Zero ? timeout : throw new ConfigException($"'{where}' must be longer than 0s") };
                    break;
                case "env": job = job with { Env = JobEnv(where, v) }; break;
                default: throw new ConfigException($"job '{name}' has no setting '{key}' (run, on, timeout, env)");
            }
        }
        if (string.IsNullOrWhiteSpace(run)) throw new ConfigException($"job '{name}' needs a command: 'run' is missing or empty");
        if (job.On.Count == 0) throw new ConfigException($"'jobs.{name}.on' must list at least one of staging, try, pull_request, push");
        return job with { Run = run };
    }

    private static JobTrigger Trigger(string key, string value) => value switch
    {
        "staging" => JobTrigger.Staging,
        "try" => JobTrigger.Try,
        "pull_request" => JobTrigger.PullRequest,
        "push" => JobTrigger.Push,
        _ => throw new ConfigException($"'{key}' has '{value}': a job runs on staging, try, pull_request or push"),
    };

    private static IReadOnlyDictionary<string, string> JobEnv(string key, YamlNode node)
    {
        if (IsNull(node)) return new Dictionary<string, string>();
        if (node is not YamlMappingNode map) throw new ConfigException($"'{key}' must be a mapping of names to plain values");
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } name } || !Regex.IsMatch(name, "^[A-Za-z_][A-Za-z0-9_]*$"))
                throw new ConfigException($"'{key}': '{k}' is not a variable name");
            env[name] = v is YamlScalarNode { Value: var value } ? value ?? "" : throw new ConfigException($"'{key}.{name}' must be a plain value");
        }
        return env;
    }

    private static RepoConfig Fixed(RepoConfig config, string key) =>
        config with { AutoBatching = config.AutoBatching.Where(k => k != key).ToHashSet() };

    private static string Scalar(string key, YamlNode node) =>
        node is YamlScalarNode { Value: { } v } ? v : throw new ConfigException($"'{key}' must be a single value");

    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode s && (s.Value is null or "" or "~" or "null") && s.Style == YamlDotNet.Core.ScalarStyle.Plain;

    private static IReadOnlyList<string> List(string key, YamlNode node)
    {
        if (IsNull(node)) return [];
        if (node is YamlSequenceNode seq)
            return seq.Children.Select(c => Scalar(key, c)).ToArray();
        return [Scalar(key, node)];
    }

    private static IReadOnlyList<string> NonEmptyList(string key, YamlNode node)
    {
        var list = List(key, node);
        return list.Count > 0 ? list : throw new ConfigException($"'{key}' must list at least one branch");
    }

    private static int Int(string key, YamlNode node, int min)
    {
        var s = Scalar(key, node);
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min)
            throw new ConfigException($"'{key}' must be a whole number of at least {min}, not '{s}'");
        return n;
    }

    private static int? NullableInt(string key, YamlNode node) => IsNull(node) ? null : Int(key, node, min: 1);

    private static bool Bool(string key, YamlNode node) => Scalar(key, node).ToLowerInvariant() switch
    {
        "true" or "yes" or "on" => true,
        "false" or "no" or "off" => false,
        var s => throw new ConfigException($"'{key}' must be true or false, not '{s}'"),
    };

    private static TimeSpan Duration(string key, YamlNode node)
    {
        var s = Scalar(key, node);
        return TryParseDuration(s, out var d)
            ? d
            : throw new ConfigException($"'{key}' must be a duration such as 30s, 10m, 1h or 1d, not '{s}'");
    }

    private static MergeStrategy Strategy(string s) => s switch
    {
        "merge" => MergeStrategy.Merge,
        "octopus" => MergeStrategy.Octopus,
        "squash" => MergeStrategy.Squash,
        "batch-squash" => MergeStrategy.BatchSquash,
        "cherry-pick" => MergeStrategy.CherryPick,
        _ => throw new ConfigException($"unknown strategy '{s}' (merge, octopus, squash, batch-squash or cherry-pick)"),
    };

    private static string BranchPrefix(string key, YamlNode node)
    {
        var s = Scalar(key, node).Trim('/');
        return Regex.IsMatch(s, @"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
            ? s
            : throw new ConfigException($"'{key}' must be a branch name prefix, not '{s}'");
    }

    private static string? Pattern(string key, YamlNode node)
    {
        if (IsNull(node)) return null;
        var s = Scalar(key, node);
        try
        {
            _ = new Regex(s, RegexOptions.None, TimeSpan.FromSeconds(1));
            return s;
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"'{key}' is not a valid regular expression: {e.Message}");
        }
    }

    private sealed class ConfigException(string message) : Exception(message);
}
