using System.CommandLine;
using Spectre.Console;
using static Aletheia.Wal.Tool.Commands.Verdicts;

namespace Aletheia.Wal.Tool.Commands;

/// <summary><c>stats DIR [--mode M]</c>: the log's shape (segments, LSN range, records, end, recycled files, format) and its verdict.</summary>
internal static class StatsCommand
{
    public static Command Create(IAnsiConsole console) =>
        LogArguments.WithDirectoryAndMode(
            "stats",
            "Show the log's segments (number, state, size, first LSN, used bytes, records), its LSN range and record count, where it ends, its " +
            "recycled files and format version, and the verdict of recovery at open; changes nothing. Exit codes as verify.",
            "The recovery mode the verdict is for: TruncateTornTail (default), PointInTime or Strict.",
            (directory, mode) => Run(console, directory, mode));

    private static int Run(IAnsiConsole console, string directory, WalRecoveryMode mode)
    {
        WalInspectionReport report = ProgressInspection.Inspect(console, directory, mode);
        TextWriter output = console.Profile.Out.Writer;
        output.WriteLine($"log {report.Directory}");
        output.WriteLine(report.FormatVersion == 0
            ? "  format version unknown: wal.head was not read"
            : Invariant($"  format version {report.FormatVersion}, log id {report.LogId:X16}{(report.HeadCopyDamaged ? ", one copy of wal.head damaged" : "")}"));
        output.WriteLine($"  {Records(report)}");
        output.WriteLine($"  {End(report)}");
        int recycled = report.Segments.Count(s => s.State == WalSegmentState.Recycled);
        output.WriteLine(Invariant($"  {report.Segments.Count(s => s.Path.EndsWith(".wal", StringComparison.Ordinal))} segment files, {recycled} recycled file{(recycled == 1 ? "" : "s")}"));
        if (report.PendingTruncation is { } pending)
        {
            output.WriteLine(Invariant($"  a TruncateAfter a crash interrupted, completed at open: keeps up to LSN {pending.KeepsUpTo}, ends at byte {pending.Offset} of {pending.SegmentPath}"));
        }

        output.WriteLine($"  {Verdict(report)}");
        output.WriteLine($"  {Consequence(report)}");
        foreach (string line in RepairableDamage(report))
        {
            output.WriteLine(line);
        }

        var table = new Table { Border = TableBorder.Ascii };
        table.AddColumn(new TableColumn("segment").RightAligned().NoWrap());
        table.AddColumn(new TableColumn("state").NoWrap());
        table.AddColumn(new TableColumn("file bytes").RightAligned().NoWrap());
        table.AddColumn(new TableColumn("header bytes").RightAligned().NoWrap());
        table.AddColumn(new TableColumn("first LSN").RightAligned().NoWrap());
        table.AddColumn(new TableColumn("used bytes").RightAligned().NoWrap());
        table.AddColumn(new TableColumn("records").RightAligned().NoWrap());
        foreach (WalSegmentInfo segment in report.Segments)
        {
            table.AddRow(
                Invariant($"{segment.Number}"),
                StateOf(segment.State),
                Invariant($"{segment.FileBytes}"),
                segment.HeaderBytes == 0 ? "-" : Invariant($"{segment.HeaderBytes}"),
                segment.FirstLsn == Lsn.None ? "-" : Invariant($"{segment.FirstLsn}"),
                segment.State is WalSegmentState.Used or WalSegmentState.Damaged ? Invariant($"{segment.UsedBytes}") : "-",
                segment.State is WalSegmentState.Used or WalSegmentState.Damaged ? Invariant($"{segment.Records}") : "-");
        }

        console.Write(table);
        return Verdicts.ExitCode(report);
    }

    private static string StateOf(WalSegmentState state) => state switch
    {
        WalSegmentState.Used => "used",
        WalSegmentState.Damaged => "damaged",
        WalSegmentState.Prepared => "prepared",
        WalSegmentState.BeyondEnd => "beyond the end",
        WalSegmentState.BelowHead => "below the head",
        WalSegmentState.Recycled => "recycled",
        WalSegmentState.Preparing => "being prepared",
        _ => "not read",
    };
}
