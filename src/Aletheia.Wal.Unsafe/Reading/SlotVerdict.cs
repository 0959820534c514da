namespace Aletheia.Wal.Reading;

/// <summary>What stands in the 24-byte slot after the segment header or after a batch, where the next write begins.</summary>
internal enum SlotVerdict
{
    /// <summary>A valid batch header of this segment, continuing the log at the expected LSN, that fits one write.</summary>
    Batch,

    /// <summary>A valid end marker of this segment saying the log continues at the expected LSN: the segment's data ends here.</summary>
    EndMarker,

    /// <summary>Anything else: zeros, bytes that are no valid structure of this segment, or one with the wrong LSN.</summary>
    Damaged,

    /// <summary>The file ends before the slot: it was cut short.</summary>
    PastEnd,
}
