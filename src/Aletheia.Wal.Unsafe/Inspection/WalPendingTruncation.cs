namespace Aletheia.Wal;

/// <summary>
/// A <see cref="WriteAheadLog.TruncateAfter"/> that <c>wal.head</c> records as begun and not completed (a crash
/// interrupted it): recovery at open completes it before it reads the log (<see cref="WalInspectionReport.PendingTruncation"/>).
/// </summary>
public sealed class WalPendingTruncation
{
    internal WalPendingTruncation()
    {
    }

    /// <summary>The log ends after this LSN once the cut is completed.</summary>
    public Lsn KeepsUpTo { get; internal init; }

    /// <summary>The segment where the log then ends.</summary>
    public string SegmentPath { get; internal init; } = "";

    /// <summary>The offset there of the batch holding <see cref="KeepsUpTo"/> + 1.</summary>
    public long Offset { get; internal init; }
}
