namespace MergeQueue.Core;

/// <summary>
/// Time cut into UTC days or hours, for the trend charts (the dashboard's trends and the runner's
/// history): which buckets a span covers, and which bucket a moment falls in.
/// </summary>
public sealed class TimeBuckets
{
    private TimeBuckets(bool hourly, IReadOnlyList<DateTimeOffset> starts)
    {
        Hourly = hourly;
        Starts = starts;
    }

    public bool Hourly { get; }

    /// <summary>The start of every bucket, oldest first.</summary>
    public IReadOnlyList<DateTimeOffset> Starts { get; }

    public TimeSpan Step => Hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);

    /// <summary>The buckets from the one holding <paramref name="from"/> up to <paramref name="to"/> (excluded), at most <paramref name="max"/>.</summary>
    public static TimeBuckets Cover(DateTimeOffset from, DateTimeOffset to, bool hourly, int max)
    {
        var step = hourly ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);
        var starts = new List<DateTimeOffset>();
        for (var b = Floor(from, hourly); b < to && starts.Count < max; b += step) starts.Add(b);
        return new TimeBuckets(hourly, starts);
    }

    /// <summary>The bucket <paramref name="t"/> falls in, or null when it is outside them all.</summary>
    public int? IndexOf(DateTimeOffset t)
    {
        if (Starts.Count == 0) return null;
        var i = (Floor(t, Hourly) - Starts[0]).Ticks / Step.Ticks;
        return i >= 0 && i < Starts.Count ? (int)i : null;
    }

    public static DateTimeOffset Floor(DateTimeOffset t, bool hourly)
    {
        var u = t.UtcDateTime;
        return new DateTimeOffset(hourly ? new DateTime(u.Year, u.Month, u.Day, u.Hour, 0, 0, DateTimeKind.Utc) : u.Date, TimeSpan.Zero);
    }

    /// <summary>Nearest rank: the smallest value with at least <paramref name="p"/> of the values at or below it.</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
