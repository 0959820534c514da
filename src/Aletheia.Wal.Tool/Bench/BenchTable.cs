using System.Globalization;
using Spectre.Console;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>The bench's report for people: one table, then notes saying what each figure counts, and the machine.</summary>
internal static class BenchTable
{
    private const string None = "-";

    public static void Write(IAnsiConsole console, BenchReport report)
    {
        var table = new Table()
            .Border(TableBorder.Rounded)
            .AddColumn("workload")
            .AddColumn(new TableColumn("records").RightAligned())
            .AddColumn(new TableColumn("records/s").RightAligned())
            .AddColumn(new TableColumn("MB/s").RightAligned())
            .AddColumn(new TableColumn("p50 µs").RightAligned())
            .AddColumn(new TableColumn("p99 µs").RightAligned())
            .AddColumn(new TableColumn("p99.9 µs").RightAligned())
            .AddColumn(new TableColumn("B/append").RightAligned());

        foreach (WorkloadResult workload in report.Workloads.Where(w => !w.Plan.WarmUp))
        {
            table.AddRow(
                Markup.Escape(workload.Plan.Label),
                Count(workload.Records),
                Count(workload.RecordsPerSecond),
                Rate(workload.MegabytesPerSecond),
                Micros(workload.Latency?.P50),
                Micros(workload.Latency?.P99),
                Micros(workload.Latency?.P999),
                workload.AllocatedBytesPerAppend.ToString("0.#", CultureInfo.InvariantCulture) + (workload.Scope == AllocationScope.Process ? "*" : ""));
        }

        if (report.Verification is { } verification)
        {
            table.AddRow(
                verification.Passed ? "verify: read back, every record" : "[red]verify: FAILED[/]",
                Count(verification.Records),
                Count(verification.RecordsPerSecond),
                Rate(verification.MegabytesPerSecond),
                None,
                None,
                None,
                None);
        }

        bool reference = report.RawLarge is not null;
        if (reference)
        {
            table.AddEmptyRow();
            foreach (RawResult raw in new[] { report.RawLarge!, report.RawSmall! })
            {
                table.AddRow(
                    $"[grey]raw write-through, {Size(raw.WriteBytes)} writes[/]",
                    Count(raw.Writes),
                    Count(raw.WritesPerSecond),
                    Rate(raw.MegabytesPerSecond),
                    Micros(raw.Latency?.P50),
                    Micros(raw.Latency?.P99),
                    Micros(raw.Latency?.P999),
                    None);
            }
        }

        console.Write(table);
        foreach (string note in Notes(report))
        {
            console.MarkupLine("[grey]" + Markup.Escape(note) + "[/]");
        }
    }

    private static IEnumerable<string> Notes(BenchReport report)
    {
        BenchSettings settings = report.Settings;
        List<WorkloadResult> measured = report.Workloads.Where(w => !w.Plan.WarmUp).ToList();
        if (report.Workloads.Count > 0)
        {
            long warmUp = report.Workloads.Where(w => w.Plan.WarmUp).Sum(w => w.Records);
            string options = string.Join(", ", report.LogOptions.Select(o => o.Name + " " + (o.Name.EndsWith("Bytes", StringComparison.Ordinal) ? Size(o.Value) : Count(o.Value))));
            string given = settings.Tuned.Count == 0 ? "at their defaults" : $"as given ({string.Join(", ", settings.Tuned)}), the others at their defaults";
            yield return $"One log for the whole tour, WalOptions {given} ({options}); {Duration(settings.Duration)} per workload, "
                + $"after a warm-up of each append form ({Duration(settings.WarmUp)} each, {Count(warmUp)} records, verified with the rest).";

            var latency = new List<string>();
            if (measured.Any(w => w.Plan.Kind == BenchWorkloads.Durable))
            {
                latency.Add("AppendDurable from call to return");
            }

            if (measured.Any(w => w.Plan.Kind == BenchWorkloads.Async))
            {
                latency.Add("AppendDurableAsync from call to its completion running");
            }

            List<WorkloadResult> bursts = measured.Where(w => w.FlushMilliseconds is not null).ToList();
            if (bursts.Count > 0)
            {
                string flushes = string.Join(", ", bursts.Select(b =>
                    $"{b.Plan.Key} {b.FlushMilliseconds!.Value.ToString("0.0", CultureInfo.InvariantCulture)} ms{(b.StoppedBy == "volume" ? $" (stopped at {Size(Burst.VolumeCapBytes)} of payload)" : "")}"));
                latency.Add($"bursts none per Append (it does not wait for the disk), their rate runs from the first Append to Flush's return (Flush: {flushes})");
            }

            if (latency.Count > 0)
            {
                yield return "Latency per call: " + string.Join("; ", latency) + ".";
            }

            string allocation = "B/append: what the appending threads allocated (GC.GetAllocatedBytesForCurrentThread) per append";
            foreach (WorkloadResult workload in measured.Where(w => w.Scope == AllocationScope.Process))
            {
                allocation += $"; * {workload.Plan.Key}: the whole process (GC.GetTotalAllocatedBytes: completions run on pool threads) less the bench's driver thread, "
                    + $"{workload.HarnessBytesPerAppend!.Value.ToString("0.##", CultureInfo.InvariantCulture)} B/append measured on it (progress drawing; the append slots allocate nothing)";
            }

            yield return allocation + ".";
        }

        if (report.Verification is { } verification)
        {
            yield return verification.Passed
                ? $"Verify: the closed log read back from its files (WalReader, Strict) and every record checked (LSN {Count(verification.FirstLsn)} to {Count(verification.LastLsn)}, no gap; length, producer order and every byte), mostly from the page cache."
                : $"Verify FAILED at LSN {verification.FirstBadLsn}: {verification.Problem}";
        }

        if (report.RawLarge is not null)
        {
            yield return $"Reference: RandomAccess.Write on a FileOptions.WriteThrough handle into a zero-filled 64 MiB file in the same directory, {Duration(settings.Duration / 2)} per write size; "
                + "the 4 KiB p50 is the floor of a durable append at 1 thread.";
        }

        MachineDescription machine = report.Machine;
        yield return $"Machine: {machine.Cores} cores, {machine.OperatingSystem}, {machine.Runtime}; directory {machine.Directory}{(machine.FileSystem is null ? "" : $" ({machine.FileSystem})")}.";
        if (report.Cancelled)
        {
            yield return "Cancelled: the figures above are those of the workloads measured until then.";
        }
    }

    internal static string Duration(TimeSpan duration) =>
        duration < TimeSpan.FromSeconds(1)
            ? duration.TotalMilliseconds.ToString("0.#", CultureInfo.InvariantCulture) + " ms"
            : duration.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture) + " s";

    private static string Count(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Rate(double megabytes) => megabytes.ToString(megabytes < 10 ? "0.00" : "N1", CultureInfo.InvariantCulture);

    private static string Micros(double? micros) => micros is { } value ? value.ToString(value < 1000 ? "0.0" : "N0", CultureInfo.InvariantCulture) : None;

    private static string Size(long bytes) => bytes >= 1L << 30 ? $"{bytes >> 30} GiB" : bytes >= 1 << 20 ? $"{bytes >> 20} MiB" : bytes >= 1 << 10 ? $"{bytes >> 10} KiB" : $"{bytes} B";
}
