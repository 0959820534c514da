namespace Aletheia.Wal;

/// <summary>One record read back: its LSN and exactly the bytes appended. Valid until the reader's next call.</summary>
public readonly ref struct WalRecord
{
    internal WalRecord(Lsn lsn, ReadOnlySpan<byte> payload)
    {
        Lsn = lsn;
        Payload = payload;
    }

    /// <summary>The record's LSN.</summary>
    public Lsn Lsn { get; }

    /// <summary>The payload, exactly as appended; valid until the next <see cref="WalReader.TryRead"/>.</summary>
    public ReadOnlySpan<byte> Payload { get; }
}
