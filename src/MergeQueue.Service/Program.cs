using MergeQueue.Service;
using MergeQueue.Service.MigrateDb;
using MergeQueue.Service.Sandbox;

if (args.Length > 0 && args[0] == "sandbox")
    return await SandboxMode.RunAsync(args[1..]);
if (args.Length > 0 && args[0] == MergeQueue.Service.Runner.ExternalRunner.Name)
    return await MergeQueue.Service.Runner.ExternalRunner.RunAsync(args[1..], Console.Error);
if (args.Length > 0 && args[0] == MigrateDbCommand.Name)
    return await MigrateDbCommand.RunAsync(args[1..], Console.Out, Console.Error);

try
{
    var app = ServiceHost.Build(args);
    await app.MigrateAsync();
    await app.RunAsync();
    return 0;
}
catch (InvalidOperationException e) when (e.Message.StartsWith("MergeQueue:", StringComparison.Ordinal))
{
    // A setting is missing or wrong: say which, and refuse to start.
    Console.Error.WriteLine($"MergeQueue cannot start: {e.Message}");
    return 2;
}

/// <summary>The entry point, named so tests can refer to the assembly.</summary>
public partial class Program;
