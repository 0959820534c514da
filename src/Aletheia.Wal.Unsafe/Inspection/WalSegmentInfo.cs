namespace Aletheia.Wal;

/// <summary>One segment file (or recycled, or unfinished one) of a log directory (<see cref="WalInspectionReport.Segments"/>).</summary>
public sealed class WalSegmentInfo
{
    internal WalSegmentInfo()
    {
    }

    /// <summary>The number in the file's name.</summary>
    public ulong Number { get; internal init; }

    /// <summary>The file's full path.</summary>
    public string Path { get; internal init; } = "";

    /// <summary>What the file is.</summary>
    public WalSegmentState State { get; internal init; }

    /// <summary>The file's length.</summary>
    public long FileBytes { get; internal init; }

    /// <summary>The size its header says it was prepared with; 0 when it has no intact header of this format version.</summary>
    public long HeaderBytes { get; internal init; }

    /// <summary>The first LSN its header names; <see cref="Lsn.None"/> when it has no intact header.</summary>
    public Lsn FirstLsn { get; internal init; }

    /// <summary>
    /// For <see cref="WalSegmentState.Used"/>, the offset of its end marker; for <see cref="WalSegmentState.Damaged"/>, the
    /// offset where the damaged write starts (the bytes before it are intact); 0 otherwise.
    /// </summary>
    public long UsedBytes { get; internal init; }

    /// <summary>The records it holds up to <see cref="UsedBytes"/> (0 unless <see cref="WalSegmentState.Used"/> or <see cref="WalSegmentState.Damaged"/>).</summary>
    public long Records { get; internal init; }
}
