namespace Aletheia.Wal.Reading;

/// <summary>What kind of damage the first damage of a log is, as far as the bytes on disk can tell.</summary>
internal enum DamageKind
{
    /// <summary>
    /// The end of the log is not proven, and nothing after the damaged write shows that a later write was made: an
    /// interrupted last write (or damage that left nothing of any later write, which no reader can tell from one).
    /// </summary>
    TornTail,

    /// <summary>
    /// Damage that no interrupted write leaves: a later write of this log follows it, or the file was cut short, a segment
    /// is missing, or a valid header stands where it does not belong.
    /// </summary>
    Corruption,
}

/// <summary>Where a <see cref="LogCursor"/> found the log damaged, and what lies after the damage.</summary>
/// <param name="Path">The damaged file.</param>
/// <param name="SegmentNumber">Its segment number.</param>
/// <param name="Offset">The first bad byte found: within the damaged write.</param>
/// <param name="WriteStart">Where the damaged write starts (0: the segment's opening write, its header): the cut keeps everything before it.</param>
/// <param name="NextLsn">The LSN the damaged write starts with: the first LSN a cut drops.</param>
/// <param name="Reason">What is wrong, in words.</param>
/// <param name="Kind">Torn tail or corruption.</param>
/// <param name="HighestLsnAfter">The highest LSN of which an intact batch header, end marker or segment header at or after the damaged write speaks, if at least <paramref name="NextLsn"/>; else 0.</param>
internal sealed record LogDamage(
    string Path,
    ulong SegmentNumber,
    long Offset,
    long WriteStart,
    ulong NextLsn,
    string Reason,
    DamageKind Kind,
    ulong HighestLsnAfter)
{
    public bool IsTornTail => Kind == DamageKind.TornTail;

    /// <summary>The damage is the segment's opening write: nothing of the segment is kept by a cut.</summary>
    public bool IsOpeningWrite => WriteStart == 0;

    public WalCorruptionException ToException() =>
        new(Path, Offset, Kind == DamageKind.TornTail ? Reason + " (an interrupted last write: nothing after it shows a later write)" : Reason);
}

/// <summary>
/// A damaged end marker of a segment that the next segment's header makes good: that header starts at exactly the LSN the
/// segment ended with, so no write into the segment came after (it would have carried that LSN). Nothing is lost; Strict
/// refuses it, the other modes rewrite the marker.
/// </summary>
internal readonly record struct MarkerRepair(string Path, long Offset, ulong NextLsn, uint Salt, string Reason)
{
    public WalCorruptionException ToException() => new(Path, Offset, Reason + " (the next segment starts at the right LSN: nothing is lost)");
}
