using System.Text;
using System.Text.RegularExpressions;

namespace MergeQueue.Simulator.Ci;

/// <summary>Branch globs as CI systems write them: <c>*</c> within one path segment, <c>**</c> across segments.</summary>
public static class GlobPattern
{
    public static bool IsMatch(string pattern, string branch) =>
        Regex.IsMatch(branch, ToRegex(pattern), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static string ToRegex(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                sb.Append(".*");
                i++;
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return sb.Append('$').ToString();
    }
}
