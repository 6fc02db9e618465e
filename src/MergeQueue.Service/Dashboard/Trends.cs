using System.Globalization;
using System.Net;
using System.Text;
using MergeQueue.Core;
using MergeQueue.Data;

namespace MergeQueue.Service.Dashboard;

/// <summary>One figure per bucket; null where the bucket has nothing to measure (no merges, say).</summary>
public sealed record TrendSeries(string Id, string Title, string Unit, string Meaning, IReadOnlyList<double?> Values);

public sealed record TrendReport(DateTimeOffset From, DateTimeOffset To, bool Hourly, IReadOnlyList<DateTimeOffset> Buckets, IReadOnlyList<TrendSeries> Series);

/// <summary>Trend figures per day or hour from stored history, and their server-rendered SVG charts.</summary>
public static class Trends
{
    /// <summary>More buckets than this are refused (a year of days, or three weeks of hours, fits).</summary>
    public const int MaxBuckets = 500;

    public static TrendReport Compute(TrendData data, DateTimeOffset from, DateTimeOffset to, bool hourly)
    {
        var cover = TimeBuckets.Cover(from, to, hourly, MaxBuckets);
        var buckets = cover.Starts;
        // Outside every bucket: -1, which the bounds tests below skip (and the queue walk treats as before the first).
        int Index(DateTimeOffset t) => cover.IndexOf(t) ?? (t < (buckets.Count > 0 ? buckets[0] : to) ? -1 : buckets.Count);

        var ttm = buckets.Select(_ => new List<double>()).ToArray();
        foreach (var (requested, merged) in data.Merged)
            if (Index(merged) is var i && i >= 0 && i < buckets.Count) ttm[i].Add((merged - requested).TotalMinutes);
        var failed = new int[buckets.Count];
        foreach (var f in data.Failed)
            if (Index(f) is var i && i >= 0 && i < buckets.Count) failed[i]++;
        var batchSizes = buckets.Select(_ => new List<int>()).ToArray();
        foreach (var (_, at, size) in data.Batches)
            if (Index(at) is var i && i >= 0 && i < buckets.Count) batchSizes[i].Add(size);
        var ci = new int[buckets.Count];
        foreach (var c in data.CiRuns)
            if (Index(c) is var i && i >= 0 && i < buckets.Count) ci[i]++;
        // Queue length: the most PRs queued at once during the bucket.
        var queueMax = new double?[buckets.Count];
        var length = data.QueuedAtStart;
        var next = 0;
        for (var i = 0; i < buckets.Count; i++)
        {
            var peak = length;
            for (; next < data.QueueChanges.Count && Index(data.QueueChanges[next].At) <= i; next++)
            {
                length += data.QueueChanges[next].Delta;
                peak = Math.Max(peak, length);
            }
            queueMax[i] = peak;
        }

        var series = new List<TrendSeries>
        {
            new("merged", "Merged pull requests", "PRs", "pull requests merged in the bucket",
                ttm.Select(l => (double?)l.Count).ToList()),
            new("ttm-median", "Time to merge, median", "min", "from the merge request to the merge, for PRs merged in the bucket",
                ttm.Select(l => l.Count == 0 ? (double?)null : Percentile(l, 0.5)).ToList()),
            new("ttm-p95", "Time to merge, 95th percentile", "min", "95% of the PRs merged in the bucket took at most this long",
                ttm.Select(l => l.Count == 0 ? (double?)null : Percentile(l, 0.95)).ToList()),
            new("queue-length", "Queue length (peak)", "PRs", "the most PRs queued at once during the bucket, all targets",
                queueMax.ToList()),
            new("batch-size", "Batch size (mean)", "PRs", "PRs per attempt built in the bucket (split attempts included)",
                batchSizes.Select(l => l.Count == 0 ? (double?)null : l.Average()).ToList()),
            new("ci-per-merge", "CI runs per merged PR", "runs", "staging commits sent to CI, divided by PRs merged, in the bucket",
                ttm.Select((l, i) => l.Count == 0 ? (double?)null : (double)ci[i] / l.Count).ToList()),
            new("failure-rate", "Failure rate", "%", "failed or timed-out PRs out of all that finished (cancellations excluded)",
                ttm.Select((l, i) => l.Count + failed[i] == 0 ? (double?)null : 100.0 * failed[i] / (l.Count + failed[i])).ToList()),
        };
        return new TrendReport(from, to, hourly, buckets, series);
    }

    public static DateTimeOffset Floor(DateTimeOffset t, bool hourly) => TimeBuckets.Floor(t, hourly);

    private static double Percentile(List<double> values, double p) => TimeBuckets.Percentile(values, p);

    /// <summary>A line chart with one circle per bucket that has a value (<c>class="point"</c>, <c>data-bucket</c>, a tooltip).</summary>
    public static string Svg(TrendReport report, TrendSeries series)
    {
        const int width = 640, height = 200, left = 48, right = 36, top = 12, bottom = 36;
        var plotW = width - left - right;
        var plotH = height - top - bottom;
        var n = Math.Max(report.Buckets.Count, 1);
        var max = series.Values.Where(v => v is not null).Select(v => v!.Value).DefaultIfEmpty(0).Max();
        var yMax = max <= 0 ? 1 : NiceCeiling(max);
        double X(int i) => left + (n == 1 ? plotW / 2.0 : plotW * i / (double)(n - 1));
        double Y(double v) => top + plotH - plotH * v / yMax;
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg class="chart" id="chart-{series.Id}" viewBox="0 0 {width} {height}" role="img" aria-label="{Enc(series.Title)}" xmlns="http://www.w3.org/2000/svg">""");
        for (var g = 0; g <= 4; g++)
        {
            var v = yMax * g / 4;
            svg.Append(CultureInfo.InvariantCulture, $"""<line class="grid" x1="{left}" x2="{width - right}" y1="{F(Y(v))}" y2="{F(Y(v))}"/><text class="axis" x="{left - 6}" y="{F(Y(v) + 4)}" text-anchor="end">{F(v)}</text>""");
        }
        var labelEvery = Math.Max(1, (int)Math.Ceiling(n / 8.0));
        for (var i = 0; i < report.Buckets.Count; i += labelEvery)
            svg.Append(CultureInfo.InvariantCulture, $"""<text class="axis" x="{F(X(i))}" y="{height - 12}" text-anchor="middle">{Enc(Label(report.Buckets[i], report.Hourly))}</text>""");

        var path = new StringBuilder();
        var pen = false;
        for (var i = 0; i < series.Values.Count; i++)
        {
            if (series.Values[i] is not { } v) { pen = false; continue; }
            path.Append(pen ? " L" : " M").Append(F(X(i))).Append(',').Append(F(Y(v)));
            pen = true;
        }
        if (path.Length > 0) svg.Append(CultureInfo.InvariantCulture, $"""<path class="line" d="{path.ToString().Trim()}"/>""");
        for (var i = 0; i < series.Values.Count; i++)
        {
            if (series.Values[i] is not { } v) continue;
            var bucket = Label(report.Buckets[i], report.Hourly);
            svg.Append(CultureInfo.InvariantCulture, $"""<circle class="point" cx="{F(X(i))}" cy="{F(Y(v))}" r="3.5" data-bucket="{Enc(bucket)}" data-value="{F(v)}"><title>{Enc(bucket)}: {F(v)} {Enc(series.Unit)}</title></circle>""");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    public static string Label(DateTimeOffset bucket, bool hourly) =>
        bucket.UtcDateTime.ToString(hourly ? "MM-dd HH:00" : "yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static double NiceCeiling(double v)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in new[] { 1, 2, 2.5, 5, 10 })
            if (m * magnitude >= v) return m * magnitude;
        return 10 * magnitude;
    }

    private static string Enc(string s) => WebUtility.HtmlEncode(s);
}
