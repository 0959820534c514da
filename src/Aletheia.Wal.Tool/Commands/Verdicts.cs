using System.Globalization;

namespace Aletheia.Wal.Tool.Commands;

/// <summary>The words the log commands use for an inspection's verdict, the same in every command.</summary>
internal static class Verdicts
{
    /// <summary>The verdict in one line: <c>DIR: healthy</c>, or the damage with its file, offsets and reason.</summary>
    public static string Headline(WalInspectionReport report) => $"{report.Directory}: {Verdict(report)}";

    /// <summary>The verdict without the directory: <c>healthy</c>, or the damage with its file, offsets and reason.</summary>
    public static string Verdict(WalInspectionReport report) => report.Verdict switch
    {
        WalVerdict.Healthy => "healthy",
        WalVerdict.TornTail or WalVerdict.Corruption when report.Damage is { } d =>
            Invariant($"{(d.Kind == WalDamageKind.TornTail ? "torn tail" : "corruption")} at byte {d.Offset} of {d.SegmentPath} (the write at byte {d.WriteOffset}): {d.Reason}"),
        WalVerdict.NoLog => "no log (no wal.head and no segment file)",
        _ => $"{(report.Verdict == WalVerdict.HeadMissing ? "wal.head is missing" : "wal.head is damaged")}: {report.Refusal?.Message}",
    };

    /// <summary>
    /// The exit code of a judged log: <see cref="WalTool.Ok"/> when healthy, <see cref="WalTool.RepairableDamage"/> when
    /// healthy but with damage recovery repairs without loss, <see cref="WalTool.Damaged"/> otherwise.
    /// </summary>
    public static int ExitCode(WalInspectionReport report) =>
        report.Verdict != WalVerdict.Healthy ? WalTool.Damaged : report.RepairableDamage.Count > 0 ? WalTool.RepairableDamage : WalTool.Ok;

    /// <summary>One line for each damage recovery repairs without losing a record (none for a log without).</summary>
    public static IEnumerable<string> RepairableDamage(WalInspectionReport report) =>
        report.RepairableDamage.Select(damage => $"  damage repaired without loss: {damage}");

    /// <summary>What the open in the inspected mode does, in one line.</summary>
    public static string Consequence(WalInspectionReport report) => report.Action switch
    {
        WalRecoveryAction.Keep when report.RecoveryDroppedFrom != Lsn.None =>
            Invariant($"{report.Mode} keeps every record: {Records(report)}; it reports LSN {report.RecoveryDroppedFrom}{DroppedTo(report.RecoveryDroppedTo)} dropped by an earlier recovery's cut (wal.head records it until something is appended)"),
        WalRecoveryAction.Keep => Invariant($"{report.Mode} keeps every record: {Records(report)}"),
        WalRecoveryAction.Cut => Invariant($"{report.Mode} cuts it: dropped from LSN {report.RecoveryDroppedFrom}{DroppedTo(report.RecoveryDroppedTo)}; kept {Records(report)}"),
        WalRecoveryAction.Refuse when report.Mode == WalRecoveryMode.TruncateTornTail && report.Damage is not null =>
            Invariant($"{report.Mode} refuses the log (WriteAheadLog.Open throws WalCorruptionException); PointInTime would cut it, keeping {Records(report)}"),
        WalRecoveryAction.Refuse => $"{report.Mode} refuses the log (WriteAheadLog.Open throws WalCorruptionException)",
        _ => "WriteAheadLog.Open creates a new, empty log",
    };

    /// <summary><c>150 records, LSN 1 to 150</c>, or <c>no record</c>.</summary>
    public static string Records(WalInspectionReport report) =>
        report.RecordCount == 0 ? Invariant($"no record (the log continues at LSN {report.LastLsn.Value + 1})")
        : Invariant($"{report.RecordCount} record{(report.RecordCount == 1 ? "" : "s")}, LSN {report.OldestLsn} to {report.LastLsn}");

    /// <summary>Where the log ends.</summary>
    public static string End(WalInspectionReport report) =>
        report.EndSegment == 0 ? "the log ends before its first segment" : Invariant($"the log ends at byte {report.EndOffset} of segment {report.EndSegment}");

    /// <summary>What recovery at open changes on disk, one phrase a file: <c>rewrites X from byte N</c>, <c>deletes Y</c>.</summary>
    public static IEnumerable<string> Changes(WalInspectionReport report) => report.Changes.Select(change => change.Kind switch
    {
        WalFileChangeKind.Rewritten => Invariant($"rewrites {change.Path} from byte {change.Offset}"),
        WalFileChangeKind.Deleted => $"deletes {change.Path}",
        WalFileChangeKind.Renamed => $"renames {change.Path} to {change.NewPath}",
        _ => $"creates {change.Path}",
    });

    private static string DroppedTo(Lsn to) => to == Lsn.None ? " on (nothing intact after the damage names a later LSN)" : Invariant($" to {to}");

    public static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
