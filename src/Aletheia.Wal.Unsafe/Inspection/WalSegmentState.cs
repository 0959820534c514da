namespace Aletheia.Wal;

/// <summary>What a file of a log directory is, as recovery at open reads it (<see cref="WalSegmentInfo.State"/>).</summary>
public enum WalSegmentState
{
    /// <summary>A segment of the log, read whole up to its end marker.</summary>
    Used,

    /// <summary>The segment holding the first damage: its bytes up to <see cref="WalSegmentInfo.UsedBytes"/> are intact.</summary>
    Damaged,

    /// <summary>After the end of the log, never opened (its opening write's bytes are zero): prepared ahead of need.</summary>
    Prepared,

    /// <summary>After the end of the log (or after its first damage) and not a prepared one: what it holds is not part of the log.</summary>
    BeyondEnd,

    /// <summary>Numbered below the head <c>wal.head</c> names: a truncation's leftover, recycled or deleted at open, never read.</summary>
    BelowHead,

    /// <summary>A <c>*.recycle</c> file: a segment freed by truncation, kept for reuse (stale bytes).</summary>
    Recycled,

    /// <summary>A <c>*.wal.tmp</c> file: a segment whose preparation did not finish; deleted at open.</summary>
    Preparing,

    /// <summary>Not read: recovery stopped before it (<c>wal.head</c> is missing or unreadable).</summary>
    NotRead,
}
