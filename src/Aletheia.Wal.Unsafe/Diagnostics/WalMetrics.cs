namespace Aletheia.Wal;

/// <summary>A snapshot of a log's figures, from <see cref="WriteAheadLog.GetMetrics"/>.</summary>
public sealed class WalMetrics
{
    /// <summary>Per-stripe figures.</summary>
    public required IReadOnlyList<StripeMetrics> Stripes { get; init; }

    /// <summary>Writes the flush thread made since open (one batch each).</summary>
    public required long Batches { get; init; }

    /// <summary>Bytes written since open: frames and their headers.</summary>
    public required long BytesWritten { get; init; }

    /// <summary>Records written since open.</summary>
    public required long RecordsWritten { get; init; }

    /// <summary>How long the last write took, from the call to its return (write-through: until durable).</summary>
    public required TimeSpan LastWriteLatency { get; init; }

    /// <summary>The highest LSN handed out.</summary>
    public required Lsn LastLsn { get; init; }

    /// <summary>Every record at or below this is durable.</summary>
    public required Lsn DurableLsn { get; init; }

    /// <summary>Records handed out and not yet durable: <see cref="LastLsn"/> - <see cref="DurableLsn"/>.</summary>
    public ulong DurableLag => LastLsn.Value - DurableLsn.Value;

    /// <summary>
    /// The first LSN recovery dropped at open, <see cref="Lsn.None"/> if it dropped nothing: every cut reports it, a torn
    /// tail cut in TruncateTornTail as much as damage cut in PointInTime. Records from here on were not kept; the log
    /// continues at this LSN. A cut made by an earlier open that was interrupted (or after which nothing was appended) is
    /// reported again: it is recorded in <c>wal.head</c> before recovery destroys anything, and forgotten once the log is
    /// durable past it.
    /// </summary>
    public required Lsn RecoveryDroppedFrom { get; init; }

    /// <summary>
    /// The highest dropped LSN that anything intact after the damage spoke of (a batch header, end marker or segment
    /// header); <see cref="Lsn.None"/> when nothing after the damage survived, so how many records were lost is unknown.
    /// </summary>
    public required Lsn RecoveryDroppedTo { get; init; }
}
