namespace MergeQueue.GitHub;

/// <summary>One finished adapter call: an <see cref="MergeQueue.Core.Ports.IGitHub"/> method, after all its attempts.</summary>
/// <param name="Operation">a short name, e.g. "merge" or "get-checks"</param>
/// <param name="Attempts">how many times the request was sent</param>
/// <param name="Succeeded">false when the call threw</param>
/// <param name="Reconciled">true when a retry found the first try's effect already in place</param>
public sealed record GitHubCall(string Operation, int Attempts, bool Succeeded, bool Reconciled, TimeSpan Duration);

/// <summary>
/// Counters for the host to export, plus an event per finished call. Thread-safe; counts only
/// grow.
/// </summary>
public sealed class GitHubCallMetrics
{
    private long _calls;
    private long _attempts;
    private long _retries;
    private long _failures;
    private long _reconciliations;

    /// <summary>Raised after every call, on the calling thread; handlers must be quick and must not throw.</summary>
    public event Action<GitHubCall>? CallCompleted;

    public long Calls => Interlocked.Read(ref _calls);
    public long Attempts => Interlocked.Read(ref _attempts);
    public long Retries => Interlocked.Read(ref _retries);
    public long Failures => Interlocked.Read(ref _failures);
    public long Reconciliations => Interlocked.Read(ref _reconciliations);

    internal void Retried() => Interlocked.Increment(ref _retries);

    internal void Completed(GitHubCall call)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _attempts, call.Attempts);
        if (!call.Succeeded) Interlocked.Increment(ref _failures);
        if (call.Reconciled) Interlocked.Increment(ref _reconciliations);
        CallCompleted?.Invoke(call);
    }
}
