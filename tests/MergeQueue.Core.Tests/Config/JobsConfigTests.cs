using MergeQueue.Core.Config;

namespace MergeQueue.Core.Tests.Config;

/// <summary><c>jobs:</c> (CONTRACT §3): the built-in runner's jobs, as a decision table.</summary>
public class JobsConfigTests
{
    [Test]
    public void Parse_NoJobs_HasNone()
    {
        RepoConfigParser.Parse("target_branches: [main]").Config!.Jobs.Should().BeEmpty();
        RepoConfigParser.Parse("jobs: {}").Config!.Jobs.Should().BeEmpty();
        RepoConfigParser.Parse("jobs:").Config!.Jobs.Should().BeEmpty();
    }

    [Test]
    public void Parse_JobWithOnlyRun_GetsTheDefaults()
    {
        var job = RepoConfigParser.Parse("jobs: { test: { run: sh ./test.sh } }").Config!.Jobs.Single();
        job.Name.Should().Be("test");
        job.Run.Should().Be("sh ./test.sh");
        job.On.Should().Equal(JobTrigger.Staging, JobTrigger.Try);
        job.Timeout.Should().Be(TimeSpan.FromMinutes(30));
        job.Env.Should().BeEmpty();
    }

    [Test]
    public void Parse_EveryJobKey_IsRead()
    {
        var config = RepoConfigParser.Parse("""
            required_checks: [test, lint]
            jobs:
              test:
                run: |
                  make
                  make test
                on: [staging, try, pull_request, push]
                timeout: 90s
                env: { GOFLAGS: -mod=vendor, RETRIES: 3, EMPTY: }
              lint:
                run: ./lint.sh
                on: pull_request
            """).Config!;
        config.Jobs.Select(j => j.Name).Should().Equal("test", "lint");
        var test = config.Jobs[0];
        test.Run.Should().Be("make\nmake test\n");
        test.On.Should().Equal(JobTrigger.Staging, JobTrigger.Try, JobTrigger.PullRequest, JobTrigger.Push);
        test.Timeout.Should().Be(TimeSpan.FromSeconds(90));
        test.Env.Should().BeEquivalentTo(new Dictionary<string, string> { ["GOFLAGS"] = "-mod=vendor", ["RETRIES"] = "3", ["EMPTY"] = "" });
        config.Jobs[1].On.Should().Equal(JobTrigger.PullRequest);
        config.JobsOn(JobTrigger.Staging).Select(j => j.Name).Should().Equal("test");
        config.JobsOn(JobTrigger.PullRequest).Select(j => j.Name).Should().Equal("test", "lint");
    }

    [TestCase("jobs: [test]", "'jobs' must be a mapping")]
    [TestCase("jobs: { test: ./test.sh }", "job 'test' must be a mapping")]
    [TestCase("jobs: { test: { on: [staging] } }", "job 'test' needs a command")]
    [TestCase("jobs: { test: { run: '' } }", "job 'test' needs a command")]
    [TestCase("jobs: { test: { run: '   ' } }", "job 'test' needs a command")]
    [TestCase("jobs: { test: { run: make, on: [merge] } }", "'jobs.test.on' has 'merge'")]
    [TestCase("jobs: { test: { run: make, on: [] } }", "'jobs.test.on' must list at least one")]
    [TestCase("jobs: { test: { run: make, timeout: soon } }", "'jobs.test.timeout' must be a duration")]
    [TestCase("jobs: { test: { run: make, timeout: 0s } }", "'jobs.test.timeout' must be longer than 0s")]
    [TestCase("jobs: { test: { run: make, env: [A] } }", "'jobs.test.env' must be a mapping")]
    [TestCase("jobs: { test: { run: make, env: { A: [1, 2] } } }", "'jobs.test.env.A' must be a plain value")]
    [TestCase("jobs: { test: { run: make, env: { 'A-B': x } } }", "is not a variable name")]
    [TestCase("jobs: { test: { run: make, image: node } }", "job 'test' has no setting 'image'")]
    [TestCase("jobs: { mergequeue: { run: make } }", "job 'mergequeue': the name is the queue's own status context")]
    [TestCase("jobs: { MergeQueue-Try: { run: make } }", "job 'MergeQueue-Try': the name is the queue's own status context")]
    [TestCase("jobs: { mergequeue-config: { run: make } }", "job 'mergequeue-config': the name is the queue's own status context")]
    [TestCase("jobs: { '-x': { run: make } }", "job '-x': a name is letters")]
    public void Parse_InvalidJob_IsRefusedWithAClearError(string yaml, string error)
    {
        var result = RepoConfigParser.Parse(yaml);
        result.IsValid.Should().BeFalse();
        result.Errors.Should().Contain(e => e.Contains(error), string.Join("; ", result.Errors));
    }

    [Test]
    public void Parse_TwoBadJobs_ReportsBoth() =>
        RepoConfigParser.Parse("jobs: { a: { on: [x] }, mergequeue: { run: y } }").Errors.Should().HaveCount(2);
}
