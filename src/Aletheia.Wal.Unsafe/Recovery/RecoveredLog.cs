using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Recovery;

/// <summary>What recovery found and left: where the log ends and where the writer continues.</summary>
internal sealed class RecoveredLog
{
    /// <summary>What wal.head says: the log's id, its oldest segment and the LSN floor.</summary>
    public required LogHead Head { get; init; }

    /// <summary>The last valid record kept (<see cref="LogHead.FirstLsn"/> - 1 for an empty log): the writer continues at LastLsn + 1.</summary>
    public ulong LastLsn { get; init; }

    /// <summary>The segment the writer continues in (0: none, the log is empty; it starts at the head segment).</summary>
    public ulong WriteSegment { get; init; }

    /// <summary>Where the writer continues in <see cref="WriteSegment"/>: the offset of its end marker.</summary>
    public long WriteOffset { get; init; }

    /// <summary>The largest write the header of <see cref="WriteSegment"/> allows (0: no write segment).</summary>
    public uint WriteSegmentMaxWriteBytes { get; init; }

    /// <summary>The size the header of <see cref="WriteSegment"/> gives it: the writer never writes past it, whatever the file's length.</summary>
    public long WriteSegmentSize { get; init; }

    /// <summary>Prepared, unused segment files that continue the numbering after the write segment (or from the head), in order.</summary>
    public List<ulong> Reusable { get; init; } = [];

    /// <summary>Recycled files (<c>*.recycle</c>) of the right size, kept for reuse.</summary>
    public List<string> Recycled { get; init; } = [];

    /// <summary>
    /// The first LSN recovery dropped (the log continues there), 0 if it dropped nothing: this recovery's cut, or one an
    /// interrupted recovery recorded in wal.head that nothing was appended after.
    /// </summary>
    public ulong DroppedFrom { get; init; }

    /// <summary>The highest dropped LSN that something intact on disk spoke of, 0 if nothing did.</summary>
    public ulong DroppedTo { get; init; }

    /// <summary>What recovery did: nothing dropped, or why records were.</summary>
    public RecoveryVerdict Verdict { get; init; }

    /// <summary>Records the log holds from its head to <see cref="LastLsn"/>.</summary>
    public ulong KeptRecords => LastLsn + 1 - Head.FirstLsn;

    /// <summary>Records dropped that the disk proves: the reported range, 0 when nothing was dropped or the range is unknown.</summary>
    public ulong DroppedRecords => DroppedFrom != 0 && DroppedTo >= DroppedFrom ? DroppedTo - DroppedFrom + 1 : 0;
}
