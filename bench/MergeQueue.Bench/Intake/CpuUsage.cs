using System.Diagnostics;
using System.Globalization;

namespace MergeQueue.Bench.Intake;

/// <summary>
/// Where the CPU went during a measured window, from <c>/proc</c>: the whole machine (other agents'
/// builds included), the processes under test, and this process (the load generator). In cores: 2.0
/// is both cores of the development machine.
/// </summary>
/// <param name="MachineBusyCores">Every process on the machine, other agents' and the kernel's work included.</param>
/// <param name="ServiceCores">The processes under test, together.</param>
/// <param name="DatabaseCores">The PostgreSQL server (its postmaster and every backend); null on SQLite, which runs in the service.</param>
/// <param name="LoadGeneratorCores">The posters (this process).</param>
/// <param name="LoadAverage">The one-minute load average at the end of the window (the benchmark's own processes count in it).</param>
internal sealed record CpuUsage(double MachineBusyCores, double ServiceCores, double? DatabaseCores, double LoadGeneratorCores, double LoadAverage)
{
    /// <summary>The rest of the busy time: the simulator, other agents' builds and tests, the kernel.</summary>
    public double OtherCores => MachineBusyCores - ServiceCores - (DatabaseCores ?? 0) - LoadGeneratorCores;

    /// <summary>
    /// Waits until <paramref name="from"/>, then measures until <paramref name="to"/> (<see cref="Stopwatch"/> timestamps).
    /// <paramref name="postmaster"/>: the PostgreSQL server's main process, whose children are its backends.
    /// </summary>
    public static async Task<CpuUsage> MeasureAsync(int[] pids, int? postmaster, long from, long to)
    {
        await Task.Delay(Until(from));
        var before = Snapshot.Take(pids, postmaster);
        await Task.Delay(Until(to));
        var after = Snapshot.Take(pids, postmaster);
        var jiffiesPerCore = (after.MachineTotal - before.MachineTotal) / (double)Environment.ProcessorCount;
        if (jiffiesPerCore <= 0) return new CpuUsage(double.NaN, double.NaN, null, double.NaN, ReadLoadAverage());
        return new CpuUsage(
            (after.MachineBusy - before.MachineBusy) / jiffiesPerCore,
            (after.Processes - before.Processes) / jiffiesPerCore,
            postmaster is null ? null : (after.Database - before.Database) / jiffiesPerCore,
            (after.Self - before.Self).TotalSeconds / Stopwatch.GetElapsedTime(before.At, after.At).TotalSeconds,
            ReadLoadAverage());
    }

    /// <summary>The process listening as PostgreSQL's postmaster on <paramref name="port"/> (its command line has <c>-p port</c>); null when none.</summary>
    public static int? FindPostmaster(int port)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            try
            {
                var arguments = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (arguments[0].EndsWith("/postgres", StringComparison.Ordinal)
                    && arguments.Zip(arguments.Skip(1)).Any(a => a.First == "-p" && a.Second == port.ToString(CultureInfo.InvariantCulture)))
                    return pid;
            }
            catch (IOException)
            {
                // gone meanwhile
            }
        }
        return null;
    }

    private static TimeSpan Until(long timestamp) =>
        TimeSpan.FromSeconds(Math.Max(0, (timestamp - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));

    private sealed record Snapshot(long MachineTotal, long MachineBusy, long Processes, long Database, TimeSpan Self, long At)
    {
        public static Snapshot Take(int[] pids, int? postmaster)
        {
            // /proc/stat: "cpu  user nice system idle iowait irq softirq steal ..." in jiffies, summed over cores.
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = fields.Take(8).Sum();
            var database = postmaster is { } main ? DatabaseJiffies(main) : 0;
            return new Snapshot(total, total - fields[3] - fields[4], pids.Sum(p => Stat(p)?.Jiffies ?? 0), database,
                Process.GetCurrentProcess().TotalProcessorTime, Stopwatch.GetTimestamp());
        }

        /// <summary>
        /// The postmaster and its children (backends, WAL writer, checkpointer), including what exited children
        /// left in the postmaster's cutime and cstime.
        /// </summary>
        private static long DatabaseJiffies(int postmaster)
        {
            long sum = Stat(postmaster) is { } main ? main.Jiffies + main.ChildJiffies : 0;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Stat(pid) is { } s && s.Parent == postmaster)
                    sum += s.Jiffies;
            return sum;
        }

        /// <summary>
        /// From <c>/proc/{pid}/stat</c>, counted after the command name: ppid (field 4), utime + stime (14, 15),
        /// cutime + cstime (16, 17). Null once gone.
        /// </summary>
        private static (int Parent, long Jiffies, long ChildJiffies)? Stat(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                long Field(int n) => long.Parse(rest[n - 3], CultureInfo.InvariantCulture);
                return ((int)Field(4), Field(14) + Field(15), Field(16) + Field(17));
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    private static double ReadLoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
}
