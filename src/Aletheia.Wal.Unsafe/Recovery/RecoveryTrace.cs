using Aletheia.Wal.Reading;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Recovery;

/// <summary>
/// What a recovery read, for a caller that reports on it (<c>WalInspection</c>, which runs recovery over a storage that
/// writes nothing). Filled as recovery goes, so that a recovery that throws leaves what it had read by then. Recovery at
/// open passes none, and nothing is recorded.
/// </summary>
internal sealed class RecoveryTrace
{
    /// <summary>Recovery resolved <c>wal.head</c> (it did not throw there).</summary>
    public bool HeadResolved { get; private set; }

    /// <summary>The head <c>wal.head</c> held, before recovery changed anything; null when there was no log (recovery created one).</summary>
    public LogHead? Head { get; private set; }

    /// <summary>One copy of <c>wal.head</c> was damaged (the other modes than Strict use the intact one and rewrite both).</summary>
    public bool HeadCopyDamaged { get; private set; }

    /// <summary>A pending <c>TruncateAfter</c> was completed, and the kept records its completion dropped (a damaged kept batch; 0, 0: none).</summary>
    public (bool Completed, ulong DroppedFrom, ulong DroppedTo) Rewind { get; private set; }

    /// <summary>Every segment whose data ended, in log order, as the cursor read them.</summary>
    public List<SegmentEnd> SegmentEnds { get; } = [];

    /// <summary>Recovery read the whole log up to its end or its first damage (it did not throw before).</summary>
    public bool LogRead { get; private set; }

    /// <summary>The first damage, as the cursor judged it (null: none).</summary>
    public LogDamage? Damage { get; private set; }

    /// <summary>The header of the segment holding <see cref="Damage"/>, when the damage lies after that header.</summary>
    public SegmentHeader DamagedSegmentHeader { get; private set; }

    /// <summary>Damaged end markers that the next segment made good (every mode but Strict reads past them, and rewrites them).</summary>
    public List<MarkerRepair> MarkerRepairs { get; } = [];

    /// <summary>The LSN the log continues with after what was read: the last record read is this minus 1.</summary>
    public ulong NextLsn { get; private set; }

    public void Resolved(LogHead? head, bool copyDamaged)
    {
        HeadResolved = true;
        Head = head;
        HeadCopyDamaged = copyDamaged;
    }

    public void RewindCompleted(ulong droppedFrom, ulong droppedTo) => Rewind = (true, droppedFrom, droppedTo);

    /// <summary>Takes what <paramref name="cursor"/> found once it stopped.</summary>
    public void Read(LogCursor cursor)
    {
        LogRead = true;
        Damage = cursor.Damage;
        DamagedSegmentHeader = cursor.Damage is { IsOpeningWrite: false } ? cursor.CurrentHeader : default;
        MarkerRepairs.AddRange(cursor.Repairs);
        NextLsn = cursor.NextLsn;
    }
}
