namespace Aletheia.Wal.Recovery;

/// <summary>What recovery found and left: where the log ends and where the writer continues.</summary>
internal sealed class RecoveredLog
{
    public ulong LogId { get; init; }

    /// <summary>The oldest LSN kept (0 for an empty log).</summary>
    public ulong FirstLsn { get; init; }

    /// <summary>The last valid record kept (0 for an empty log): the writer continues at LastLsn + 1.</summary>
    public ulong LastLsn { get; init; }

    /// <summary>The segment the writer continues in (0: none yet, a new log).</summary>
    public ulong WriteSegment { get; init; }

    public long WriteOffset { get; init; }

    /// <summary>The largest write the header of <see cref="WriteSegment"/> allows (0: no write segment).</summary>
    public uint WriteSegmentMaxWriteBytes { get; init; }

    /// <summary>Zero-filled segment files after <see cref="WriteSegment"/>, ready to use.</summary>
    public List<ulong> Reusable { get; init; } = [];

    /// <summary>Recycled files (<c>*.recycle</c>) of the right size, kept for reuse.</summary>
    public List<string> Recycled { get; init; } = [];

    /// <summary>Used segments and their first LSNs, ascending.</summary>
    public List<(ulong Number, ulong FirstLsn)> Segments { get; init; } = [];

    /// <summary>PointInTime (or a torn tail): the first LSN recovery dropped, 0 if none.</summary>
    public ulong DroppedFrom { get; init; }

    /// <summary>The highest LSN found after the damage and dropped, 0 if none was found.</summary>
    public ulong DroppedTo { get; init; }
}
