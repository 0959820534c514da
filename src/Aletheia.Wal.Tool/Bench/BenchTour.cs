using System.Globalization;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// The tour, in order: the workloads that append, all on one log (the warm-up first), then the log closed and read back
/// from its files, then the raw reference on the same disk. One log for all, not one per workload: the verification then
/// covers the whole tour in one pass (LSNs contiguous across every append form), a <c>--directory</c> run leaves one log
/// that the other commands read, and no workload but the first pays for a log's opening work. The order keeps what
/// grows the log fastest (the bursts) last among the writers.
/// </summary>
internal static class BenchTour
{
    public const int BurstProducers = 2;

    public static BenchReport Run(BenchSettings settings, string directory, TourPacer pacer)
    {
        var report = new BenchReport { Settings = settings, Machine = Describe(directory) };
        Lsn firstLsn = Lsn.None;
        bool writes = (settings.Workloads & BenchWorkloads.Writers) != 0;
        if (writes)
        {
            // Every option at its default unless the command line tuned it: the figures are those of a log opened as given.
            WalOptions options = settings.LogOptions(directory);
            report.LogOptions = DescribeOptions(options);
            using WriteAheadLog log = WriteAheadLog.Open(options);
            firstLsn = new Lsn(log.LastLsn.Value + 1);
            WarmUp.WaitForPreparedSegment(directory, pacer.Token);
            foreach (PlannedWorkload planned in Plan(settings))
            {
                if (pacer.Cancelled)
                {
                    break;
                }

                pacer.Begin(planned.Label);
                TimeSpan duration = planned.WarmUp ? settings.WarmUp : settings.Duration;
                report.Workloads.Add(planned.Kind switch
                {
                    BenchWorkloads.Durable => DurableLoop.Run(log, planned, duration, pacer),
                    BenchWorkloads.Async => AsyncInFlight.Run(log, planned, duration, pacer),
                    _ => Burst.Run(log, planned, duration, pacer),
                });
                pacer.End();
            }

            // Dispose (leaving the using) makes everything appended durable and closes the log before it is read back.
        }

        if (settings.Runs(BenchWorkloads.Verify) && !pacer.Cancelled)
        {
            pacer.Begin("verify: read back, check every record");
            report.Verification = TourVerifier.Run(directory, writes ? report.Workloads : null, firstLsn, pacer);
            pacer.End();
        }

        if (settings.Runs(BenchWorkloads.Raw) && !pacer.Cancelled)
        {
            pacer.Begin("raw write-through: 1 MiB, then 4 KiB writes");
            (report.RawLarge, report.RawSmall) = RawWriteThrough.Run(directory, settings.Duration, pacer);
            pacer.End();
        }

        report.Cancelled = pacer.Cancelled;
        return report;
    }

    /// <summary>The workloads that append, in order, each with its index (written into its records): the warm-ups first.</summary>
    public static List<PlannedWorkload> Plan(BenchSettings settings)
    {
        var plan = new List<PlannedWorkload>();
        if (settings.Runs(BenchWorkloads.Durable))
        {
            foreach (int threads in settings.Threads)
            {
                string count = threads.ToString(CultureInfo.InvariantCulture);
                plan.Add(new(plan.Count, "durable-" + count, $"AppendDurable, {count} thread{(threads == 1 ? "" : "s")}", BenchWorkloads.Durable, threads, settings.PayloadBytes));
            }
        }

        if (settings.Runs(BenchWorkloads.Async))
        {
            string count = settings.InFlight.ToString(CultureInfo.InvariantCulture);
            plan.Add(new(plan.Count, "async-" + count, $"AppendDurableAsync, {count} in flight", BenchWorkloads.Async, settings.InFlight, settings.PayloadBytes));
        }

        if (settings.Runs(BenchWorkloads.Burst64))
        {
            plan.Add(new(plan.Count, "burst64", "Append burst, 64 B, then Flush", BenchWorkloads.Burst64, BurstProducers, 64));
        }

        if (settings.Runs(BenchWorkloads.Burst1K))
        {
            plan.Add(new(plan.Count, "burst1k", "Append burst, 1 KiB, then Flush", BenchWorkloads.Burst1K, BurstProducers, 1024));
        }

        List<PlannedWorkload> warmUps = WarmUp.Plan(plan, firstId: plan.Count);
        return [.. warmUps, .. plan];
    }

    private static MachineDescription Describe(string directory) =>
        new(Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, directory, FileSystemOf(directory));

    // The type of the file system holding the directory: that of the mount point with the longest path that contains it.
    private static string? FileSystemOf(string directory)
    {
        try
        {
            string full = Path.GetFullPath(directory);
            DriveInfo? best = null;
            foreach (DriveInfo drive in DriveInfo.GetDrives())
            {
                string root = drive.RootDirectory.FullName;
                bool contains = full.StartsWith(root, StringComparison.Ordinal)
                    && (full.Length == root.Length || root.EndsWith(Path.DirectorySeparatorChar) || full[root.Length] == Path.DirectorySeparatorChar);
                if (contains && (best is null || root.Length > best.RootDirectory.FullName.Length))
                {
                    best = drive;
                }
            }

            return best?.DriveFormat;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static List<(string Name, long Value)> DescribeOptions(WalOptions options) =>
    [
        (nameof(WalOptions.StripeCount), options.StripeCount),
        (nameof(WalOptions.StripeCapacityBytes), options.StripeCapacityBytes),
        (nameof(WalOptions.SegmentSizeBytes), options.SegmentSizeBytes),
        (nameof(WalOptions.WriteBufferBytes), options.WriteBufferBytes),
        (nameof(WalOptions.MaxEntryBytes), options.MaxEntryBytes),
    ];
}
