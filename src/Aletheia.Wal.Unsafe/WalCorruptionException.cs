namespace Aletheia.Wal;

/// <summary>A damaged log: <see cref="SegmentPath"/> and <see cref="Offset"/> locate the first bad byte found.</summary>
public sealed class WalCorruptionException : WalException
{
    /// <summary>Creates the exception for damage at <paramref name="offset"/> of <paramref name="segmentPath"/>.</summary>
    public WalCorruptionException(string segmentPath, long offset, string reason)
        : base($"The log is damaged at byte {offset} of segment '{segmentPath}': {reason}")
    {
        SegmentPath = segmentPath;
        Offset = offset;
    }

    /// <summary>The path of the segment holding the damage.</summary>
    public string SegmentPath { get; }

    /// <summary>The byte offset, within <see cref="SegmentPath"/>, of the first bad byte found.</summary>
    public long Offset { get; }
}
