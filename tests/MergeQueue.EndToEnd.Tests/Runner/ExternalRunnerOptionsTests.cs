using MergeQueue.Service.Runner;

namespace MergeQueue.EndToEnd.Tests.Runner;

/// <summary>The <c>runner</c> command's options: every refusal says what is wrong.</summary>
public sealed class ExternalRunnerOptionsTests
{
    [TestCase(new string[0], null, "--server must be the service's http(s) URL")]
    [TestCase(new[] { "--server", "ftp://mq" }, "k", "--server must be the service's http(s) URL")]
    [TestCase(new[] { "--server", "http://mq" }, null, "a key of the runner role is needed")]
    [TestCase(new[] { "--server", "http://mq", "--key", " " }, null, "a key of the runner role is needed")]
    [TestCase(new[] { "--server", "http://mq", "--slots", "0" }, "k", "--slots must be a whole number of at least 1")]
    [TestCase(new[] { "--server", "http://mq", "--memory-limit-mb", "-1" }, "k", "--memory-limit-mb must be a whole number")]
    [TestCase(new[] { "--server", "http://mq", "--name", "a b" }, "k", "--name must be 1 to 64")]
    [TestCase(new[] { "--server", "http://mq", "--verbose" }, "k", "unknown option '--verbose'")]
    [TestCase(new[] { "--server" }, "k", "--server needs a value")]
    [TestCase(new[] { "--server", "http://mq", "--key-file", "/nonexistent/key" }, null, "cannot read --key-file /nonexistent/key")]
    public void Parse_BadOptions_AreRefusedWithTheReason(string[] args, string? environmentKey, string problem)
    {
        var (options, error) = ExternalRunner.Parse(args, environmentKey);

        options.Should().BeNull();
        error.Should().StartWith(problem);
    }

    [Test]
    public void Parse_KeyFromTheEnvironment_AndEveryOption()
    {
        var (options, error) = ExternalRunner.Parse(
            ["--server=http://127.0.0.1:5000", "--name", "build-1", "--slots", "3", "--work-dir", "/var/tmp/jobs", "--memory-limit-mb", "2048", "--cpu-limit-seconds", "600"], "mq_secret");

        error.Should().BeNull();
        (options!.Server, options.Key, options.Name).Should().Be(("http://127.0.0.1:5000", "mq_secret", "build-1"));
        (options.Settings.Slots, options.Settings.WorkDirectory, options.Settings.MemoryLimitMb, options.Settings.CpuLimitSeconds)
            .Should().Be((3, "/var/tmp/jobs", 2048, 600));
    }

    [Test]
    public void Parse_KeyFile_WinsOverTheEnvironment()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "mq_from_file\n");
            ExternalRunner.Parse(["--server", "http://mq", "--key-file", file], "mq_env").Options!.Key.Should().Be("mq_from_file");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
