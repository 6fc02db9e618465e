using System.Diagnostics;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>deploy/mergequeue.service: systemd accepts it, and it keeps what docs/operations.md promises.</summary>
public class SystemdUnitTests
{
    private static string UnitPath => Path.Combine(ServiceProcess.RepoRoot(), "deploy", "mergequeue.service");

    /// <summary>Section → key → values (a key may repeat, e.g. Environment=).</summary>
    private static Dictionary<string, Dictionary<string, List<string>>> ReadUnit()
    {
        var sections = new Dictionary<string, Dictionary<string, List<string>>>();
        Dictionary<string, List<string>>? current = null;
        foreach (var raw in File.ReadAllLines(UnitPath))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                current = sections[line[1..^1]] = [];
                continue;
            }
            var eq = line.IndexOf('=');
            eq.Should().BePositive($"'{line}' is a Key=Value line");
            current.Should().NotBeNull($"'{line}' comes after a [Section]");
            var key = line[..eq].Trim();
            if (!current!.TryGetValue(key, out var values)) current[key] = values = [];
            values.Add(line[(eq + 1)..].Trim());
        }
        return sections;
    }

    [Test]
    public void Unit_HasTheSectionsAndKeysTheOperationsGuideNames()
    {
        var unit = ReadUnit();
        unit.Keys.Should().BeEquivalentTo("Unit", "Service", "Install");
        var service = unit["Service"];
        string One(string key) => service.Should().ContainKey(key).WhoseValue.Should().ContainSingle().Subject;

        One("User").Should().Be("mergequeue");
        One("Group").Should().Be("mergequeue");
        One("WorkingDirectory").Should().Be("/var/lib/mergequeue");
        One("StateDirectory").Should().Be("mergequeue");
        One("EnvironmentFile").Should().Be("/etc/mergequeue/mergequeue.env");
        One("ExecStart").Should().EndWith($"/{typeof(Program).Assembly.GetName().Name}.dll");
        One("Restart").Should().Be("on-failure");
        One("RestartPreventExitStatus").Should().Be("2", "Program exits with 2 when a setting is missing, and restarting cannot fix that");
        foreach (var (key, value) in new[] { ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", "") })
            One(key).Should().Be(value, key);
        service.Should().NotContainKey("MemoryDenyWriteExecute", "the .NET JIT needs writable executable memory");
        unit["Install"]["WantedBy"].Should().Equal("multi-user.target");
    }

    [Test]
    public void Unit_HoldsNoSecret() =>
        ReadUnit()["Service"].GetValueOrDefault("Environment", []).Should()
            .NotContain(e => e.Contains("Token", StringComparison.OrdinalIgnoreCase) || e.Contains("Secret", StringComparison.OrdinalIgnoreCase) || e.Contains("AdminKey", StringComparison.OrdinalIgnoreCase),
                "secrets belong in the 0600 environment file");

    [Test]
    public void Unit_SystemdAnalyzeVerify_ReportsNothing()
    {
        const string tool = "/usr/bin/systemd-analyze";
        if (!File.Exists(tool)) Assert.Ignore("systemd-analyze is not installed; the unit was only parsed");
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("verify");
        info.ArgumentList.Add(UnitPath);
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd() + stderr.Result;
        process.WaitForExit();
        process.ExitCode.Should().Be(0, output);
        // verify exits 0 on unknown keys and bad values, only warning: every line about our file is a failure.
        output.Split('\n').Where(l => l.Contains("mergequeue.service", StringComparison.Ordinal)).Should().BeEmpty();
    }
}
