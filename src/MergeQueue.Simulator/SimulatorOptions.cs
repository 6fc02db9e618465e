using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator;

/// <summary>How to start a <see cref="GitHubSimulator"/>.</summary>
public sealed class SimulatorOptions
{
    /// <summary>Addresses to listen on; default http://127.0.0.1:0 (a free port).</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:0"];

    /// <summary>Folder for the bare repositories; default a new temporary folder, deleted on dispose.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>The simulated CI's starting configuration (null members keep the defaults).</summary>
    public CiConfig? Ci { get; init; }

    /// <summary>Clock for timestamps (commits, statuses, records).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Log ASP.NET Core's request and startup messages to the console.</summary>
    public bool Logging { get; init; }
}
