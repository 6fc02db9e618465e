using MergeQueue.Core.Config;

namespace MergeQueue.Core.Tests.Config;

public class RepoConfigParserTests
{
    [Test]
    public void Parse_MinimalFile_UsesTheContractDefaults()
    {
        var result = RepoConfigParser.Parse("target_branches: [main]\n");
        result.IsValid.Should().BeTrue();
        result.Config.Should().BeEquivalentTo(RepoConfig.FileDefaults);
        result.Config!.AutoBatching.Should().BeEquivalentTo(["batch_delay", "max_batch_size", "batch_min_size", "beside_bisection"]);
        (result.Config.ParallelAttempts, result.Config.Bisect, result.Config.FlakyRetries).Should().Be((4, BisectMode.Concurrent, 1));
        result.Config.FlakyPatterns.Should().Equal("network error", "timed out", "connection reset", "ECONNRESET", "ETIMEDOUT");
        result.Config.Timeouts.Testing.Should().Be(TimeSpan.FromHours(1));
        result.Config.BlockingLabels.Should().Equal("do-not-merge");
    }

    [Test]
    public void Parse_Notify_NamesTargetsAndStuckAfter()
    {
        var config = RepoConfigParser.Parse("notify: { webhooks: [ops, audit], slack: team, stuck_after: 2h }").Config!;
        config.Notify.Webhooks.Should().Equal("ops", "audit");
        config.Notify.Slack.Should().Equal("team");
        config.Notify.StuckAfter.Should().Be(TimeSpan.FromHours(2));
        RepoConfigParser.Parse("target_branches: [main]").Config!.Notify.Should().BeEquivalentTo(new NotifyConfig());
    }

    [Test]
    public void Parse_EveryKey_IsRead()
    {
        var yaml = """
            target_branches: [main, release]
            strategy: batch-squash
            required_approvals: 2
            required_checks: [ci, lint]
            pre_checks: [unit]
            queue_on_approval: true
            batch_delay: 30s
            max_batch_size: 4
            comments: true
            branch_prefix: mq
            required_labels: [ready]
            blocking_labels: [wip, hold]
            commit_message_pattern: '^(feat|fix):'
            max_changed_lines: 500
            allowed_authors: [alice]
            denied_authors: [mallory]
            timeouts: { requested: 2h, queued: 1d, merging: 12h, split: 6h, constructing: 5m, testing: 90m, success: 1m }
            """;
        var config = RepoConfigParser.Parse(yaml).Config!;
        config.TargetBranches.Should().Equal("main", "release");
        config.Strategy.Should().Be(MergeStrategy.BatchSquash);
        config.RequiredApprovals.Should().Be(2);
        config.RequiredChecks.Should().Equal("ci", "lint");
        config.PreChecks.Should().Equal("unit");
        config.QueueOnApproval.Should().BeTrue();
        config.BatchDelay.Should().Be(TimeSpan.FromSeconds(30));
        config.MaxBatchSize.Should().Be(4);
        config.Comments.Should().BeTrue();
        config.BranchPrefix.Should().Be("mq");
        config.RequiredLabels.Should().Equal("ready");
        config.BlockingLabels.Should().Equal("wip", "hold");
        config.CommitMessagePattern.Should().Be("^(feat|fix):");
        config.MaxChangedLines.Should().Be(500);
        config.AllowedAuthors.Should().Equal("alice");
        config.DeniedAuthors.Should().Equal("mallory");
        config.Timeouts.Should().Be(new Timeouts
        {
            Requested = TimeSpan.FromHours(2), Queued = TimeSpan.FromDays(1), Merging = TimeSpan.FromHours(12), Split = TimeSpan.FromHours(6),
            Constructing = TimeSpan.FromMinutes(5), Testing = TimeSpan.FromMinutes(90), Success = TimeSpan.FromMinutes(1),
        });
        config.StagingBranch("main", new AttemptId(7)).Should().Be("mq/staging/main/7");
        config.TmpBranch("main", new AttemptId(7)).Should().Be("mq/tmp/main/7");
    }

    [Test]
    public void Parse_NoRequiredChecks_IsAcceptedOnlyWhenAskedFor()
    {
        var config = RepoConfigParser.Parse("target_branches: [main]\nrequired_checks: []\nallow_no_checks: true\n").Config!;

        config.RequiredChecks.Should().BeEmpty();
        config.AllowNoChecks.Should().BeTrue();
    }

    [Test]
    public void Parse_RequiredChecksFromBranchProtection_ReadsTheChecksFromTheTargetInstead()
    {
        var config = RepoConfigParser.Parse("target_branches: [main]\nrequired_checks: from_branch_protection\n").Config!;

        config.RequiredChecksFromBranchProtection.Should().BeTrue();
        config.RequiredChecks.Should().BeEmpty();
        RepoConfigParser.Parse("target_branches: [main]\nrequired_checks: [ci]\n").Config!.RequiredChecksFromBranchProtection.Should().BeFalse();
    }

    [Test]
    public void Parse_EngineKeys_AreReadAndAValueSetIsHonouredExactly()
    {
        var config = RepoConfigParser.Parse("""
            target_branches: [main]
            parallel_attempts: 2
            bisect: serial
            flaky_retries: 0
            flaky_patterns: [flake]
            batch_delay: 3m
            max_batch_size: auto
            beside_bisection: false
            """).Config!;

        (config.ParallelAttempts, config.Bisect, config.FlakyRetries, config.BatchDelay, config.BesideBisection).Should().Be((2, BisectMode.Serial, 0, TimeSpan.FromMinutes(3), false));
        config.FlakyPatterns.Should().Equal("flake");
        config.AutoBatching.Should().BeEquivalentTo(["max_batch_size", "batch_min_size"]);
        var busy = MergeQueue.Core.Queue.BatchPolicy.Effective(config, failureRate: 0.2);
        (busy.BatchDelay, busy.MaxBatchSize, busy.BatchMinSize, busy.BesideBisection).Should().Be((TimeSpan.FromMinutes(3), 2, 1, false), "set values stay, auto ones follow the failure rate");
        var calm = MergeQueue.Core.Queue.BatchPolicy.Effective(config, failureRate: 0.01);
        (calm.MaxBatchSize, calm.BatchMinSize).Should().Be((8, 3));
    }

    [TestCase("required_checks: []", "'required_checks' is empty: the target would move to untested commits")]
    [TestCase("required_checks: []\nallow_no_checks: maybe", "'allow_no_checks' must be true or false")]
    [TestCase("parallel_attempts: 0", "'parallel_attempts' must be a whole number of at least 1")]
    [TestCase("bisect: sideways", "'bisect' must be concurrent or serial")]
    [TestCase("flaky_retries: -1", "'flaky_retries' must be a whole number of at least 0")]
    [TestCase("beside_bisection: maybe", "'beside_bisection' must be true or false")]
    [TestCase("strategy: rebase", "unknown strategy 'rebase'")]
    [TestCase("batch_delay: 10 minutes", "'batch_delay' must be a duration")]
    [TestCase("timeouts: { testing: soon }", "'timeouts.testing' must be a duration")]
    [TestCase("max_batch_size: 0", "'max_batch_size' must be a whole number of at least 1")]
    [TestCase("target_branches: []", "'target_branches' must list at least one branch")]
    [TestCase("colour: blue", "unknown key 'colour'")]
    [TestCase("notify: { email: [ops] }", "'notify' has no setting 'email'")]
    [TestCase("notify: { stuck_after: soon }", "'notify.stuck_after' must be a duration")]
    [TestCase("notify: ops", "'notify' must be a mapping")]
    [TestCase("commit_message_pattern: '(unclosed'", "'commit_message_pattern' is not a valid regular expression")]
    [TestCase("target_branches: [main\nstrategy: merge", "invalid YAML")]
    [TestCase("- just\n- a list", "must be a YAML mapping")]
    [TestCase("comments: maybe", "'comments' must be true or false")]
    [TestCase("? [a, b]\n: 1", "a key must be a plain word")]
    [TestCase("timeouts: { [x]: 1h }", "a key of 'timeouts' must be a plain word")]
    public void Parse_InvalidFile_ReportsEveryErrorAndNoConfig(string yaml, string error)
    {
        var result = RepoConfigParser.Parse(yaml);
        result.IsValid.Should().BeFalse();
        result.Errors.Should().Contain(e => e.Contains(error));
    }

    [Test]
    public void Parse_SeveralErrors_ReportsAllOfThem()
    {
        var result = RepoConfigParser.Parse("strategy: nope\nbatch_delay: x\n");
        result.Errors.Should().HaveCount(2);
    }

    [TestCase("30s", 30)]
    [TestCase("10m", 600)]
    [TestCase("1h", 3600)]
    [TestCase("1d", 86400)]
    public void TryParseDuration_ContractUnits_Parse(string text, int seconds)
    {
        RepoConfigParser.TryParseDuration(text, out var d).Should().BeTrue();
        d.Should().Be(TimeSpan.FromSeconds(seconds));
    }

    [TestCase("")]
    [TestCase("10")]
    [TestCase("-5m")]
    [TestCase("1w")]
    [TestCase("1.5h")]
    public void TryParseDuration_Other_IsRefused(string text) =>
        RepoConfigParser.TryParseDuration(text, out _).Should().BeFalse();
}
