using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace MergeQueue.Tests.Shared;

/// <summary>
/// A real PostgreSQL 15 server for one test run: <c>initdb</c> into a temporary directory, started
/// with <c>pg_ctl</c> on 127.0.0.1 and a free port, stopped and deleted at the end. Run as the
/// <c>postgres</c> user when the tests run as root (PostgreSQL refuses root). Each caller gets a
/// database of its own with <see cref="CreateDatabaseAsync"/>.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";

    private static readonly SemaphoreSlim StartGate = new(1, 1);
    private static PostgresServer? _shared;

    private readonly string _directory;
    private int _databases;

    private PostgresServer(string directory, int port)
    {
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    /// <summary>Superuser connection string to database <paramref name="database"/>.</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Maximum Pool Size=50;Timeout=30";

    /// <summary>The server shared by every test of this process, started on first use and stopped when the process exits.</summary>
    public static async Task<PostgresServer> SharedAsync()
    {
        await StartGate.WaitAsync();
        try
        {
            if (_shared is null)
            {
                _shared = await StartAsync();
                var server = _shared;
                AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
            }
            return _shared;
        }
        finally
        {
            StartGate.Release();
        }
    }

    /// <param name="durable">
    /// Off (tests): fsync, synchronous commit and full page writes off, as a test server needs no durability and
    /// the suite runs on two cores. On (benchmarks): all three on, as in production, so a commit waits for the disk.
    /// </param>
    public static async Task<PostgresServer> StartAsync(bool durable = false)
    {
        if (!File.Exists(Path.Combine(BinDirectory, "initdb")))
            throw new InvalidOperationException($"PostgreSQL 15 is not installed ({BinDirectory}/initdb is missing): apt-get install postgresql-15 (scripts/test.sh does).");
        var directory = Path.Combine(Path.GetTempPath(), "mergequeue-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        var data = Path.Combine(directory, "data");
        var asRoot = Environment.UserName == "root";
        if (asRoot) await RunAsync("chown", $"postgres:postgres {directory}", asPostgres: false);
        await RunAsync(Path.Combine(BinDirectory, "initdb"), $"-D {data} -U postgres --auth=trust -E UTF8{(durable ? "" : " --no-sync")}", asRoot);
        var port = FreePort();
        var durability = durable ? "-c fsync=on -c synchronous_commit=on -c full_page_writes=on" : "-c fsync=off -c synchronous_commit=off -c full_page_writes=off";
        await RunAsync(Path.Combine(BinDirectory, "pg_ctl"),
            $"-D {data} -l {directory}/server.log -w -t 60 -o \"-p {port} -k {directory} -c listen_addresses=127.0.0.1 {durability} -c max_connections=300\" start",
            asRoot);
        return new PostgresServer(directory, port);
    }

    /// <summary>A new empty database on this server; its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "mq")
    {
        var name = $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..6]}".ToLowerInvariant();
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>, closing whatever is still connected.</summary>
    public async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }

    public void Stop()
    {
        try
        {
            Run(Path.Combine(BinDirectory, "pg_ctl"), $"-D {_directory}/data -m immediate -w stop", Environment.UserName == "root");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task RunAsync(string file, string arguments, bool asPostgres) => Task.Run(() => Run(file, arguments, asPostgres));

    private static void Run(string file, string arguments, bool asPostgres)
    {
        var start = asPostgres
            ? new ProcessStartInfo("su", ["postgres", "-s", "/bin/sh", "-c", $"{file} {arguments}"])
            : new ProcessStartInfo(file, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = "/tmp";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {arguments} did not finish in 2 minutes.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {output.Result}{error.Result}");
    }
}
