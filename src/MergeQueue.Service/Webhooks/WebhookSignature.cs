using System.Security.Cryptography;
using System.Text;

namespace MergeQueue.Service.Webhooks;

/// <summary>GitHub's <c>X-Hub-Signature-256</c>: <c>sha256=</c> and the hex HMAC-SHA256 of the body.</summary>
public static class WebhookSignature
{
    public static string Sign(byte[] body, string secret) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary><c>sha256=</c> and 64 hex digits: what a signature must look like before the body is worth reading.</summary>
    public static bool IsWellFormed(string? header) =>
        header is { Length: 71 } && header.StartsWith("sha256=", StringComparison.Ordinal) && header.AsSpan(7).ContainsAnyExcept(HexDigits) is false;

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>Compares in constant time, so the answer's timing says nothing about the expected signature.</summary>
    public static bool IsValid(byte[] body, string? header, string secret)
    {
        if (string.IsNullOrEmpty(header) || !header.StartsWith("sha256=", StringComparison.Ordinal)) return false;
        var expected = Encoding.ASCII.GetBytes(Sign(body, secret));
        var actual = Encoding.ASCII.GetBytes(header.ToLowerInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }
}
