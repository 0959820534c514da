namespace Aletheia.Wal;

/// <summary>Where and why a snapshot or follow reader stopped (<see cref="WalReader.StoppedAt"/>).</summary>
public sealed class WalReadStop
{
    internal WalReadStop()
    {
    }

    /// <summary>The segment file it stopped in.</summary>
    public string SegmentPath { get; internal init; } = "";

    /// <summary>
    /// The offset there: of the open end marker that ends the log, or of the first bad byte found in the write it could not
    /// verify (or in the damaged write its mode ends the log at).
    /// </summary>
    public long Offset { get; internal init; }

    /// <summary>Why, in words.</summary>
    public string Reason { get; internal init; } = "";
}
