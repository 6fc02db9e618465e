using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;
using MergeQueue.Core.Config;
using MergeQueue.Service.Config;

namespace MergeQueue.EndToEnd.Tests.Config;

/// <summary>
/// The schema served at /schema/mergequeue.json says what <see cref="RepoConfigParser"/> says: the
/// documented examples pass both, what the parser refuses fails both, and every key of
/// <see cref="RepoConfig"/> is in the schema.
/// </summary>
public class ConfigSchemaTests
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        using var reader = new StreamReader(ConfigSchema.Open());
        // A registry of its own: the global one refuses a second schema with the same base URI.
        return JsonSchema.FromText(reader.ReadToEnd(), new BuildOptions { SchemaRegistry = new SchemaRegistry() }, new Uri("https://mergequeue.test/schema/mergequeue.json"));
    });

    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    /// <summary>CONTRACT §3's example, comments dropped, with its commented job example as a job.</summary>
    private const string ContractExample = """
        target_branches: [main]
        strategy: merge
        required_approvals: 1
        required_checks: [ci]
        pre_checks: []
        queue_on_approval: false
        batch_delay: 10m
        max_batch_size: 8
        comments: false
        branch_prefix: mergequeue
        required_labels: []
        blocking_labels: [do-not-merge]
        commit_message_pattern: null
        max_changed_lines: null
        allowed_authors: []
        timeouts: { requested: 1h, queued: 24h, merging: 24h, split: 24h, constructing: 15m, testing: 1h, success: 15m }
        parallel_attempts: 1
        bisect: concurrent
        flaky_retries: 1
        flaky_patterns: ["network error", "timed out", "connection reset", "ECONNRESET", "ETIMEDOUT"]
        jobs:
          ci: { run: "./scripts/test.sh", on: [staging, try, pull_request], timeout: 30m }
        """;

    private static (bool Valid, string Why) SchemaSays(string yaml)
    {
        var json = JsonSerializer.SerializeToElement(YamlJson.Convert(yaml));
        var result = Schema.Value.Evaluate(json, Evaluation);
        var why = string.Join("; ", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")));
        return (result.IsValid, why);
    }

    private static void BothAccept(string yaml)
    {
        var parsed = RepoConfigParser.Parse(yaml);
        parsed.Errors.Should().BeEmpty("the parser accepts:\n" + yaml);
        var (valid, why) = SchemaSays(yaml);
        valid.Should().BeTrue($"the schema must accept what the parser accepts:\n{yaml}\n{why}");
    }

    private static void BothRefuse(string yaml)
    {
        RepoConfigParser.Parse(yaml).IsValid.Should().BeFalse("the parser refuses:\n" + yaml);
        SchemaSays(yaml).Valid.Should().BeFalse("the schema must refuse what the parser refuses:\n" + yaml);
    }

    public static IEnumerable<TestCaseData> DocumentedExamples()
    {
        var docs = File.ReadAllText(Path.Combine(ServiceProcess.RepoRoot(), "docs", "configuration.md"));
        var blocks = Regex.Matches(docs, "```yaml\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToArray();
        blocks.Should().NotBeEmpty();
        for (var i = 0; i < blocks.Length; i++) yield return new TestCaseData(blocks[i]).SetName($"Schema_ConfigurationMdExample{i + 1}_AcceptedByBoth");
        yield return new TestCaseData(ContractExample).SetName("Schema_ContractExample_AcceptedByBoth");
    }

    [TestCaseSource(nameof(DocumentedExamples))]
    public void Schema_DocumentedExample_AcceptedByBoth(string yaml) => BothAccept(yaml);

    [TestCase("{}")]
    [TestCase("target_branches: main")]
    [TestCase("target_branches: [main, 2024]")]
    [TestCase("required_checks: ci")]
    [TestCase("required_checks: from_branch_protection")]
    [TestCase("required_checks: []\nallow_no_checks: true")]
    [TestCase("required_checks:\nallow_no_checks: yes")]
    [TestCase("required_checks: []\nallow_no_checks: 'on'")]
    [TestCase("required_labels:")]
    [TestCase("comments: yes")]
    [TestCase("comments: Off")]
    [TestCase("comments: 'true'")]
    [TestCase("required_approvals: 0")]
    [TestCase("required_approvals: '2'")]
    [TestCase("max_batch_size: auto")]
    [TestCase("batch_delay: auto")]
    [TestCase("batch_min_size: 0")]
    [TestCase("beside_bisection: auto")]
    [TestCase("beside_bisection: true")]
    [TestCase("batch_delay: 0s")]
    [TestCase("batch_delay: 1d")]
    [TestCase("max_changed_lines: 1000")]
    [TestCase("branch_prefix: bots/mq/")]
    [TestCase("commit_message_pattern: '^(feat|fix): '")]
    [TestCase("strategy: batch-squash")]
    [TestCase("strategy: cherry-pick")]
    [TestCase("bisect: serial")]
    [TestCase("flaky_retries: 0")]
    [TestCase("timeouts: {}")]
    [TestCase("notify: {}")]
    [TestCase("notify: { webhooks: [ops], slack: team, stuck_after: 2h }")]
    [TestCase("notify: { webhooks:, stuck_after: }")]
    [TestCase("jobs: {}")]
    [TestCase("jobs:")]
    [TestCase("jobs: { test: { run: sh ./test.sh } }")]
    [TestCase("jobs: { test: { run: make, on: pull_request, timeout: 2h, env: { A: 1, B: x, C: } } }")]
    [TestCase("jobs: { unit tests: { run: make, on: [staging, try, push] } }")]
    public void Schema_ValidVariant_AcceptedByBoth(string yaml) => BothAccept(yaml);

    [TestCase("", TestName = "Schema_EmptyFile_RefusedByBoth")]
    [TestCase("- main", TestName = "Schema_NotAMapping_RefusedByBoth")]
    [TestCase("target_branch: [main]", TestName = "Schema_UnknownKey_RefusedByBoth")]
    [TestCase("timeouts: { testing: 1h, building: 1h }", TestName = "Schema_UnknownTimeoutKey_RefusedByBoth")]
    [TestCase("target_branches: []", TestName = "Schema_NoTargetBranch_RefusedByBoth")]
    [TestCase("target_branches:", TestName = "Schema_NullTargetBranches_RefusedByBoth")]
    [TestCase("target_branches: { main: true }", TestName = "Schema_TargetBranchesMapping_RefusedByBoth")]
    [TestCase("target_branches: [[main]]", TestName = "Schema_NestedList_RefusedByBoth")]
    [TestCase("required_checks: []", TestName = "Schema_NoChecksWithoutAllowNoChecks_RefusedByBoth")]
    [TestCase("required_checks:", TestName = "Schema_NullChecksWithoutAllowNoChecks_RefusedByBoth")]
    [TestCase("required_checks: []\nallow_no_checks: false", TestName = "Schema_NoChecksWithAllowNoChecksFalse_RefusedByBoth")]
    [TestCase("strategy: rebase", TestName = "Schema_UnknownStrategy_RefusedByBoth")]
    [TestCase("strategy: [merge]", TestName = "Schema_StrategyList_RefusedByBoth")]
    [TestCase("bisect: parallel", TestName = "Schema_UnknownBisect_RefusedByBoth")]
    [TestCase("required_approvals: -1", TestName = "Schema_NegativeApprovals_RefusedByBoth")]
    [TestCase("required_approvals: two", TestName = "Schema_ApprovalsWord_RefusedByBoth")]
    [TestCase("required_approvals: 1.5", TestName = "Schema_ApprovalsFraction_RefusedByBoth")]
    [TestCase("required_approvals: 99999999999", TestName = "Schema_ApprovalsOverflow_RefusedByBoth")]
    [TestCase("max_batch_size: 0", TestName = "Schema_BatchSizeZero_RefusedByBoth")]
    [TestCase("max_batch_size: lots", TestName = "Schema_BatchSizeWord_RefusedByBoth")]
    [TestCase("parallel_attempts: 0", TestName = "Schema_ParallelAttemptsZero_RefusedByBoth")]
    [TestCase("parallel_attempts: auto", TestName = "Schema_ParallelAttemptsAuto_RefusedByBoth")]
    [TestCase("flaky_retries: -1", TestName = "Schema_NegativeFlakyRetries_RefusedByBoth")]
    [TestCase("max_changed_lines: 0", TestName = "Schema_MaxChangedLinesZero_RefusedByBoth")]
    [TestCase("comments: maybe", TestName = "Schema_BooleanWord_RefusedByBoth")]
    [TestCase("comments: 1", TestName = "Schema_BooleanNumber_RefusedByBoth")]
    [TestCase("queue_on_approval: [true]", TestName = "Schema_BooleanList_RefusedByBoth")]
    [TestCase("beside_bisection: sometimes", TestName = "Schema_BesideBisectionWord_RefusedByBoth")]
    [TestCase("batch_delay: 10", TestName = "Schema_DurationWithoutUnit_RefusedByBoth")]
    [TestCase("batch_delay: 10 minutes", TestName = "Schema_DurationInWords_RefusedByBoth")]
    [TestCase("batch_delay: 1w", TestName = "Schema_DurationInWeeks_RefusedByBoth")]
    [TestCase("batch_delay: 1.5h", TestName = "Schema_DurationFraction_RefusedByBoth")]
    [TestCase("batch_delay: -5m", TestName = "Schema_NegativeDuration_RefusedByBoth")]
    [TestCase("timeouts: { testing: 90 }", TestName = "Schema_TimeoutWithoutUnit_RefusedByBoth")]
    [TestCase("timeouts: 1h", TestName = "Schema_TimeoutsScalar_RefusedByBoth")]
    [TestCase("timeouts:", TestName = "Schema_TimeoutsNull_RefusedByBoth")]
    [TestCase("branch_prefix: 'bad prefix'", TestName = "Schema_BranchPrefixWithSpace_RefusedByBoth")]
    [TestCase("branch_prefix: a//b", TestName = "Schema_BranchPrefixEmptySegment_RefusedByBoth")]
    [TestCase("branch_prefix: [mq]", TestName = "Schema_BranchPrefixList_RefusedByBoth")]
    [TestCase("commit_message_pattern: '(feat'", TestName = "Schema_PatternThatDoesNotCompile_RefusedByBoth")]
    [TestCase("commit_message_pattern: [a, b]", TestName = "Schema_PatternList_RefusedByBoth")]
    [TestCase("required_labels: { qa: ok }", TestName = "Schema_LabelsMapping_RefusedByBoth")]
    [TestCase("flaky_patterns: [[timeout]]", TestName = "Schema_FlakyPatternsNested_RefusedByBoth")]
    [TestCase("notify: [ops]", TestName = "Schema_NotifyList_RefusedByBoth")]
    [TestCase("notify:", TestName = "Schema_NotifyNull_RefusedByBoth")]
    [TestCase("notify: { email: [ops] }", TestName = "Schema_UnknownNotifyKey_RefusedByBoth")]
    [TestCase("notify: { stuck_after: 2 }", TestName = "Schema_StuckAfterWithoutUnit_RefusedByBoth")]
    [TestCase("notify: { webhooks: { ops: true } }", TestName = "Schema_NotifyWebhooksMapping_RefusedByBoth")]
    [TestCase("jobs: [test]", TestName = "Schema_JobsList_RefusedByBoth")]
    [TestCase("jobs: { test: make }", TestName = "Schema_JobNotAMapping_RefusedByBoth")]
    [TestCase("jobs: { test: { on: [staging] } }", TestName = "Schema_JobWithoutRun_RefusedByBoth")]
    [TestCase("jobs: { test: { run: '' } }", TestName = "Schema_JobEmptyRun_RefusedByBoth")]
    [TestCase("jobs: { test: { run: make, on: [merge] } }", TestName = "Schema_JobUnknownTrigger_RefusedByBoth")]
    [TestCase("jobs: { test: { run: make, on: [] } }", TestName = "Schema_JobNoTrigger_RefusedByBoth")]
    [TestCase("jobs: { test: { run: make, timeout: 0s } }", TestName = "Schema_JobZeroTimeout_RefusedByBoth")]
    [TestCase("jobs: { test: { run: make, timeout: 5 } }", TestName = "Schema_JobTimeoutWithoutUnit_RefusedByBoth")]
    [TestCase("jobs: { test: { run: make, env: { A: [1] } } }", TestName = "Schema_JobEnvList_RefusedByBoth")]
    [TestCase("jobs: { test: { run: make, env: { A-B: 1 } } }", TestName = "Schema_JobEnvBadName_RefusedByBoth")]
    [TestCase("jobs: { test: { run: make, image: node } }", TestName = "Schema_JobUnknownKey_RefusedByBoth")]
    [TestCase("jobs: { mergequeue: { run: make } }", TestName = "Schema_JobNamedMergequeue_RefusedByBoth")]
    [TestCase("jobs: { mergequeue-try: { run: make } }", TestName = "Schema_JobNamedMergequeueTry_RefusedByBoth")]
    [TestCase("jobs: { MergeQueue-Config: { run: make } }", TestName = "Schema_JobNamedMergequeueConfig_RefusedByBoth")]
    public void Schema_InvalidConfig_RefusedByBoth(string yaml) => BothRefuse(yaml);

    /// <summary>The file's keys, from <see cref="RepoConfig"/>'s properties: a new setting without a schema entry fails here.</summary>
    private static string[] KeysOf(Type type, params string[] notKeys) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is not null && !notKeys.Contains(p.Name))
            .Select(p => Regex.Replace(p.Name, "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant())
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static JsonElement SchemaDocument()
    {
        using var reader = new StreamReader(ConfigSchema.Open());
        return JsonDocument.Parse(reader.ReadToEnd()).RootElement.Clone();
    }

    private static string[] PropertiesOf(JsonElement schemaObject) =>
        schemaObject.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal).ToArray();

    [Test]
    public void Schema_Keys_AreRepoConfigsKeys()
    {
        // AutoBatching is not a key: it records which batching keys were left to the planner (`auto`);
        // RequiredChecksFromBranchProtection neither: it is required_checks' value from_branch_protection.
        PropertiesOf(SchemaDocument()).Should().Equal(KeysOf(typeof(RepoConfig), nameof(RepoConfig.AutoBatching), nameof(RepoConfig.RequiredChecksFromBranchProtection)));
        PropertiesOf(SchemaDocument().GetProperty("properties").GetProperty("timeouts")).Should().Equal(KeysOf(typeof(Timeouts)));
        PropertiesOf(SchemaDocument().GetProperty("properties").GetProperty("notify")).Should().Equal(KeysOf(typeof(NotifyConfig)));
    }

    [Test]
    public void Schema_EveryKey_IsKnownToTheParser()
    {
        // A mapping is a wrong value for every key but timeouts: the error names the key's value, never "unknown key".
        foreach (var key in PropertiesOf(SchemaDocument()))
            RepoConfigParser.Parse($"{key}: {{ x: 1 }}").Errors.Should().NotContain(e => e.Contains("unknown key", StringComparison.Ordinal), key);
        foreach (var key in KeysOf(typeof(Timeouts)))
            RepoConfigParser.Parse($"timeouts: {{ {key}: 1h }}").Errors.Should().BeEmpty(key);
    }

    [Test, CancelAfter(60_000)]
    public async Task SchemaEndpoint_WithoutSignIn_ServesTheSchema()
    {
        await using var t = await ServiceTester.StartAsync(settings: new Dictionary<string, string?> { ["MergeQueue:Dashboard:Public"] = "false" });
        using var http = new HttpClient { BaseAddress = t.ServiceUrl };
        using var response = await http.GetAsync(ConfigSchema.Route.TrimStart('/'));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/schema+json");
        using var reader = new StreamReader(ConfigSchema.Open());
        (await response.Content.ReadAsStringAsync()).Should().Be(await reader.ReadToEndAsync());
    }
}
