using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.Bench.Queue;

/// <summary>
/// A discrete-event loop over a fake clock: events run in time order (then in the order they were
/// scheduled), and the clock jumps to each event's time. Nothing sleeps.
/// </summary>
public sealed class Simulation
{
    private readonly PriorityQueue<Func<Task>, (DateTimeOffset At, long Sequence)> _events = new();
    private long _sequence;

    public FakeTimeProvider Clock { get; } = new(Workload.Start);

    public DateTimeOffset Now => Clock.GetUtcNow();

    public void At(DateTimeOffset when, Func<Task> action) => _events.Enqueue(action, (when < Now ? Now : when, _sequence++));

    public void After(TimeSpan delay, Func<Task> action) => At(Now + delay, action);

    /// <summary>Runs events until <paramref name="done"/> holds, none is left, or the next one is after <paramref name="limit"/>.</summary>
    public async Task RunAsync(Func<bool> done, DateTimeOffset limit)
    {
        while (!done() && _events.TryPeek(out _, out var key) && key.At <= limit)
        {
            var action = _events.Dequeue();
            if (key.At > Now) Clock.SetUtcNow(key.At);
            await action();
        }
    }
}
