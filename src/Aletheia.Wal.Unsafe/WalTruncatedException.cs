namespace Aletheia.Wal;

/// <summary>
/// The records a call concerned were truncated away: a wait for a record that <see cref="WriteAheadLog.TruncateAfter"/>
/// dropped (it is not acknowledged, and never will be), or a reader that had returned records a
/// <see cref="WriteAheadLog.TruncateAfter"/> dropped, or that needed records <see cref="WriteAheadLog.TruncateBefore"/>
/// removed. The log itself is healthy: open a new reader, or append again.
/// </summary>
public sealed class WalTruncatedException : WalException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="lsn">The LSN the call concerned: the record waited for, or the next record the reader would have returned.</param>
    /// <param name="message">What happened, in words.</param>
    public WalTruncatedException(Lsn lsn, string message)
        : base(message)
    {
        Lsn = lsn;
    }

    /// <summary>The LSN the call concerned: the record waited for, or the next record the reader would have returned.</summary>
    public Lsn Lsn { get; }
}
