using MergeQueue.Bench.Intake;
using MergeQueue.Bench.Poll;
using MergeQueue.Bench.Queue;

// Benchmarks, run on demand (never by the test command); docs/benchmarks.md shows the commands and results.
return args.FirstOrDefault() switch
{
    "queue" => await QueueBenchmark.MainAsync(args[1..]),
    "intake" => await IntakeBenchmark.MainAsync(args[1..]),
    "poll" => await PollBenchmark.MainAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project bench/MergeQueue.Bench -- queue [options]
               dotnet run -c Release --project bench/MergeQueue.Bench -- intake [options]
               dotnet run -c Release --project bench/MergeQueue.Bench -- poll [options]
        see docs/benchmarks.md
        """);
    return 2;
}
