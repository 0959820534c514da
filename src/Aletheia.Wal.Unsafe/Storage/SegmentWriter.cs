using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using Aletheia.Wal.Diagnostics;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The segment the flush thread writes into, and the next one, prepared ahead of need in the background: created under
/// a temporary name, filled with real zeros (so no hot-path write extends the file or lands in an unwritten extent,
/// which would make the file system commit metadata), fsynced, renamed to <c>{number:D20}.wal</c>, and the directory
/// fsynced. Flush thread only, except the preparation task.
/// </summary>
/// <remarks>
/// During a burst (the flush thread says so at rotation, when <see cref="WalOptions.ReserveSegmentsDuringBursts"/> asks for
/// it) the next segment's space is only reserved instead of zero-filled
/// (<see cref="WalFile.Extend"/>: on Linux <c>posix_fallocate</c>, unwritten extents that read as zeros; elsewhere real
/// zeros): its zeros would compete with the burst's own writes for the device, and on a write-bound burst every byte
/// would be written twice. A full disk still fails the preparation, never a write of records. Measured with 2 producers
/// into a new log (probe, payloads of random bytes): 1 KiB records 0.79 against 0.66 M/s, 64 B records 12.9 against
/// 10.5 M/s. The price is paid by small writes into that segment, which convert its extents as they go (1 KiB durable
/// appends about 30% slower there), so once the burst is over (the flush thread idles for a whole park) a next segment
/// only reserved and not yet in use is zero-filled after all (<see cref="FillNextIfReserved"/>), as is one found so at
/// open. Either way it reads as zeros: the format and recovery are the same.
/// </remarks>
internal sealed class SegmentWriter : IDisposable
{
    private const int ZeroChunkBytes = 1 << 20;
    private static readonly byte[] s_zeros = new byte[ZeroChunkBytes];

    private readonly WalStorage _storage;
    private readonly string _directory;
    private readonly long _segmentBytes;
    private readonly Queue<ulong> _reusable;
    private readonly ConcurrentQueue<string> _recycled;
    private readonly int _maxRecycled;
    private readonly ulong _logId;
    private readonly uint _maxWriteBytes; // this writer's largest write, for the headers of the segments it opens
    private WalFile _current;
    private Task<WalFile>? _next;
    private bool _nextReserved; // the next segment is (being) only reserved (Extend) and not zero-filled since

    /// <summary>
    /// Continues in <paramref name="current"/> (open for write-through), segment <paramref name="currentNumber"/> of log
    /// <paramref name="logId"/>, at <paramref name="offset"/> (its end marker; 0: a segment not opened yet, whose first
    /// write is its opening write), whose header allows writes of at most <paramref name="currentMaxWriteBytes"/> and
    /// gives it <paramref name="currentSegmentSize"/> bytes (0: the file's length); <paramref name="reusable"/> are segment
    /// files after it that are prepared but unused (zero), in order.
    /// </summary>
    public SegmentWriter(
        WalStorage storage, string directory, long segmentBytes, ulong logId, WalFile current, ulong currentNumber, long offset, uint currentMaxWriteBytes,
        long currentSegmentSize, uint maxWriteBytes, IEnumerable<ulong> reusable, IEnumerable<string> recycled, int maxRecycled)
    {
        _maxWriteBytes = maxWriteBytes;
        _recycled = new ConcurrentQueue<string>(recycled);
        _maxRecycled = maxRecycled;
        _storage = storage;
        _directory = directory;
        _segmentBytes = segmentBytes;
        _logId = logId;
        _current = current;
        CurrentNumber = currentNumber;
        Salt = SegmentSalt.Of(logId, currentNumber);
        Offset = offset;
        InheritedMaxWriteBytes = offset == 0 ? 0 : currentMaxWriteBytes;

        // A continued segment ends where its header says: bytes a file may have gained past that are not the log's.
        CurrentLength = offset != 0 && currentSegmentSize > 0 ? currentSegmentSize : current.Length;
        _reusable = new Queue<ulong>(reusable);
        PrepareNextInBackground();
    }

    public ulong CurrentNumber { get; private set; }

    /// <summary>The salt of the current segment: every batch header, end marker and frame CRC written into it is XORed with it.</summary>
    public uint Salt { get; private set; }

    /// <summary>Where the next write into the current segment goes: on the end marker of the last one (0: not opened yet).</summary>
    public long Offset { get; private set; }

    public long CurrentLength { get; private set; }

    /// <summary>
    /// The largest write (end marker included) the header of a segment continued after reopening allows, 0 for a segment
    /// this writer started. Recovery bounds a torn write by the header's figure, so a writer with a larger buffer must
    /// not exceed it there.
    /// </summary>
    public uint InheritedMaxWriteBytes { get; private set; }

    /// <summary>The largest write the current segment's header allows: this writer's, or the inherited one.</summary>
    public uint CurrentMaxWriteBytes => InheritedMaxWriteBytes != 0 ? InheritedMaxWriteBytes : _maxWriteBytes;

    /// <summary>True once the current segment's opening write (header and end marker) has returned.</summary>
    public bool IsOpened => Offset != 0;

    /// <summary>
    /// Writes the current segment's opening write: its header (first LSN <paramref name="firstLsn"/>, this writer's write
    /// size) and the end marker after it, alone, write-through. Batches follow at offset 64, on that marker. Alone, so that
    /// nothing of a torn opening write reaches past its 88 bytes, and so that a valid batch at offset 64 proves that the
    /// header was written (and returned) before it. Made as soon as the segment becomes the current one (at open for the
    /// head of an empty log, at rotation for the next): a segment where the log goes on is never left unopened.
    /// </summary>
    public void Open(ulong firstLsn)
    {
        Span<byte> opening = stackalloc byte[SegmentHeader.OpeningWriteBytes];
        SegmentHeader.Write(opening, CurrentNumber, firstLsn, _logId, (ulong)CurrentLength, _maxWriteBytes);
        BatchHeader.WriteEndMarker(opening[SegmentHeader.Size..], firstLsn, Salt);
        _current.Write(opening, 0);
        Offset = SegmentHeader.Size;
    }

    /// <summary>
    /// Takes the place of the next write: returns the current segment's file and, in <paramref name="offset"/>, where the
    /// write goes (<see cref="Offset"/>), and advances <see cref="Offset"/> by <paramref name="advance"/> at once (the
    /// batch; the end marker after it is overwritten by the next write), so that the next batch is laid out while this one
    /// is written by another thread. The caller writes, write-through, before it rotates.
    /// </summary>
    public WalFile ReserveWrite(int advance, out long offset)
    {
        offset = Offset;
        Offset += advance;
        return _current;
    }

    /// <summary>
    /// Switches to the prepared next segment, waiting for its preparation if it is not done yet, after closing the current
    /// one: its end marker is written again, write-through, with the closed flag, saying that the log goes on at
    /// <paramref name="nextLsn"/> in the next segment. Until then an open end marker proves the log ends in this segment,
    /// so a next segment whose header reads back as zeros (damage) can never pass for one never used. Then opens the next.
    /// </summary>
    /// <exception cref="IOException">The next segment could not be prepared, or the marker not written.</exception>
    /// <param name="nextLsn">The LSN the log goes on with, in the next segment.</param>
    /// <param name="bursting">The flush thread is writing a burst: the segment after the next is only reserved, not zero-filled.</param>
    public void Rotate(ulong nextLsn, bool bursting = false)
    {
        WalFile next = _next!.GetAwaiter().GetResult();
        Span<byte> closed = stackalloc byte[BatchHeader.Size];
        BatchHeader.WriteEndMarker(closed, nextLsn, Salt, closed: true);
        _current.Write(closed, Offset);
        _current.Dispose();
        _current = next;
        CurrentNumber++;
        Salt = SegmentSalt.Of(_logId, CurrentNumber);
        CurrentLength = next.Length;
        Offset = 0;
        InheritedMaxWriteBytes = 0;
        PrepareNextInBackground(reserveOnly: bursting);
        Open(nextLsn);
        if (WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Segments))
        {
            WalEventSource.Log.SegmentRotated(_directory, CurrentNumber, next.Path, nextLsn);
        }
    }

    /// <summary>
    /// Any thread: renames a segment freed by truncation to <c>{number:D20}.recycle</c> to keep it for reuse, if fewer
    /// than the configured number are kept (counting <paramref name="renamedBefore"/> renamed by this truncation) and it
    /// has this writer's segment size (a segment of an older, smaller size could not take every record this writer may
    /// write, and the writer must never rotate past a segment it did not write).
    /// The caller fsyncs the directory and only then offers it (<see cref="OfferRecycled"/>).
    /// </summary>
    /// <returns>The new path; null when it is not kept (the caller deletes the segment).</returns>
    public string? TryRecycle(ulong number, int renamedBefore)
    {
        if (_recycled.Count + renamedBefore >= _maxRecycled)
        {
            return null;
        }

        using (WalFile file = _storage.OpenRead(SegmentNames.PathOf(_directory, number)))
        {
            if (file.Length != _segmentBytes)
            {
                return null;
            }
        }

        string recycled = SegmentNames.RecycledPathOf(_directory, number);
        _storage.Move(SegmentNames.PathOf(_directory, number), recycled);
        if (WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Segments))
        {
            WalEventSource.Log.SegmentRecycled(_directory, number, recycled);
        }

        return recycled;
    }

    /// <summary>
    /// Offers recycled files for reuse once their renames are durable. Reuse zeroes a file's header at once: were its
    /// rename not durable yet, a power loss could leave the old segment name on a zeroed header in front of the log,
    /// which recovery must refuse as damage.
    /// </summary>
    public void OfferRecycled(List<string> recycled)
    {
        foreach (string path in recycled)
        {
            _recycled.Enqueue(path);
        }
    }

    /// <summary>
    /// Lets go of every file (a TruncateAfter is about to delete the segments after the one it keeps): waits for the next
    /// segment's preparation and closes it and the current one. Until <see cref="ContinueIn"/>, nothing may be written.
    /// </summary>
    /// <exception cref="IOException">The preparation failed (the file it left, if any, is deleted with the others).</exception>
    public void Detach()
    {
        _current.Dispose();
        Task<WalFile>? next = _next;
        _next = null;
        _reusable.Clear();
        next?.GetAwaiter().GetResult().Dispose();
    }

    /// <summary>
    /// After <see cref="Detach"/>: continues in segment <paramref name="number"/> at <paramref name="offset"/> (its end
    /// marker), whose header is <paramref name="header"/>, and prepares the next segment after it.
    /// </summary>
    public void ContinueIn(ulong number, long offset, SegmentHeader header)
    {
        _current = _storage.OpenWrite(SegmentNames.PathOf(_directory, number), writeThrough: true);
        CurrentNumber = number;
        Salt = SegmentSalt.Of(_logId, number);
        Offset = offset;
        InheritedMaxWriteBytes = header.MaxWriteBytes;
        CurrentLength = (long)header.SegmentSize;
        PrepareNextInBackground();
    }

    /// <summary>Waits until the next segment is prepared (tests: keeps the preparation's allocations out of a measurement).</summary>
    internal void TestHookWaitForPreparedSegment() => _next?.Wait();

    public void Dispose()
    {
        _current.Dispose();
        try
        {
            _next?.GetAwaiter().GetResult().Dispose();
        }
        catch (IOException)
        {
            // A failed preparation leaves at most a temporary file, deleted at the next open.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Writes real zeros over [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="file"/>, 1 MiB at a time.</summary>
    internal static void WriteZeros(WalFile file, long from, long to)
    {
        for (long offset = from; offset < to; offset += ZeroChunkBytes)
        {
            file.Write(s_zeros.AsSpan(0, (int)Math.Min(ZeroChunkBytes, to - offset)), offset);
        }
    }

    /// <summary>
    /// Flush thread, idle: a next segment only reserved during a burst that is over is zero-filled in the background
    /// before it is used, so that the small writes that follow a burst do not allocate its blocks one by one. Its zeros
    /// go over zeros (it is not in use until <see cref="Rotate"/>, which waits for them): it reads the same throughout.
    /// </summary>
    public void FillNextIfReserved()
    {
        if (!_nextReserved)
        {
            return;
        }

        _nextReserved = false;
        _next = _next!.ContinueWith(
            static prepared =>
            {
                WalFile file = prepared.GetAwaiter().GetResult(); // a failed preparation stays failed: Rotate throws it
                try
                {
                    // Its own length: one found at open may have the size of the log that prepared it, not this writer's.
                    file.FillZeros(0, file.Length);
                    file.Sync();
                }
                catch
                {
                    file.Dispose(); // a failed fill fails like a failed preparation, whose file nobody holds (found by review)
                    throw;
                }

                return file;
            },
            CancellationToken.None,
            TaskContinuationOptions.LongRunning, // see PrepareNextInBackground
            TaskScheduler.Default);
    }

    /// <summary>
    /// Creates segment <paramref name="number"/>, zero-fills it (or, <paramref name="reserveOnly"/>, reserves it without writing
    /// a block) and syncs it, then opens it write-through.
    /// </summary>
    internal static WalFile Prepare(WalStorage storage, string directory, ulong number, long bytes, bool reserveOnly = false)
    {
        string path = SegmentNames.PathOf(directory, number);
        string temporary = Path.ChangeExtension(path, SegmentNames.PreparingExtension);
        using (WalFile file = storage.CreateNew(temporary, writeThrough: false))
        {
            if (reserveOnly)
            {
                file.Extend(bytes);
            }
            else
            {
                file.FillZeros(0, bytes);
            }

            file.Sync();
        }

        storage.Move(temporary, path);
        storage.SyncDirectory(directory);
        if (WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Segments))
        {
            WalEventSource.Log.SegmentPrepared(directory, number, path, reused: false);
        }

        return storage.OpenWrite(path, writeThrough: true);
    }

    /// <summary>
    /// Turns a recycled file into segment <paramref name="number"/>: the bytes of its opening write are zeroed
    /// (write-through), so that until its opening write it reads as a prepared, unused segment; it is renamed and the
    /// directory fsynced. Its stale bytes stay: no zero-fill and no new extent, the cheapest write-through writes there
    /// are. They are never read as records: their CRCs carry another segment's salt (native-layout.md, section 4).
    /// </summary>
    internal static WalFile Reuse(WalStorage storage, string directory, string recycled, ulong number)
    {
        using (WalFile file = storage.OpenWrite(recycled, writeThrough: true))
        {
            // Not the 1 MiB zero array: its first use allocates it, and a log whose preparation goes through direct I/O
            // would allocate it here, in the middle of the first burst into recycled segments.
            Span<byte> zeros = stackalloc byte[SegmentHeader.OpeningWriteBytes];
            zeros.Clear();
            file.Write(zeros, 0);
        }

        string path = SegmentNames.PathOf(directory, number);
        storage.Move(recycled, path);
        storage.SyncDirectory(directory);
        if (WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Segments))
        {
            WalEventSource.Log.SegmentPrepared(directory, number, path, reused: true);
        }

        return storage.OpenWrite(path, writeThrough: true);
    }

    private void PrepareNextInBackground(bool reserveOnly = false)
    {
        ulong number = CurrentNumber + 1;
        _nextReserved = false;
        if (_reusable.Count > 0 && _reusable.Peek() == number)
        {
            _reusable.Dequeue();
            WalFile reused = _storage.OpenWrite(SegmentNames.PathOf(_directory, number), writeThrough: true);
            // Only reserved by a log that stopped mid-burst: zero-filled once this one idles, like one it reserved itself
            // (found by review: left sparse for good).
            _nextReserved = reused.HasHoles; // an unwritten extent is a hole to SEEK_HOLE
            _next = Task.FromResult(reused);
            return;
        }

        // A thread of its own, not the thread pool: an engine that starves its pool (blocking calls on pool threads)
        // must not stall the log's rotation behind its own work items.
        _recycled.TryDequeue(out string? recycled);
        _nextReserved = reserveOnly && recycled is null;
        _next = Task.Factory.StartNew(
            () => recycled is not null ? Reuse(_storage, _directory, recycled, number) : Prepare(_storage, _directory, number, _segmentBytes, reserveOnly),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }
}
