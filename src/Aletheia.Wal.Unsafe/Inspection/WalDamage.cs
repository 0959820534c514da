namespace Aletheia.Wal;

/// <summary>The first damage of a log, as recovery at open judges it (<see cref="WalInspectionReport.Damage"/>).</summary>
public sealed class WalDamage
{
    internal WalDamage()
    {
    }

    /// <summary>Torn tail or corruption.</summary>
    public WalDamageKind Kind { get; internal init; }

    /// <summary>Cut or refused, in the mode inspected.</summary>
    public WalRecoveryAction Action { get; internal init; }

    /// <summary>The damaged segment file (the path <see cref="WalCorruptionException.SegmentPath"/> names).</summary>
    public string SegmentPath { get; internal init; } = "";

    /// <summary>Its segment number.</summary>
    public ulong SegmentNumber { get; internal init; }

    /// <summary>
    /// The first bad byte found, within the damaged write (the offset <see cref="WalCorruptionException.Offset"/> names); for
    /// the kept batch of a pending <see cref="WriteAheadLog.TruncateAfter"/> that recovery drops, the batch's start.
    /// </summary>
    public long Offset { get; internal init; }

    /// <summary>Where the damaged write starts in the segment (0: the segment's opening write, its header): a cut keeps every byte before it.</summary>
    public long WriteOffset { get; internal init; }

    /// <summary>What is wrong, in words.</summary>
    public string Reason { get; internal init; } = "";

    /// <summary>
    /// The first LSN a cut drops: the damaged write's first. For a cut, exactly what <see cref="WalMetrics.RecoveryDroppedFrom"/>
    /// reports after the open.
    /// </summary>
    public Lsn DroppedFrom { get; internal init; }

    /// <summary>
    /// The highest dropped LSN that something intact after the damage speaks of (<see cref="Lsn.None"/>: nothing). For a cut,
    /// exactly what <see cref="WalMetrics.RecoveryDroppedTo"/> reports after the open (which also takes in a cut an earlier
    /// recovery recorded and nothing was appended after); for a refusal, what the bytes after the damage speak of.
    /// </summary>
    public Lsn DroppedTo { get; internal init; }
}
