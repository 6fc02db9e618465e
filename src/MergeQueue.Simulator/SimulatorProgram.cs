namespace MergeQueue.Simulator;

/// <summary>
/// Runs the simulator on its own: <c>dotnet run --project src/MergeQueue.Simulator -- --urls http://127.0.0.1:5100</c>.
/// A class with Main rather than top-level statements, because other projects reference this
/// one and a generated global Program class would clash with theirs.
/// </summary>
public static class SimulatorProgram
{
    public static async Task<int> Main(string[] args)
    {
        var urls = new List<string>();
        string? data = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--urls" && i + 1 < args.Length) urls.AddRange(args[++i].Split(';', StringSplitOptions.RemoveEmptyEntries));
            else if (args[i].StartsWith("--urls=", StringComparison.Ordinal)) urls.AddRange(args[i]["--urls=".Length..].Split(';', StringSplitOptions.RemoveEmptyEntries));
            else if (args[i] == "--data" && i + 1 < args.Length) data = args[++i];
            else
            {
                await Console.Error.WriteLineAsync($"unknown argument {args[i]}; usage: [--urls http://127.0.0.1:PORT] [--data DIR]");
                return 2;
            }
        }
        if (urls.Count == 0) urls.Add(Environment.GetEnvironmentVariable("ASPNETCORE_URLS") ?? "http://127.0.0.1:5100");

        await using var simulator = await GitHubSimulator.StartAsync(new SimulatorOptions { Urls = urls, DataDirectory = data });
        Console.WriteLine($"GitHub simulator listening on {simulator.BaseUrl} (REST at / and /api/v3/, control at /_sim/)");
        // The host's console lifetime stops it on Ctrl+C or SIGTERM.
        await simulator.WaitForShutdownAsync();
        return 0;
    }
}
