namespace Aletheia.Wal.Reading;

/// <summary>Where a <see cref="LogCursor"/> found the log damaged, and what lies after the damage.</summary>
/// <param name="Path">The damaged segment.</param>
/// <param name="SegmentIndex">Its index in the cursor's segment list.</param>
/// <param name="Offset">The first bad byte found.</param>
/// <param name="CutOffset">Where the log can be cut to keep every valid record before the damage: the damaged frame (its batch header is then rewritten to end there) or the start of the damaged batch.</param>
/// <param name="KeptInBatch">Valid frames of the damaged batch before <paramref name="CutOffset"/>, and their bytes.</param>
/// <param name="Reason">What is wrong, in words.</param>
/// <param name="NextLsn">The LSN that was expected at the damage: the first one a cut drops.</param>
/// <param name="HighestLsnAfter">The highest LSN of valid data of this log found after the damage (0 if none): if not 0, the damage is not a torn tail.</param>
internal sealed record LogDamage(
    string Path,
    int SegmentIndex,
    long Offset,
    long CutOffset,
    (long BatchStart, int Frames, int Bytes) KeptInBatch,
    string Reason,
    ulong NextLsn,
    ulong HighestLsnAfter)
{
    /// <summary>Damage with nothing valid after it: an interrupted write at the very end of the log.</summary>
    public bool IsTornTail => HighestLsnAfter == 0;

    public WalCorruptionException ToException() => new(Path, Offset, Reason);
}
