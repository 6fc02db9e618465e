using System.Diagnostics;
using System.Text;

namespace MergeQueue.Simulator.Git;

/// <summary>The result of one git process: exit code, stdout (bytes and text) and stderr.</summary>
public sealed record GitResult(int ExitCode, byte[] Output, string Error)
{
    public string Text => Encoding.UTF8.GetString(Output);
}

/// <summary>A git command failed with an exit code the caller did not expect.</summary>
public sealed class GitException(string command, GitResult result)
    : Exception($"git {command} failed ({result.ExitCode}): {result.Error.Trim()}")
{
    public GitResult Result { get; } = result;
}

/// <summary>
/// Runs the git CLI with a fixed environment, so results never depend on the machine's or the
/// user's git configuration (hooks, merge.conflictStyle, rename detection, identities, locale).
/// </summary>
public static class GitCli
{
    // Configuration that must hold for every command. The user's global and system config are
    // cut off entirely (GIT_CONFIG_GLOBAL / NOSYSTEM), so these are the only settings in force.
    private static readonly string[] FixedConfig =
    [
        "-c", "core.hooksPath=/dev/null",
        "-c", "gc.auto=0",
        "-c", "maintenance.auto=false",
        "-c", "core.autocrlf=false",
        "-c", "core.fsyncMethod=batch",
        "-c", "core.fsync=none",
        "-c", "init.defaultBranch=main",
    ];

    /// <summary>Runs git in <paramref name="gitDir"/> (a bare repository, or null for none).</summary>
    /// <param name="env">Extra variables (author/committer identity, GIT_INDEX_FILE).</param>
    /// <param name="input">Bytes written to stdin.</param>
    public static async Task<GitResult> RunAsync(
        string? gitDir,
        IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? env = null,
        byte[]? input = null,
        CancellationToken ct = default)
    {
        var psi = new ProcessStartInfo("git")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var c in FixedConfig) psi.ArgumentList.Add(c);
        if (gitDir is not null) psi.ArgumentList.Add("--git-dir=" + gitDir);
        foreach (var a in args) psi.ArgumentList.Add(a);
        PrepareEnvironment(psi.Environment);
        if (env is not null)
        {
            foreach (var (k, v) in env) psi.Environment[k] = v;
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("git could not be started");
        var stdout = new MemoryStream();
        var readOut = process.StandardOutput.BaseStream.CopyToAsync(stdout, ct);
        var readErr = process.StandardError.ReadToEndAsync(ct);
        if (input is not null) await process.StandardInput.BaseStream.WriteAsync(input, ct);
        process.StandardInput.Close();
        await Task.WhenAll(readOut, readErr);
        await process.WaitForExitAsync(ct);
        return new GitResult(process.ExitCode, stdout.ToArray(), await readErr);
    }

    /// <summary>Runs git and throws <see cref="GitException"/> unless it exits with one of <paramref name="okCodes"/> (default 0).</summary>
    public static async Task<GitResult> RunCheckedAsync(
        string? gitDir,
        IReadOnlyList<string> args,
        IReadOnlyDictionary<string, string>? env = null,
        byte[]? input = null,
        int[]? okCodes = null,
        CancellationToken ct = default)
    {
        var result = await RunAsync(gitDir, args, env, input, ct);
        if (!(okCodes ?? [0]).Contains(result.ExitCode)) throw new GitException(string.Join(' ', args), result);
        return result;
    }

    /// <summary>
    /// Strips every inherited GIT_* variable (a test runner started inside a git hook would
    /// otherwise leak GIT_DIR or GIT_INDEX_FILE) and pins config, locale and prompts.
    /// </summary>
    private static void PrepareEnvironment(IDictionary<string, string?> environment)
    {
        foreach (var key in environment.Keys.Where(k => k.StartsWith("GIT_", StringComparison.Ordinal)).ToList())
            environment.Remove(key);
        environment["GIT_CONFIG_NOSYSTEM"] = "1";
        environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        environment["GIT_TERMINAL_PROMPT"] = "0";
        environment["GIT_AUTHOR_NAME"] = "GitHub Simulator";
        environment["GIT_AUTHOR_EMAIL"] = "simulator@users.noreply.github.com";
        environment["GIT_COMMITTER_NAME"] = "GitHub Simulator";
        environment["GIT_COMMITTER_EMAIL"] = "simulator@users.noreply.github.com";
        environment["LC_ALL"] = "C";
        environment["LANG"] = "C";
    }
}
