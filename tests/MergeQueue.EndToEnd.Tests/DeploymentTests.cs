using System.Diagnostics;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>No Docker engine runs here, so the compose file is validated, not run (scripts/test.sh installs docker-compose).</summary>
public class DeploymentTests
{
    private static (int ExitCode, string Output) Compose(params string[] args)
    {
        return ComposeWith(new Dictionary<string, string>(), args);
    }

    private static (int ExitCode, string Output) ComposeWith(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("docker-compose") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ServiceProcess.RepoRoot() };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["GITHUB_TOKEN"] = "ghp_example";
        info.Environment["WEBHOOK_SECRET"] = "example";
        foreach (var (key, value) in environment) info.Environment[key] = value;
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

    [Test]
    public void DockerCompose_AsAGitHubApp_PassesTheAppSettings_AndWithNothingSetStartsInSetupMode()
    {
        var (exitCode, output) = ComposeWith(new Dictionary<string, string> { ["GITHUB_TOKEN"] = "", ["GITHUB_APP_ID"] = "123456", ["GITHUB_APP_KEY_PATH"] = "/data/app.pem" }, "config");
        exitCode.Should().Be(0, output);
        output.Should().Contain("MergeQueue__GitHub__AppId: '123456'").And.Contain("MergeQueue__GitHub__PrivateKeyPath: /data/app.pem")
            .And.Contain("MergeQueue__Setup__File: /data/mergequeue.setup.json");
        var (bare, nothing) = ComposeWith(new Dictionary<string, string> { ["GITHUB_TOKEN"] = "", ["WEBHOOK_SECRET"] = "" }, "config", "-q");
        bare.Should().Be(0, "with nothing set the service starts in setup mode: " + nothing);
    }

    [Test]
    public void DockerCompose_ClusterProfile_RunsTwoInstancesOnPostgresBehindAProxy()
    {
        var (exitCode, output) = ComposeWith(new Dictionary<string, string> { ["POSTGRES_PASSWORD"] = "pg-example" }, "--profile", "cluster", "config");
        exitCode.Should().Be(0, output);
        output.Should().Contain("mergequeue-1:").And.Contain("mergequeue-2:").And.Contain("image: postgres:15").And.Contain("image: caddy:2");
        output.Should().Contain("MergeQueue__Database__Provider: postgres").And.Contain("Host=postgres;Username=mergequeue;Password=pg-example;Database=mergequeue");
        output.Should().Contain("MergeQueue__Cluster__InstanceId: mergequeue-1").And.Contain("MergeQueue__Cluster__InstanceId: mergequeue-2");
        var caddy = File.ReadAllText(Path.Combine(ServiceProcess.RepoRoot(), "deploy", "cluster", "Caddyfile"));
        caddy.Should().Contain("reverse_proxy mergequeue-1:8080 mergequeue-2:8080").And.Contain("health_uri /healthz");
        File.ReadAllText(Path.Combine(ServiceProcess.RepoRoot(), "docker-compose.yml")).Should().NotContain("pg-example");
    }
}
