using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Dapper;
using MergeQueue.Data;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace MergeQueue.Service.Cluster;

/// <summary>
/// Keeps ASP.NET's data protection keys (which sign the sign-in cookie, the OAuth state and forms)
/// in the database, so every instance behind a load balancer reads what another wrote. A key's XML
/// holds secret material: it is stored encrypted with AES-GCM under a key derived (HKDF-SHA256) from
/// the webhook secret, which every instance has. A row that does not decrypt (the secret changed) is
/// skipped, and data protection makes a new key.
/// </summary>
public sealed class DatabaseKeyRepository(Database database, string webhookSecret, TimeProvider clock, ILogger<DatabaseKeyRepository> logger) : IXmlRepository
{
    private readonly byte[] _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(webhookSecret), 32,
        info: Encoding.UTF8.GetBytes("mergequeue data protection keys v1"));

    // The interface is synchronous; data protection calls it at start and when it rotates keys (every 90 days).
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var connection = database.OpenAsync().GetAwaiter().GetResult();
        var elements = new List<XElement>();
        foreach (var (name, xml) in connection.Query<(string, string)>("SELECT name, xml FROM data_protection_key ORDER BY created_at, name"))
        {
            try
            {
                elements.Add(XElement.Parse(Decrypt(xml)));
            }
            catch (Exception e) when (e is CryptographicException or FormatException or System.Xml.XmlException)
            {
                logger.LogWarning("Data protection key {Name} cannot be read with this webhook secret; skipped (sign-ins it protected end)", name);
            }
        }
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var connection = database.OpenWriteAsync().GetAwaiter().GetResult();
        connection.Execute(
            "INSERT INTO data_protection_key (name, xml, created_at) VALUES (@name, @xml, @now) ON CONFLICT (name) DO UPDATE SET xml = excluded.xml",
            new { name = friendlyName, xml = Encrypt(element.ToString(SaveOptions.DisableFormatting)), now = clock.GetUtcNow().ToUnixTimeMilliseconds() });
    }

    /// <summary>base64(nonce ‖ tag ‖ ciphertext).</summary>
    private string Encrypt(string plain)
    {
        var data = Encoding.UTF8.GetBytes(plain);
        var output = new byte[12 + 16 + data.Length];
        var nonce = output.AsSpan(0, 12);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, 16);
        aes.Encrypt(nonce, data, output.AsSpan(28), output.AsSpan(12, 16));
        return Convert.ToBase64String(output);
    }

    private string Decrypt(string stored)
    {
        var input = Convert.FromBase64String(stored);
        if (input.Length < 28) throw new FormatException("Too short to be an encrypted key.");
        var plain = new byte[input.Length - 28];
        using var aes = new AesGcm(_key, 16);
        aes.Decrypt(input.AsSpan(0, 12), input.AsSpan(28), input.AsSpan(12, 16), plain);
        return Encoding.UTF8.GetString(plain);
    }
}
