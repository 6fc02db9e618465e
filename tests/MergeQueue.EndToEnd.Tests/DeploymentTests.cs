using System.Diagnostics;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>No Docker engine runs here, so the compose file is validated, not run (scripts/test.sh installs docker-compose).</summary>
public class DeploymentTests
{
    private static (int ExitCode, string Output) Compose(params string[] args)
    {
        var info = new ProcessStartInfo("docker-compose") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ServiceProcess.RepoRoot() };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["GITHUB_TOKEN"] = "ghp_example";
        info.Environment["WEBHOOK_SECRET"] = "example";
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    [Test]
    public void DockerCompose_File_IsValid()
    {
        var (exitCode, output) = Compose("config", "-q");
        exitCode.Should().Be(0, output);
    }

    [Test]
    public void DockerCompose_KeepsTheDatabaseOnANamedVolumeAndSecretsInTheEnvironment()
    {
        var (exitCode, output) = Compose("config");
        exitCode.Should().Be(0, output);
        output.Should().Contain("mergequeue-data").And.Contain("/data/mergequeue.db").And.Contain("ghp_example");
        File.ReadAllText(Path.Combine(ServiceProcess.RepoRoot(), "docker-compose.yml")).Should().NotContain("ghp_", "no secret is written in the file");
    }
}
