using Microsoft.Extensions.Time.Testing;

namespace MergeQueue.GitHub.Tests.Support;

/// <summary>
/// A fake clock that also tells which timers were started, so a test can advance it only once the
/// retry is waiting, and how many have fired: FakeTimeProvider fires a due timer inside Advance,
/// so "no timer fired" right after an Advance means no retry was let go, without waiting to see.
/// </summary>
internal sealed class WatchedFakeTime(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly List<TimeSpan> _timers = [];
    private int _fired;

    public IReadOnlyList<TimeSpan> Timers
    {
        get { lock (_timers) return _timers.ToList(); }
    }

    /// <summary>How many times a timer's callback has run (a retry wait that ended).</summary>
    public int Fired => Volatile.Read(ref _fired);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(s =>
        {
            Interlocked.Increment(ref _fired);
            callback(s);
        }, state, dueTime, period);
        lock (_timers) _timers.Add(dueTime);
        return timer;
    }
}

/// <summary>
/// The real clock, except that every wait ends at once; the waits asked for are recorded. Lets
/// tests against the simulator retry through a 60 s secondary rate limit in milliseconds.
/// </summary>
public sealed class InstantWaits : TimeProvider
{
    private readonly List<TimeSpan> _waits = [];

    public IReadOnlyList<TimeSpan> Waits
    {
        get { lock (_waits) return _waits.ToList(); }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        lock (_waits) _waits.Add(dueTime);
        return System.CreateTimer(callback, state, TimeSpan.Zero, period);
    }
}

internal static class Eventually
{
    /// <summary>Waits in real time for something another thread does; fails the test after a few seconds.</summary>
    public static async Task That(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for {what}.");
            await Task.Delay(5);
        }
    }
}
