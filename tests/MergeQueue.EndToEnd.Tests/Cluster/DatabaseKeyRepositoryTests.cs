using Dapper;
using MergeQueue.Data;
using MergeQueue.Service.Cluster;
using MergeQueue.Tests.Shared;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace MergeQueue.EndToEnd.Tests.Cluster;

/// <summary>Data protection keys in the database: what one instance protects (a sign-in cookie) another reads.</summary>
public sealed class DatabaseKeyRepositoryTests
{
    private static IDataProtector Instance(Database database, string secret)
    {
        var services = new ServiceCollection();
        services.AddDataProtection().SetApplicationName("MergeQueue");
        services.Configure<KeyManagementOptions>(o => o.XmlRepository = new DatabaseKeyRepository(database, secret, TimeProvider.System, NullLogger<DatabaseKeyRepository>.Instance));
        return services.BuildServiceProvider().GetRequiredService<IDataProtectionProvider>().CreateProtector("sign-in");
    }

    [Test]
    public async Task KeysInTheDatabase_AreSharedByInstances_AndStoredEncrypted()
    {
        var postgres = await PostgresServer.SharedAsync();
        var connection = await postgres.CreateDatabaseAsync("keys");
        try
        {
            await using var first = new PostgresDatabase(connection);
            await using var second = new PostgresDatabase(connection);
            await first.MigrateAsync();

            var cookie = Instance(first, "webhook-secret").Protect("alice signed in");
            Instance(second, "webhook-secret").Unprotect(cookie).Should().Be("alice signed in", "another instance reads the cookie");

            await using var db = await first.OpenAsync();
            var stored = (await db.QueryAsync<string>("SELECT xml FROM data_protection_key")).ToList();
            stored.Should().ContainSingle();
            stored[0].Should().NotContain("masterKey").And.NotContain("<key", "the key's XML is encrypted at rest");

            // Another secret cannot read the stored key: it is skipped, and that instance cannot read the cookie.
            FluentActions.Invoking(() => Instance(second, "another-secret").Unprotect(cookie)).Should().Throw<System.Security.Cryptography.CryptographicException>();
        }
        finally
        {
            await postgres.DropDatabaseAsync(connection);
        }
    }
}
