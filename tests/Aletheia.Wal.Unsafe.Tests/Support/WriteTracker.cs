using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// Segment writes as a storage seam sees them: how many were in progress at once in one file at most (the format allows
/// one, in order: native-layout.md, section 4; the zero-fill of the next segment, after a burst, may run beside it), and the last LSN of the batches whose writes returned, set before the write
/// returns to the log, so that a <see cref="WriteAheadLog.DurableLsn"/> read before it can never exceed it.
/// </summary>
internal sealed class WriteTracker
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, StrongBox<int>> _inProgress = new(StringComparer.Ordinal);
    private int _maxInProgress;
    private long _lastReturnedLsn;
    private long _outOfOrder;

    /// <summary>The most writes that were in progress in one segment file at the same moment.</summary>
    public int MaxInProgress => Volatile.Read(ref _maxInProgress);

    /// <summary>The highest last LSN of a batch whose write returned (0: none yet).</summary>
    // Acquire: pairs with the release in Returned, read after DurableLsn by a checker.
    public ulong LastReturnedLsn => (ulong)Volatile.Read(ref _lastReturnedLsn);

    /// <summary>Batch writes that returned with a first LSN above the last one returned plus one (a write that overtook another).</summary>
    public long OutOfOrder => Volatile.Read(ref _outOfOrder);

    /// <summary>A write into <paramref name="path"/> starts (before any delay a test puts into it).</summary>
    public void Enter(string path)
    {
        int now = Interlocked.Increment(ref _inProgress.GetOrAdd(path, static _ => new StrongBox<int>()).Value);
        int max;
        while (now > (max = Volatile.Read(ref _maxInProgress)) && Interlocked.CompareExchange(ref _maxInProgress, now, max) != max)
        {
        }
    }

    /// <summary>A write returned successfully: its batch (if it carries one) is on the file.</summary>
    public void Returned(ReadOnlySpan<byte> data, long offset)
    {
        if (BatchLsnsOf(data, offset) is not (ulong first, ulong last))
        {
            return;
        }

        long previous = Interlocked.Read(ref _lastReturnedLsn);
        if (previous != 0 && first > (ulong)previous + 1)
        {
            Interlocked.Increment(ref _outOfOrder);
        }

        // A TruncateAfter may make the log go on below the last LSN returned: the highest is kept (a checker's bound).
        long seen;
        while ((ulong)(seen = Interlocked.Read(ref _lastReturnedLsn)) < last && Interlocked.CompareExchange(ref _lastReturnedLsn, (long)last, seen) != seen)
        {
        }
    }

    /// <summary>A write into <paramref name="path"/> left the storage call, returned or failed.</summary>
    public void Exit(string path) => Interlocked.Decrement(ref _inProgress[path].Value);

    /// <summary>
    /// The first and last LSN of the batch a segment write carries (its header leads the data: tag bit 31 with frame
    /// bytes, a record count), null for a write without one (an opening write at offset 0, an end marker alone).
    /// </summary>
    public static (ulong First, ulong Last)? BatchLsnsOf(ReadOnlySpan<byte> data, long offset)
    {
        if (offset == 0 || data.Length < 24)
        {
            return null;
        }

        uint tag = BinaryPrimitives.ReadUInt32LittleEndian(data);
        ulong first = BinaryPrimitives.ReadUInt64LittleEndian(data[8..]);
        uint records = BinaryPrimitives.ReadUInt32LittleEndian(data[16..]);
        return (tag & 0x8000_0000u) != 0 && (tag & 0x7FFF_FFFFu) != 0 && records != 0 ? (first, first + records - 1) : null;
    }
}
