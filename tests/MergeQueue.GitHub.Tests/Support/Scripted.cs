using MergeQueue.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Octokit;
using Octokit.Internal;

namespace MergeQueue.GitHub.Tests.Support;

/// <summary>An adapter wired to a <see cref="ScriptedGitHub"/>, with jitter pinned to its midpoint.</summary>
internal static class Scripted
{
    public static readonly RepoId Repo = new("octo", "widgets");
    public const string RepoPath = "repos/octo/widgets";

    public static OctokitGitHub Adapter(ScriptedGitHub http, TimeProvider time, GitHubRetryOptions? options = null)
    {
        var connection = new Connection(
            new ProductHeaderValue("MergeQueue.Tests"),
            new Uri("https://api.test/"),
            new InMemoryCredentialStore(new Credentials("token")),
            new HttpClientAdapter(() => http),
            new SimpleJsonSerializer());
        return new OctokitGitHub(new GitHubClient(connection), time, NullLogger.Instance, options ?? new GitHubRetryOptions(), random: () => 0.5);
    }

    public static string Sha(char c) => new(c, 40);

    public static string RefJson(string branch, string sha) =>
        $$$"""{"ref":"refs/heads/{{{branch}}}","object":{"type":"commit","sha":"{{{sha}}}"}}""";

    public static string CommitJson(string sha, params string[] parents)
    {
        var parentList = string.Join(",", parents.Select(p => "{\"sha\":\"" + p + "\"}"));
        return $$"""{"sha":"{{sha}}","message":"m","tree":{"sha":"{{Sha('e')}}"},"author":{"name":"a","email":"a@x","date":"2026-01-01T00:00:00Z"},"parents":[{{parentList}}]}""";
    }
}
