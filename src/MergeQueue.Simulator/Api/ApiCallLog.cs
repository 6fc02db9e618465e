using MergeQueue.Simulator.Control;

namespace MergeQueue.Simulator.Api;

/// <summary>Records every REST call and keeps GitHub's per-user hourly rate-limit counters.</summary>
public sealed class ApiCallLog(TimeProvider time)
{
    public const int Limit = 5000;

    private readonly object sync = new();
    private readonly List<ApiCall> calls = [];
    private readonly List<string> unexpected = [];
    private readonly Dictionary<string, (long WindowStart, int Used)> usage = new(StringComparer.OrdinalIgnoreCase);
    private long sequence;

    public void Record(string method, string path, string? query, int status, string? user, DateTimeOffset at, double durationMs, string? fault)
    {
        lock (sync) calls.Add(new ApiCall(++sequence, method, path, query, status, user, at, durationMs, fault));
    }

    public IReadOnlyList<ApiCall> Calls(long afterSequence = 0)
    {
        lock (sync) return calls.Where(c => c.Sequence > afterSequence).ToList();
    }

    public void Clear()
    {
        lock (sync) calls.Clear();
    }

    /// <summary>Errors no endpoint anticipated (answered 500). Tests assert this stays empty.</summary>
    public IReadOnlyList<string> UnexpectedErrors()
    {
        lock (sync) return unexpected.ToList();
    }

    public void RecordUnexpected(string description)
    {
        lock (sync) unexpected.Add(description);
    }

    /// <summary>Counts one call against the user's hourly window and returns the header values.</summary>
    public (int Limit, int Remaining, long Reset, int Used) Count(string login)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        lock (sync)
        {
            var (start, used) = usage.GetValueOrDefault(login, (now, 0));
            if (now - start >= 3600) (start, used) = (now, 0);
            used++;
            usage[login] = (start, used);
            return (Limit, Math.Max(0, Limit - used), start + 3600, used);
        }
    }
}
