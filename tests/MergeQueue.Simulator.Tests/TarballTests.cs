using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using MergeQueue.Simulator.Tests.Support;
using Octokit;

namespace MergeQueue.Simulator.Tests;

/// <summary>
/// <c>GET /repos/{o}/{r}/tarball/{ref}</c> as GitHub answers it: a 302 to codeload whose URL carries
/// its own token, serving the tree as a gzipped tar under <c>{owner}-{repo}-{sha7}/</c>.
/// </summary>
public class TarballTests : SimulatorTestBase
{
    private static async Task<(string Path, string Content)[]> EntriesAsync(byte[] tarGz)
    {
        var entries = new List<(string, string)>();
        await using var gzip = new GZipStream(new MemoryStream(tarGz), CompressionMode.Decompress);
        await using var tar = new TarReader(gzip);
        while (await tar.GetNextEntryAsync() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            using var reader = new StreamReader(entry.DataStream!);
            entries.Add((entry.Name, await reader.ReadToEndAsync()));
        }
        return entries.ToArray();
    }

    [Test]
    public async Task Tarball_AtASha_RedirectsToCodeloadWithATokenAndServesTheTree()
    {
        var name = await NewRepoAsync(new Dictionary<string, string> { ["README.md"] = "hello\n", ["src/test.sh"] = "echo ok\n" });
        var (owner, repo) = Split(name);
        var sha = (await Control.BranchesAsync(name)).Single(b => b.Name == "main").Sha;
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BotToken);
        http.DefaultRequestHeaders.UserAgent.ParseAdd("mq-tests");

        using var redirect = await http.GetAsync($"repos/{name}/tarball/{sha}");

        redirect.StatusCode.Should().Be(HttpStatusCode.Found);
        var location = redirect.Headers.Location!;
        location.AbsolutePath.Should().Be($"/_codeload/{name}/legacy.tar.gz/{sha}");
        location.Query.Should().StartWith("?token=");
        // Codeload needs no Authorization header: the token in the URL is the credential (as at GitHub).
        using var anonymous = new HttpClient();
        using var archive = await anonymous.GetAsync(location);
        archive.StatusCode.Should().Be(HttpStatusCode.OK);
        archive.Content.Headers.ContentType!.MediaType.Should().Be("application/x-gzip");
        archive.Content.Headers.ContentDisposition!.FileName.Should().Be($"{owner}-{repo}-{sha[..7]}.tar.gz");
        (await EntriesAsync(await archive.Content.ReadAsByteArrayAsync())).Should().BeEquivalentTo(new[]
        {
            ($"{owner}-{repo}-{sha[..7]}/README.md", "hello\n"),
            ($"{owner}-{repo}-{sha[..7]}/src/test.sh", "echo ok\n"),
        });
        (await anonymous.GetAsync(new Uri(location, "?token=wrong"))).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Tarball_ReadByOctokit_FollowsTheRedirect()
    {
        var name = await NewRepoAsync(new Dictionary<string, string> { ["a.txt"] = "A\n" });
        var (owner, repo) = Split(name);

        var bytes = await Bot.Repository.Content.GetArchive(owner, repo, ArchiveFormat.Tarball, "main");

        (await EntriesAsync(bytes)).Select(e => e.Content).Should().Equal("A\n");
    }

    [Test]
    public async Task Tarball_WithoutReadAccess_IsNotFound()
    {
        var name = await NewRepoAsync();
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Sim.BaseUrl };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("mq-tests");
        (await http.GetAsync($"repos/{name}/tarball/main")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await http.GetAsync($"repos/{name}/tarball/nope")).StatusCode.Should().NotBe(HttpStatusCode.Found);
    }
}
