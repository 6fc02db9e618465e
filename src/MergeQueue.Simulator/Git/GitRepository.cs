using System.Globalization;
using System.Text;

namespace MergeQueue.Simulator.Git;

/// <summary>One entry of a git tree.</summary>
/// <param name="Mode">e.g. 100644, 100755, 040000, 120000, 160000.</param>
/// <param name="Type">blob, tree or commit.</param>
/// <param name="Size">Blob size in bytes; null for trees and submodules.</param>
public sealed record TreeEntry(string Mode, string Type, string Sha, long? Size, string Path);

/// <summary>The outcome of a worktree-less three-way merge.</summary>
/// <param name="TreeSha">The merged tree (with conflict markers when not clean).</param>
/// <param name="ConflictedPaths">Paths git reported as conflicted, in git's order.</param>
/// <param name="Unrelated">The two commits share no history: git refused to merge.</param>
public sealed record MergeTreeResult(string? TreeSha, bool Clean, IReadOnlyList<string> ConflictedPaths, bool Unrelated = false);

/// <summary>
/// A bare git repository driven through the git CLI. Reads may run concurrently; callers
/// serialize writes that must be atomic together (see <see cref="WriteLock"/>). Ref updates are
/// compare-and-swap, so even an unserialized racer cannot silently overwrite a move.
/// </summary>
public sealed class GitRepository
{
    public const string ZeroSha = "0000000000000000000000000000000000000000";

    private GitRepository(string gitDir) => GitDir = gitDir;

    public string GitDir { get; }

    /// <summary>Held around every read-modify-write of this repository's refs.</summary>
    public SemaphoreSlim WriteLock { get; } = new(1, 1);

    public static async Task<GitRepository> InitAsync(string gitDir, string defaultBranch, CancellationToken ct = default)
    {
        Directory.CreateDirectory(gitDir);
        await GitCli.RunCheckedAsync(null, ["init", "--quiet", "--bare", "--initial-branch=" + defaultBranch, gitDir], ct: ct);
        return new GitRepository(gitDir);
    }

    private Task<GitResult> Run(IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? env = null, byte[]? input = null, int[]? ok = null, CancellationToken ct = default) =>
        GitCli.RunCheckedAsync(GitDir, args, env, input, ok, ct);

    /// <summary>Resolves a sha, branch name or full ref to a commit sha; null when it names no commit.</summary>
    public async Task<string?> ResolveCommitAsync(string rev, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(rev) || rev.StartsWith('-') || rev.Contains("..", StringComparison.Ordinal)) return null;
        var r = await GitCli.RunAsync(GitDir, ["rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"], ct: ct);
        return r.ExitCode == 0 ? r.Text.Trim() : null;
    }

    /// <summary>Resolves a tree-ish (tree sha, commit sha, branch) to a tree sha; null when none.</summary>
    public async Task<string?> ResolveTreeAsync(string rev, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(rev) || rev.StartsWith('-')) return null;
        var r = await GitCli.RunAsync(GitDir, ["rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{tree}"], ct: ct);
        return r.ExitCode == 0 ? r.Text.Trim() : null;
    }

    /// <summary>The sha a full ref (refs/heads/x) points to, or null.</summary>
    public async Task<string?> GetRefAsync(string fullRef, CancellationToken ct = default)
    {
        var refs = await ListRefsAsync(fullRef, ct);
        return refs.FirstOrDefault(r => r.Ref == fullRef).Sha;
    }

    /// <summary>Refs under a prefix (a full ref name or a folder such as refs/heads/), sorted by name.</summary>
    public async Task<IReadOnlyList<(string Ref, string Sha)>> ListRefsAsync(string prefix = "refs/", CancellationToken ct = default)
    {
        var r = await Run(["for-each-ref", "--format=%(objectname) %(refname)"], ct: ct);
        return r.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => (Ref: l[41..], Sha: l[..40]))
            .Where(x => x.Ref.StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(x => x.Ref, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Compare-and-swap a ref. <paramref name="expectedOld"/>: null = don't check, <see cref="ZeroSha"/> = must not exist.</summary>
    /// <returns>False when the ref no longer had the expected value.</returns>
    public async Task<bool> UpdateRefAsync(string fullRef, string newSha, string? expectedOld, CancellationToken ct = default)
    {
        var args = new List<string> { "update-ref", fullRef, newSha };
        if (expectedOld is not null) args.Add(expectedOld);
        var r = await GitCli.RunAsync(GitDir, args, ct: ct);
        return r.ExitCode == 0;
    }

    public async Task<bool> DeleteRefAsync(string fullRef, string? expectedOld, CancellationToken ct = default)
    {
        var args = new List<string> { "update-ref", "-d", fullRef };
        if (expectedOld is not null) args.Add(expectedOld);
        var r = await GitCli.RunAsync(GitDir, args, ct: ct);
        return r.ExitCode == 0;
    }

    /// <summary>Whether a full ref name is one git accepts.</summary>
    public static async Task<bool> IsValidRefNameAsync(string fullRef, CancellationToken ct = default)
    {
        if (fullRef.StartsWith('-')) return false;
        var r = await GitCli.RunAsync(null, ["check-ref-format", fullRef], ct: ct);
        return r.ExitCode == 0;
    }

    public async Task<SimCommit?> ReadCommitAsync(string sha, CancellationToken ct = default)
    {
        var resolved = await ResolveCommitAsync(sha, ct);
        if (resolved is null) return null;
        var r = await Run(["cat-file", "commit", resolved], ct: ct);
        return ParseCommit(resolved, r.Text);
    }

    /// <summary>
    /// Commits known to exist (full shas, as rev-list gives them), in the order given, read by one
    /// <c>git cat-file --batch</c>: a list of 250 commits costs one process, not 500.
    /// </summary>
    public async Task<IReadOnlyList<SimCommit>> ReadCommitsAsync(IReadOnlyList<string> shas, CancellationToken ct = default)
    {
        if (shas.Count == 0) return [];
        var r = await Run(["cat-file", "--batch"], input: Encoding.ASCII.GetBytes(string.Join('\n', shas) + "\n"), ct: ct);
        var output = r.Output;
        var commits = new List<SimCommit>(shas.Count);
        var at = 0;
        foreach (var sha in shas)
        {
            // "<sha> <type> <size>\n<size bytes>\n" per object ("<sha> missing\n" for none).
            var end = Array.IndexOf(output, (byte)'\n', at);
            var header = Encoding.ASCII.GetString(output, at, end - at).Split(' ');
            if (header is not [_, "commit", var size]) throw new InvalidOperationException($"git cat-file --batch: {sha} is not a commit ({string.Join(' ', header)})");
            var length = int.Parse(size, System.Globalization.CultureInfo.InvariantCulture);
            commits.Add(ParseCommit(sha, Encoding.UTF8.GetString(output, end + 1, length)));
            at = end + 1 + length + 1;
        }
        return commits;
    }

    internal static SimCommit ParseCommit(string sha, string raw)
    {
        var split = raw.IndexOf("\n\n", StringComparison.Ordinal);
        var header = split < 0 ? raw : raw[..split];
        var message = split < 0 ? "" : raw[(split + 2)..];
        string tree = "";
        var parents = new List<string>();
        SimSignature? author = null, committer = null;
        foreach (var line in header.Split('\n'))
        {
            if (line.StartsWith("tree ", StringComparison.Ordinal)) tree = line[5..];
            else if (line.StartsWith("parent ", StringComparison.Ordinal)) parents.Add(line[7..]);
            else if (line.StartsWith("author ", StringComparison.Ordinal)) author = ParseSignature(line[7..]);
            else if (line.StartsWith("committer ", StringComparison.Ordinal)) committer = ParseSignature(line[10..]);
        }
        // git always ends a message with a newline; GitHub shows it without.
        message = message.EndsWith('\n') ? message[..^1] : message;
        var unknown = new SimSignature("unknown", "unknown", DateTimeOffset.UnixEpoch);
        return new SimCommit(sha, tree, parents, author ?? unknown, committer ?? author ?? unknown, message);
    }

    private static SimSignature ParseSignature(string text)
    {
        // "Name <email> 1700000000 +0100"
        var lt = text.IndexOf('<');
        var gt = text.IndexOf('>', lt + 1);
        var name = text[..lt].Trim();
        var email = text[(lt + 1)..gt];
        var rest = text[(gt + 1)..].Trim().Split(' ');
        var date = DateTimeOffset.FromUnixTimeSeconds(long.Parse(rest[0], CultureInfo.InvariantCulture));
        if (rest.Length > 1 && rest[1].Length == 5)
        {
            var sign = rest[1][0] == '-' ? -1 : 1;
            var offset = new TimeSpan(int.Parse(rest[1][1..3], CultureInfo.InvariantCulture), int.Parse(rest[1][3..5], CultureInfo.InvariantCulture), 0) * sign;
            date = date.ToOffset(offset);
        }
        return new SimSignature(name, email, date);
    }

    /// <summary>Writes a commit object (moves no ref).</summary>
    public async Task<string> CommitTreeAsync(string treeSha, IReadOnlyList<string> parents, string message, SimSignature author, SimSignature committer, CancellationToken ct = default)
    {
        var args = new List<string> { "commit-tree", treeSha };
        foreach (var p in parents) { args.Add("-p"); args.Add(p); }
        var env = new Dictionary<string, string>
        {
            ["GIT_AUTHOR_NAME"] = author.Name,
            ["GIT_AUTHOR_EMAIL"] = author.Email,
            ["GIT_AUTHOR_DATE"] = GitDate(author.Date),
            ["GIT_COMMITTER_NAME"] = committer.Name,
            ["GIT_COMMITTER_EMAIL"] = committer.Email,
            ["GIT_COMMITTER_DATE"] = GitDate(committer.Date),
        };
        // The message goes through stdin so that no byte of it is interpreted by a shell or by git's option parser.
        var r = await Run(args, env, Encoding.UTF8.GetBytes(message.EndsWith('\n') ? message : message + "\n"), ct: ct);
        return r.Text.Trim();
    }

    private static string GitDate(DateTimeOffset d) =>
        d.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + " " + (d.Offset < TimeSpan.Zero ? "-" : "+") + d.Offset.ToString("hhmm", CultureInfo.InvariantCulture);

    /// <summary>Three-way merge of two commits exactly as git merges them, without a worktree.</summary>
    public async Task<MergeTreeResult> MergeTreeAsync(string ours, string theirs, CancellationToken ct = default)
    {
        var r = await GitCli.RunAsync(GitDir, ["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", ours, theirs], ct: ct);
        if (r.ExitCode > 1)
        {
            if (r.Error.Contains("unrelated histories", StringComparison.OrdinalIgnoreCase)) return new MergeTreeResult(null, false, [], Unrelated: true);
            throw new GitException("merge-tree", r);
        }
        var parts = r.Text.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        var conflicts = parts.Skip(1).Distinct(StringComparer.Ordinal).ToList();
        return new MergeTreeResult(parts[0], r.ExitCode == 0, conflicts);
    }

    /// <summary>
    /// Applies <paramref name="commit"/>'s change (relative to its first parent) onto <paramref name="onto"/>,
    /// as `git cherry-pick` does. git 2.39's merge-tree has no --merge-base, so a throwaway commit
    /// with onto's tree and the picked commit's parent makes that parent the merge base.
    /// </summary>
    public async Task<MergeTreeResult> CherryPickTreeAsync(SimCommit commit, string onto, CancellationToken ct = default)
    {
        if (commit.Parents.Count == 0) return new MergeTreeResult(commit.TreeSha, true, []);
        var ontoTree = await ResolveTreeAsync(onto, ct) ?? throw new InvalidOperationException("no tree for " + onto);
        var sig = new SimSignature("GitHub Simulator", "simulator@users.noreply.github.com", DateTimeOffset.FromUnixTimeSeconds(1_000_000_000));
        var synthetic = await CommitTreeAsync(ontoTree, [commit.Parents[0]], "cherry-pick base", sig, sig, ct);
        return await MergeTreeAsync(synthetic, commit.Sha, ct);
    }

    /// <summary>Whether <paramref name="ancestor"/> is reachable from <paramref name="descendant"/> (a commit is its own ancestor).</summary>
    public async Task<bool> IsAncestorAsync(string ancestor, string descendant, CancellationToken ct = default)
    {
        var r = await GitCli.RunAsync(GitDir, ["merge-base", "--is-ancestor", ancestor, descendant], ct: ct);
        if (r.ExitCode > 1) throw new GitException("merge-base --is-ancestor", r);
        return r.ExitCode == 0;
    }

    public async Task<string?> MergeBaseAsync(string a, string b, CancellationToken ct = default)
    {
        var r = await GitCli.RunAsync(GitDir, ["merge-base", a, b], ct: ct);
        return r.ExitCode == 0 ? r.Text.Trim() : null;
    }

    /// <summary>Files changed and lines added and deleted from the merge base of the two commits to <paramref name="head"/> (git diff --numstat base...head; binary files count no lines).</summary>
    public async Task<(int Files, int Additions, int Deletions)> DiffStatsAsync(string baseSha, string head, CancellationToken ct = default)
    {
        var r = await Run(["diff", "--numstat", $"{baseSha}...{head}"], ct: ct);
        var (files, additions, deletions) = (0, 0, 0);
        foreach (var line in r.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            if (parts.Length < 3) continue;
            files++;
            if (int.TryParse(parts[0], out var added)) additions += added;
            if (int.TryParse(parts[1], out var deleted)) deletions += deleted;
        }
        return (files, additions, deletions);
    }

    /// <summary>Commits reachable from <paramref name="head"/> and not from <paramref name="exclude"/>, oldest first (topological).</summary>
    public async Task<IReadOnlyList<string>> RevListAsync(string head, string? exclude, CancellationToken ct = default)
    {
        var args = new List<string> { "rev-list", "--reverse", "--topo-order", head };
        if (exclude is not null) args.Add("^" + exclude);
        var r = await Run(args, ct: ct);
        return r.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public async Task<IReadOnlyList<TreeEntry>> ReadTreeAsync(string treeish, bool recursive, CancellationToken ct = default)
    {
        var args = new List<string> { "ls-tree", "-l", "-z" };
        if (recursive) { args.Add("-r"); args.Add("-t"); }
        args.Add(treeish);
        var r = await Run(args, ct: ct);
        return ParseLsTree(r.Text);
    }

    /// <summary>The entry at <paramref name="path"/> in a commit's tree, or null.</summary>
    public async Task<TreeEntry?> GetEntryAsync(string commit, string path, CancellationToken ct = default)
    {
        path = path.Trim('/');
        if (path.Length == 0) return null;
        var r = await GitCli.RunAsync(GitDir, ["ls-tree", "-l", "-z", commit, "--", path], ct: ct);
        if (r.ExitCode != 0) return null;
        return ParseLsTree(r.Text).FirstOrDefault(e => e.Path == path);
    }

    private static List<TreeEntry> ParseLsTree(string text)
    {
        var entries = new List<TreeEntry>();
        foreach (var record in text.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            // "<mode> SP <type> SP <object> SP+ <size> TAB <path>"
            var tab = record.IndexOf('\t');
            var fields = record[..tab].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long? size = long.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : null;
            entries.Add(new TreeEntry(fields[0], fields[1], fields[2], size, record[(tab + 1)..]));
        }
        return entries;
    }

    /// <summary>The commit's tree as a gzipped tar whose entries all live under <paramref name="prefix"/> (<c>git archive</c>).</summary>
    public async Task<byte[]> ArchiveTarGzAsync(string commit, string prefix, CancellationToken ct = default) =>
        (await Run(["archive", "--format=tar.gz", "--prefix=" + prefix, commit], ct: ct)).Output;

    public async Task<byte[]> ReadBlobAsync(string sha, CancellationToken ct = default) =>
        (await Run(["cat-file", "blob", sha], ct: ct)).Output;

    /// <summary>Paths of all files (blobs) in a commit.</summary>
    public async Task<IReadOnlyList<string>> ListFilesAsync(string commit, CancellationToken ct = default)
    {
        var r = await Run(["ls-tree", "-r", "-z", "--name-only", commit], ct: ct);
        return r.Text.Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// Builds a tree from <paramref name="baseTree"/> (null = empty) with files added, replaced or
    /// (content null) removed, through a throwaway index file, so nested paths work as in git.
    /// </summary>
    public async Task<string> WriteTreeAsync(string? baseTree, IReadOnlyDictionary<string, byte[]?> changes, CancellationToken ct = default)
    {
        var index = Path.Combine(Path.GetTempPath(), "mq-sim-index-" + Guid.NewGuid().ToString("N"));
        var env = new Dictionary<string, string> { ["GIT_INDEX_FILE"] = index };
        try
        {
            if (baseTree is not null) await Run(["read-tree", baseTree], env, ct: ct);
            else await Run(["read-tree", "--empty"], env, ct: ct);
            var info = new StringBuilder();
            foreach (var (path, content) in changes)
            {
                var clean = path.Trim('/');
                if (content is null)
                {
                    info.Append("0 ").Append(ZeroSha).Append('\t').Append(clean).Append('\0');
                    continue;
                }
                var blob = (await Run(["hash-object", "-w", "--stdin"], input: content, ct: ct)).Text.Trim();
                info.Append("100644 ").Append(blob).Append('\t').Append(clean).Append('\0');
            }
            if (info.Length > 0) await Run(["update-index", "-z", "--index-info"], env, Encoding.UTF8.GetBytes(info.ToString()), ct: ct);
            return (await Run(["write-tree"], env, ct: ct)).Text.Trim();
        }
        finally
        {
            File.Delete(index);
            File.Delete(index + ".lock");
        }
    }

    /// <summary>Whether a commit's tree holds a file with this exact name in any folder.</summary>
    public async Task<bool> HasFileNamedAsync(string commit, string fileName, CancellationToken ct = default)
    {
        var files = await ListFilesAsync(commit, ct);
        return files.Any(f => f == fileName || f.EndsWith("/" + fileName, StringComparison.Ordinal));
    }

    /// <summary>Whether a sha names any object (commit, tree, blob) in this repository.</summary>
    public async Task<string?> ObjectTypeAsync(string sha, CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(sha) || sha.StartsWith('-')) return null;
        var r = await GitCli.RunAsync(GitDir, ["cat-file", "-t", sha], ct: ct);
        return r.ExitCode == 0 ? r.Text.Trim() : null;
    }
}
