namespace Aletheia.Wal;

/// <summary>
/// A record read back as an owned copy: its LSN and a copy of exactly the bytes appended, usable across awaits and kept
/// as long as the caller likes (from <see cref="WalReader.ReadAllAsync"/>).
/// </summary>
public readonly struct WalEntry
{
    /// <summary>Creates an entry.</summary>
    public WalEntry(Lsn lsn, ReadOnlyMemory<byte> payload)
    {
        Lsn = lsn;
        Payload = payload;
    }

    /// <summary>The record's LSN.</summary>
    public Lsn Lsn { get; }

    /// <summary>The payload, a copy owned by this entry.</summary>
    public ReadOnlyMemory<byte> Payload { get; }
}

/// <summary>What <see cref="WriteAheadLog.TruncateBefore"/> did.</summary>
/// <param name="SegmentsRemoved">Segment files removed (deleted or kept for reuse); 0 when the call removed nothing.</param>
/// <param name="OldestLsn">The first LSN still readable after the call (<see cref="Lsn.None"/> when the log holds no record).</param>
public readonly record struct WalTruncation(int SegmentsRemoved, Lsn OldestLsn);
