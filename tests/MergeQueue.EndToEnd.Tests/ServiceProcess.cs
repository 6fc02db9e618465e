using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MergeQueue.EndToEnd.Tests;

/// <summary>The service as a separate process (started from its build output, with <c>dotnet run</c>, or from a publish folder), so it can be killed for real.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Url = new Uri($"http://127.0.0.1:{port}/");
    }

    public int Port { get; }
    public Uri Url { get; }
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MergeQueue.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("MergeQueue.sln");
    }

    /// <summary>The build configuration these tests were built with (the service was built with it too).</summary>
    public static string Configuration => AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>The service's own build output.</summary>
    public static string ServiceDll => Path.Combine(RepoRoot(), "src", "MergeQueue.Service", "bin", Configuration, "net10.0", "MergeQueue.Service.dll");

    /// <summary>Starts <c>dotnet {arguments}</c> with the settings as <c>--Key=Value</c> and the port in <c>Urls</c>.</summary>
    public static ServiceProcess Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> settings, int port, string? workingDirectory = null)
    {
        var info = Dotnet(arguments, workingDirectory);
        foreach (var (key, value) in settings.Where(s => s.Key != "Urls" && s.Value is not null))
            info.ArgumentList.Add($"--{key}={value}");
        info.ArgumentList.Add($"--Urls=http://127.0.0.1:{port}");
        return Launch(info, port);
    }

    /// <summary>Starts <c>dotnet {arguments}</c> as they are (a command of the service that serves nothing, such as <c>runner</c>), with extra environment variables.</summary>
    public static ServiceProcess StartCommand(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = Dotnet(arguments);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        return Launch(info, 0);
    }

    /// <summary><c>dotnet {arguments}</c> with its output redirected.</summary>
    private static ProcessStartInfo Dotnet(IEnumerable<string> arguments, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["DOTNET_NOLOGO"] = "1";
        return info;
    }

    private static ServiceProcess Launch(ProcessStartInfo info, int port)
    {
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var sp = new ServiceProcess(process, port);
        process.OutputDataReceived += (_, e) => sp.Append(e.Data);
        process.ErrorDataReceived += (_, e) => sp.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return sp;
    }

    /// <summary>Runs <c>dotnet {arguments}</c> (a command of the service, such as <c>migrate-db</c>) to its end: the exit code, and stdout and stderr apart.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = Dotnet(arguments);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        using var cts = new CancellationTokenSource(timeout);
        var output = process.StandardOutput.ReadToEndAsync(cts.Token);
        var error = process.StandardError.ReadToEndAsync(cts.Token);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', info.ArgumentList)} did not finish in {timeout}.");
        }
        return (process.ExitCode, await output, await error);
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public async Task WaitUntilHealthyAsync(TimeSpan? timeout = null)
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the service exited with {_process.ExitCode}:\n{Output}");
            try
            {
                if ((await http.GetAsync("healthz")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            catch (TaskCanceledException)
            {
                // slow start
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"the service did not become healthy:\n{Output}");
    }

    /// <summary>SIGKILL: no shutdown, no flushing, as a crash or an OOM kill.</summary>
    /// <param name="alone">the process only, not what it started (as an OOM kill of the process)</param>
    public void Kill(bool alone = false)
    {
        _process.Kill(entireProcessTree: !alone);
        _process.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
