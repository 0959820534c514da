namespace Aletheia.Wal;

/// <summary>
/// What <see cref="WalInspection.Inspect(WalOptions, IProgress{long}?, CancellationToken)"/> found in a log directory:
/// the log's shape, and the verdict recovery at open in the inspected mode gives it, computed by recovery's own code over
/// the files (nothing on disk was changed).
/// </summary>
public sealed class WalInspectionReport
{
    internal WalInspectionReport()
    {
    }

    /// <summary>The log directory (full path).</summary>
    public string Directory { get; internal init; } = "";

    /// <summary>The recovery mode the verdict is for.</summary>
    public WalRecoveryMode Mode { get; internal init; }

    /// <summary>The verdict.</summary>
    public WalVerdict Verdict { get; internal init; }

    /// <summary>What <see cref="WriteAheadLog.Open(WalOptions)"/> in <see cref="Mode"/> does: keep, cut, refuse, or create a log.</summary>
    public WalRecoveryAction Action { get; internal init; }

    /// <summary>The first damage (<see cref="WalVerdict.TornTail"/> and <see cref="WalVerdict.Corruption"/>); null otherwise.</summary>
    public WalDamage? Damage { get; internal init; }

    /// <summary>
    /// The exception <see cref="WriteAheadLog.Open(WalOptions)"/> in <see cref="Mode"/> throws (<see cref="WalRecoveryAction.Refuse"/>):
    /// the same path, offset and message; null otherwise.
    /// </summary>
    public WalCorruptionException? Refusal { get; internal init; }

    /// <summary>The on-disk format version of the log (<c>wal.head</c>); 0 when no <c>wal.head</c> was read.</summary>
    public int FormatVersion { get; internal init; }

    /// <summary>The log's id (<c>wal.head</c>); 0 when no <c>wal.head</c> was read.</summary>
    public ulong LogId { get; internal init; }

    /// <summary>One copy of <c>wal.head</c> is damaged (every mode but Strict uses the other and rewrites both).</summary>
    public bool HeadCopyDamaged { get; internal init; }

    /// <summary>
    /// Damage that recovery at open in <see cref="Mode"/> repairs without losing a record, one line each: a damaged copy of
    /// <c>wal.head</c> (the other is intact), a damaged end marker that the next segment's header makes good. The verdict
    /// stays <see cref="WalVerdict.Healthy"/> (Strict refuses both), but bytes on the disk went bad: media to look into.
    /// Empty when there is none.
    /// </summary>
    public IReadOnlyList<string> RepairableDamage { get; internal init; } = [];

    /// <summary>A <see cref="WriteAheadLog.TruncateAfter"/> a crash interrupted, which recovery completes first; null when none is pending.</summary>
    public WalPendingTruncation? PendingTruncation { get; internal init; }

    /// <summary>The segment files (<c>*.wal</c>), recycled files and unfinished preparations, by number.</summary>
    public IReadOnlyList<WalSegmentInfo> Segments { get; internal init; } = [];

    /// <summary>The oldest LSN kept (<c>wal.head</c>'s head: the floor of every LSN); <see cref="Lsn.None"/> when no <c>wal.head</c> was read.</summary>
    public Lsn OldestLsn { get; internal init; }

    /// <summary>
    /// The last record before the end of the log or its first damage: the last one a cut keeps (<see cref="WriteAheadLog.LastLsn"/>
    /// after the open); <see cref="OldestLsn"/> - 1 for an empty log.
    /// </summary>
    public Lsn LastLsn { get; internal init; }

    /// <summary>The records from <see cref="OldestLsn"/> to <see cref="LastLsn"/>.</summary>
    public long RecordCount { get; internal init; }

    /// <summary>The segment where the log ends (where the writer continues after the open); 0 when no segment holds any of it.</summary>
    public ulong EndSegment { get; internal init; }

    /// <summary>The offset in <see cref="EndSegment"/> where the log ends: its end marker, or the damaged write a cut removes.</summary>
    public long EndOffset { get; internal init; }

    /// <summary>
    /// What <see cref="WalMetrics.RecoveryDroppedFrom"/> reports after <see cref="WriteAheadLog.Open(WalOptions)"/> in <see cref="Mode"/>:
    /// the first LSN its cut drops, or of a cut an earlier recovery recorded and nothing was appended after;
    /// <see cref="Lsn.None"/> when nothing is reported (or the open refuses).
    /// </summary>
    public Lsn RecoveryDroppedFrom { get; internal init; }

    /// <summary>What <see cref="WalMetrics.RecoveryDroppedTo"/> reports after the open (see <see cref="RecoveryDroppedFrom"/>).</summary>
    public Lsn RecoveryDroppedTo { get; internal init; }

    /// <summary>
    /// What recovery at open would change on disk, file by file: empty when it changes nothing. When it refuses, what it
    /// changes before it throws: nothing, unless it completes a pending <see cref="WriteAheadLog.TruncateAfter"/> first.
    /// </summary>
    public IReadOnlyList<WalFileChange> Changes { get; internal init; } = [];

    /// <summary>Bytes the inspection read.</summary>
    public long BytesRead { get; internal init; }
}
