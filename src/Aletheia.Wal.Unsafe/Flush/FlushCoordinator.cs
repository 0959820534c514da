using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Native;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Stripes;

namespace Aletheia.Wal.Flush;

/*
 * The flush thread. Each round:
 *  1. Index. For every stripe, read the records published since the last round (in ring order, in place, stepping
 *     over reservations still being written) and put a pointer to each frame in a table indexed by LSN modulo its
 *     size. Within a stripe LSNs are not in ring order (producers take the LSN after reserving), so this is how the
 *     merge finds LSN n in O(1) without sorting.
 *  2. Copy. From the next LSN to write, copy frames into the native write buffer while the table has them: a
 *     contiguous LSN prefix. A missing LSN is being written by a producer; the records after it wait for a later round.
 *  3. Release. Give back each stripe's ring space up to its first record not yet copied.
 *  4. Write. One RandomAccess.Write of [batch header][frames][end marker] to the write-through segment, on the end marker
 *     of the previous write; when it returns, the batch is durable: advance DurableLsn, which releases the waiters. A
 *     segment is closed (its end marker rewritten with the closed flag) before the next one's opening write (header and
 *     end marker, alone), and batches follow that.
 * While a write is in flight, producers keep appending into the rings: the next round takes all of it (group commit).
 *
 * Why the merge cannot deadlock: a producer reserves its ring space first and takes its LSN only once its payload is
 * written, and nothing between taking the LSN and publishing can wait or fail. So every LSN handed out is published
 * within a bounded number of the producer's own steps, whatever the flush thread does; the LSN the merge waits for
 * always arrives. Records that wait for it occupy ring space, and a producer blocked on a full ring holds no LSN, so
 * no LSN ever waits for ring space. A caller's in-place payload writer runs after reserving and before taking its LSN,
 * for as long as it likes: the scan steps over its reservation (the ring record header holds its size from the claim
 * on), so it delays only its own record, and the release of its stripe's ring space from it on (release goes in ring
 * order). The table is large enough for every record the rings can hold: an LSN handed out and not yet copied occupies
 * ring space, so at most (total ring bytes / smallest record) of them exist at once, and no two of them share a table
 * slot.
 */

/// <summary>The single flush thread: drains every stripe, merges in LSN order, writes with write-through, advances durability.</summary>
internal sealed unsafe partial class FlushCoordinator : IDisposable
{
    private const int ParkMilliseconds = 100;

    private readonly Stripe[] _stripes;
    private readonly long[] _scanPositions;
    private readonly NativeSlab _tableSlab;
    private readonly byte** _table;
    private readonly ulong _tableMask;
    private readonly NativeSlab _bufferSlab;
    private readonly NativeSlab _spareBufferSlab; // the second write buffer: filled while the first is being written
    private byte* _buffer;                         // the one CollectUnsynchronized fills; flush thread only
    private readonly int _bufferCapacity;
    private int _writeLimit; // the most a write into the current segment may hold before its end marker
    private readonly LsnSequence _lsns;
    private readonly DurableWatermark _watermark;
    private readonly FlushDoorbell _doorbell;
    private readonly SegmentWriter _segments;
    private readonly WalTelemetry _telemetry;
    private readonly DurableLagClock _lagClock;
    private readonly Thread _thread;
    private volatile bool _stopRequested;
    private CutRequest? _cut; // set by TruncateAfter (Volatile), cleared by the flush thread once it went on

    // Flush thread only.
    private ulong _dropAbove = ulong.MaxValue; // while a cut drains the rings: records above this are dropped, not written
    private ulong _nextLsn;
    private int _used;
    private int _batchRecords;
    private ulong _batchFirstLsn;
    private readonly bool _reserveDuringBursts; // WalOptions.ReserveSegmentsDuringBursts
    private long _segmentHandOffBytes; // batch bytes of the current segment given to the writer thread: a burst, if most of it

    // Written by the flush thread, read by GetMetrics with Volatile.
    private long _batches;
    private long _bytesWritten;
    private long _recordsWritten;
    private long _lastWriteTicks;

    public FlushCoordinator(
        Stripe[] stripes, LsnSequence lsns, DurableWatermark watermark, FlushDoorbell doorbell, SegmentWriter segments, int writeBufferBytes, string name,
        WalTelemetry telemetry, bool reserveDuringBursts = false)
    {
        _reserveDuringBursts = reserveDuringBursts;
        _stripes = stripes;
        _telemetry = telemetry;
        _lagClock = new DurableLagClock(lsns.Last.Value);
        _lsns = lsns;
        _watermark = watermark;
        _doorbell = doorbell;
        _segments = segments;
        _nextLsn = lsns.Last.Value + 1;
        _scanPositions = new long[stripes.Length];

        long ringBytes = 0;
        foreach (Stripe stripe in stripes)
        {
            ringBytes += stripe.CapacityBytes;
        }

        ulong slots = System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)(ringBytes / MinRecordBytes) + 1);
        _tableSlab = new NativeSlab((nuint)(slots * (ulong)sizeof(byte*)));
        _table = (byte**)_tableSlab.Pointer;
        _tableMask = slots - 1;

        _bufferCapacity = writeBufferBytes;
        _writeLimit = WriteLimitOf(segments);
        _bufferSlab = new NativeSlab((nuint)MaxWriteBytesFor(writeBufferBytes)); // room for the end marker and the padding after a full batch
        _buffer = _bufferSlab.Pointer;
        _spareBufferSlab = new NativeSlab((nuint)MaxWriteBytesFor(writeBufferBytes));
        _writer = new Thread(RunWriter) { IsBackground = true, Name = $"{name}-write" };
        _handOffBytes = Math.Max(LargeBatchFloorBytes, writeBufferBytes / 4);
        _thread = new Thread(Run) { IsBackground = true, Name = $"{name}-flush" };
    }

    /// <summary>The bytes of a segment that are not a batch's frames, at least: the opening write, a batch header and its end marker.</summary>
    public const int MaxHeaderBytes = SegmentHeader.Size + BatchHeader.Size + MarkerBytes;

    /// <summary>
    /// The end marker written after every batch, where the next batch header goes: it proves where the segment's data
    /// ends (native-layout.md, section 4). The next write starts on it and overwrites it.
    /// </summary>
    public const int MarkerBytes = BatchHeader.Size;

    /// <summary>
    /// Every batch write is padded with zeros to the end of its last page of this size (as far as the segment and its
    /// header's <see cref="SegmentWriter.CurrentMaxWriteBytes"/> allow), so that it never covers part of a page: the page
    /// cache holds no page of a segment prepared with direct I/O (or recycled, or reopened), and a write-through write
    /// that covers part of a page not cached first reads it from the device. Measured: without the padding, 1 KiB bursts
    /// into a directly prepared segment ran at 276 MB/s against 1,237 with the page cache filled by the preparation.
    /// </summary>
    public const int PageBytes = 4096;

    /// <summary>
    /// The largest write of a writer with a write buffer of <paramref name="writeBufferBytes"/>: a full batch, its end
    /// marker and a page of padding. The size of each write buffer, and the <c>MaxWriteBytes</c> of the segments it opens.
    /// </summary>
    public static int MaxWriteBytesFor(int writeBufferBytes) => writeBufferBytes + MarkerBytes + PageBytes;

    /// <summary>The smallest ring record: an empty frame and its ring header.</summary>
    private static int MinRecordBytes => RingRecordHeader.RecordSize(FrameHeader.Size);

    public long Batches => Volatile.Read(ref _batches);

    public long BytesWritten => Volatile.Read(ref _bytesWritten);

    public long RecordsWritten => Volatile.Read(ref _recordsWritten);

    public TimeSpan LastWriteLatency => Stopwatch.GetElapsedTime(0, Volatile.Read(ref _lastWriteTicks));

    /// <summary>
    /// When the flush thread first saw the oldest record not yet durable handed out (a <see cref="Stopwatch"/> timestamp),
    /// 0 when it has seen none: see <see cref="DurableLagClock"/>.
    /// </summary>
    public long OldestPendingTicks => _lagClock.OldestPendingTicks;

    public void Start()
    {
        _writer.Start();
        _thread.Start();
    }

    /// <summary>False once the flush thread has exited (stopped or faulted).</summary>
    public bool IsRunning => _thread.IsAlive;

    /// <summary>
    /// Asks the flush thread to write everything appended and exit, and waits for it. The stripes must be closed first
    /// (so that what "everything" means stops growing).
    /// </summary>
    public void Stop()
    {
        _stopRequested = true;
        _doorbell.Ring();
        _thread.Join();
    }

    /// <summary>
    /// TruncateAfter, with every stripe paused: the flush thread writes every record up to <paramref name="cut"/>'s LSN
    /// that is not durable yet, drops the records above it (their ring space is released, nothing of them is written),
    /// and once the rings are empty it holds, having signalled <see cref="CutRequest.Drained"/>: the caller then owns
    /// the segment writer until <see cref="EndCut"/>.
    /// </summary>
    public void BeginCut(CutRequest cut)
    {
        Volatile.Write(ref _cut, cut); // release: the flush thread sees the request with its fields
        _doorbell.Ring();
    }

    /// <summary>Tests: a TruncateAfter has handed its request over (<see cref="BeginCut"/>) and the flush thread has not yet gone on after it.</summary>
    // Acquire: a fresh read of the request BeginCut published.
    internal bool TestHookCutRequested => Volatile.Read(ref _cut) is not null;

    /// <summary>Lets the held flush thread go on, appending from LSN <paramref name="nextLsn"/> into the segment writer's current position.</summary>
    public void EndCut(CutRequest cut, ulong nextLsn)
    {
        cut.NextLsn = nextLsn;
        cut.Resume.Set(); // a full fence: the flush thread sees the caller's changes to the segment writer
    }

    public void Dispose()
    {
        _tableSlab.Dispose();
        _bufferSlab.Dispose();
        _spareBufferSlab.Dispose();
        _postedEvent.Dispose();
        _doneEvent.Dispose();
    }

    private void Run()
    {
        try
        {
            SpinWait idle = default;
            long idleSince = 0; // Environment.TickCount64 when the flush thread found nothing to do since its last batch (0: not yet)
            while (true)
            {
                // Acquire: pairs with BeginCut's release.
                if (Volatile.Read(ref _cut) is { } cut)
                {
                    HoldForCut(cut);
                    idle = default;
                    idleSince = 0;
                    continue;
                }

                bool stopping = _stopRequested;
                _doorbell.TakeDrainRequest();
                _lagClock.OnRound(_lsns.Last.Value);
                CollectUnsynchronized();
                if (_batchRecords > 0)
                {
                    WriteBatchUnsynchronized();
                    idle = default;
                    idleSince = 0;
                    continue;
                }

                if (_nextLsn <= _lsns.Last.Value || stopping)
                {
                    if (stopping && _nextLsn > _lsns.Last.Value && AllRingsEmpty())
                    {
                        AwaitWriteInFlight(); // everything appended is written, and durable, before Stop returns
                        return;
                    }

                    // An LSN handed out is being published, or (stopping) a reservation is being completed:
                    // both take a bounded number of the producer's steps. Yield the core to it; never sleep.
                    idle.SpinOnce(sleep1Threshold: -1);
                    continue;
                }

                // A write may stay in flight while parked: records appended meanwhile are collected (and queued behind it)
                // at once, not after it returned. A failed write rings the doorbell, and is seen here.
                ThrowIfWriteFailed();
                FillNextIfIdle(ref idleSince);
                _doorbell.Park(static self => self.HasWork(), this, ParkMilliseconds);
                idle = default;
            }
        }
        catch (Exception e)
        {
            // A write in flight finishes first (and is reported durable if it returned): it was copied before the fault.
            FinishWriteInFlightQuietly();
            // No retry: after a failed write-through write the state of the page cache is unknown. Nothing copied
            // after the last successful write is reported durable. Closing the stripes wakes appenders parked for space.
            // Reported before the waiters learn of it, so that a listener has it when they do.
            _telemetry.Faulted(e);
            _watermark.SetFaulted(e);
            foreach (Stripe stripe in _stripes)
            {
                stripe.Close();
            }

            if (Volatile.Read(ref _cut) is { } cut)
            {
                cut.Drained.Set(); // a TruncateAfter waiting for the drain finds the log faulted
            }
        }
        finally
        {
            StopWriter();
        }
    }

    /// <summary>
    /// Flush thread, about to park with nothing to do: once it has found nothing to do for a whole park, with no write in
    /// flight, a burst, if any, is over, and a next segment only reserved during it is zero-filled (in the background).
    /// Not at the first park: between the rounds of a burst that goes on (each ended by a Flush, or durable appends
    /// waiting for the writes in flight) the flush thread parks too, for microseconds, and the fill's zeros would compete
    /// with the burst's writes, which reserving it was to avoid (found by review: every segment reserved was filled
    /// beside the burst).
    /// </summary>
    private void FillNextIfIdle(ref long idleSince)
    {
        long now = Environment.TickCount64;
        if (idleSince == 0)
        {
            idleSince = now;
        }
        else if (now - idleSince >= ParkMilliseconds && _posted == Volatile.Read(ref _done)) // acquire: see WaitForDone
        {
            _segments.FillNextIfReserved();
        }
    }

    /// <summary>Flush thread: drains the rings for a TruncateAfter (see <see cref="BeginCut"/>), then holds until <see cref="EndCut"/>.</summary>
    private void HoldForCut(CutRequest cut)
    {
        _dropAbove = cut.After;
        SpinWait idle = default;
        while (true)
        {
            _doorbell.TakeDrainRequest();
            _lagClock.OnRound(_lsns.Last.Value);
            CollectUnsynchronized();
            if (_batchRecords > 0)
            {
                WriteBatchUnsynchronized();
                continue;
            }

            if (_nextLsn > _lsns.Last.Value && AllStripesPausedAndEmpty())
            {
                break;
            }

            // A reservation made before the pause is being completed: a bounded number of the producer's steps, unless
            // an in-place payload writer takes its time. Yield the core to it.
            idle.SpinOnce(sleep1Threshold: -1);
        }

        AwaitWriteInFlight(); // the caller takes the segment writer: nothing may be in flight
        _dropAbove = ulong.MaxValue;
        cut.Drained.Set();
        cut.Resume.Wait();
        if (cut.Failed)
        {
            throw new InvalidOperationException("TruncateAfter failed while the flush thread held for it; the log is faulted.");
        }

        _nextLsn = cut.NextLsn;
        _writeLimit = WriteLimitOf(_segments);
        _used = 0;
        _segmentHandOffBytes = 0;
        _lagClock.Reset(cut.NextLsn - 1); // what the cut dropped will never be durable; the rest is

        // Only this request: the caller has returned, and the next TruncateAfter may have made its own already (found by
        // review: clearing it unconditionally lost that one, and its caller waited for good with the stripes paused).
        Interlocked.CompareExchange(ref _cut, null, cut);
    }

    private bool AllStripesPausedAndEmpty()
    {
        foreach (Stripe stripe in _stripes)
        {
            if (!stripe.Ring.IsPausedAndEmpty)
            {
                return false;
            }
        }

        return true;
    }

    // Acquire read of the fault: see ThrowIfWriteFailed.
    private bool HasWork() => _stopRequested || _nextLsn <= _lsns.Last.Value || Volatile.Read(ref _writeFault) is not null;

    private bool AllRingsEmpty()
    {
        foreach (Stripe stripe in _stripes)
        {
            if (!stripe.Ring.IsEmptyApproximately)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Flush thread only: index new records, copy the contiguous LSN prefix into the write buffer, release ring space.</summary>
    private void CollectUnsynchronized()
    {
        for (int i = 0; i < _stripes.Length; i++)
        {
            ProtocolDelays.Step(); // stripes scanned at different moments: the LSN table sees gaps
            ByteRing ring = _stripes[i].Ring;
            long position = _scanPositions[i];
            long firstReserved = long.MaxValue;
            RingRecord record;

            // Steps over reservations still being written (an in-place payload writer may take its time), so they delay
            // only their own record. The next round starts again at the first of them: records past it that this round
            // indexes are seen again. That is idempotent: one already copied has an LSN below the next to copy and is
            // skipped (it stays in the ring until the reservation before it is published and release passes both); one
            // not yet copied sets its table slot to the same pointer again.
            while (ring.TryReadOverReservations(position, ref firstReserved, out record))
            {
                ulong lsn = ((FrameHeader*)record.Body)->Lsn;
                if (lsn >= _nextLsn)
                {
                    Debug.Assert(lsn - _nextLsn <= _tableMask, "Every uncopied LSN in a ring is within the table's window.");
                    _table[lsn & _tableMask] = record.Body;
                }
                else
                {
                    Debug.Assert(_table[lsn & _tableMask] != record.Body, "A copied record's table slot was cleared when it was copied; a re-scan does not set it again.");
                }

                position = record.Next;
            }

            _scanPositions[i] = Math.Min(firstReserved, record.Position);
        }

        while (true)
        {
            byte* frame = _table[_nextLsn & _tableMask];
            if (frame is null)
            {
                break;
            }

            if (_nextLsn > _dropAbove)
            {
                if (_batchRecords > 0)
                {
                    // Write the kept records first: a batch's end marker and the durable LSN follow its last record.
                    break;
                }

                // Dropped by a TruncateAfter before it was written: never written, its ring space released below.
                _table[_nextLsn & _tableMask] = null;
                _nextLsn++;
                continue;
            }

            int size = FrameHeader.FrameSize((int)((FrameHeader*)frame)->PayloadLength);
            if (!FitsUnsynchronized(size))
            {
                if (_batchRecords > 0)
                {
                    break; // write this batch first; the frame opens the next one
                }

                // An empty batch that cannot take the frame: the segment is full, or it was opened by an earlier writer whose
                // writes or segments were smaller (closed with only its opening write, it is still a valid segment). One
                // this writer opened, with nothing in it yet, always takes a frame (its segments and writes are sized for
                // the largest record): were it ever too small, the writer would rotate past segment after segment.
                if (_segments.Offset == SegmentHeader.Size && _segments.InheritedMaxWriteBytes == 0)
                {
                    throw new InvalidOperationException(
                        $"Segment {_segments.CurrentNumber}, opened by this writer ({_segments.CurrentLength} bytes, writes of {_writeLimit} bytes), cannot take a frame of {size} bytes.");
                }

                AwaitWriteInFlight(); // the closing write goes after the last batch of the segment
                // A burst: the writer thread wrote most of the segment. Then, if asked, the segment after the next is only reserved.
                _segments.Rotate(_nextLsn, bursting: _reserveDuringBursts && _segmentHandOffBytes * 2 >= _segments.CurrentLength);
                _segmentHandOffBytes = 0;
                _writeLimit = WriteLimitOf(_segments);
                _used = 0;
                continue;
            }

            if (_batchRecords == 0)
            {
                _batchFirstLsn = _nextLsn;
                _used = BatchHeader.Size;
            }

            ProtocolDelays.Step();
            byte* copy = _buffer + _used;
            Unsafe.CopyBlockUnaligned(copy, frame, (uint)size);
            ((FrameHeader*)copy)->Crc ^= _segments.Salt; // on disk a frame's CRC carries its segment's salt
            _used += size;
            _batchRecords++;
            _table[_nextLsn & _tableMask] = null;
            _nextLsn++;
        }

        for (int i = 0; i < _stripes.Length; i++)
        {
            ProtocolDelays.Step(); // producers publish (and pad) past the scan position before the release
            ByteRing ring = _stripes[i].Ring;
            long position = ring.Head;
            int records = 0;
            long payloadBytes = 0;
            RingRecord record;
            while (ring.TryRead(position, out record) && ((FrameHeader*)record.Body)->Lsn < _nextLsn)
            {
                records++;
                payloadBytes += ((FrameHeader*)record.Body)->PayloadLength;
                position = record.Next;
            }

            // Never past the scan position: a producer may have published padding there after this round's scan,
            // and TryRead skips padding. Releasing over it would zero the header the next scan starts from, and the
            // records after it would never be indexed. Only padding can lie past the scan position here.
            _stripes[i].Release(Math.Min(record.Position, _scanPositions[i]), records, payloadBytes);
        }
    }

    /// <summary>Whether the batch can take a frame of <paramref name="frameSize"/> bytes: within one write, and with room for the end marker in the segment.</summary>
    private bool FitsUnsynchronized(int frameSize)
    {
        int used = _batchRecords > 0 ? _used : BatchHeader.Size;
        return used + frameSize <= _writeLimit && _segments.Offset + used + frameSize + MarkerBytes <= _segments.CurrentLength;
    }

    private int WriteLimitOf(SegmentWriter segments) =>
        segments.InheritedMaxWriteBytes == 0 ? _bufferCapacity : (int)Math.Min(_bufferCapacity, Math.Max(0L, segments.InheritedMaxWriteBytes - MarkerBytes));

    /// <summary>
    /// Flush thread only: seals the batch, the end marker and the padding after it, and writes them: itself when the
    /// batch is small (a durable append waits for no thread hand-over), else through the writer thread, so that the next
    /// batch is collected into the other buffer while this one is being written (and queued behind it). One write is in
    /// flight at a time, in order, so the format is the same either way.
    /// </summary>
    private void WriteBatchUnsynchronized()
    {
        // The batch's records are dated before their write at the latest, even those handed out after this round's look
        // (OnRound in Run): else a write that takes long would show no lag for them until the round after it.
        _lagClock.OnRound(_nextLsn - 1);
        BatchHeader.Write(_buffer, _used - BatchHeader.Size, _batchFirstLsn, _batchRecords, _segments.Salt);
        BatchHeader.WriteEndMarker(_buffer + _used, _nextLsn, _segments.Salt);
        int length = _used + MarkerBytes;
        // A small batch goes to the writer too while it has a write: the flush thread would wait for that one anyway.
        bool handOff = _used >= _handOffBytes || _posted != Volatile.Read(ref _done); // acquire: see WaitForDone
        if (!handOff)
        {
            AwaitWriteInFlight(); // the writes posted return first: writes land in order
        }

        long end = _segments.Offset + length;
        long paddedEnd = Math.Min(
            (end + PageBytes - 1) & ~(long)(PageBytes - 1),
            Math.Min(_segments.CurrentLength, _segments.Offset + _segments.CurrentMaxWriteBytes));
        int padding = (int)Math.Max(0, paddedEnd - end);
        NativeMemory.Clear(_buffer + length, (nuint)padding); // what follows an end marker is zeros, or stale bytes, never frames
        var write = new BatchWrite(_segments.ReserveWrite(_used, out long offset), offset, _buffer, length + padding, _used, _batchRecords, _batchFirstLsn, _nextLsn - 1);
        _used = 0;
        _batchRecords = 0;
        if (handOff)
        {
            _segmentHandOffBytes += write.BatchBytes;
            PostWrite(write); // the writer writes it once the write before it returned: Offset already moved past it
            _buffer = _buffer == _bufferSlab.Pointer ? _spareBufferSlab.Pointer : _bufferSlab.Pointer; // the next batch goes into the other one
            AwaitSpareBuffer(); // which the write before this one may still be writing from
        }
        else
        {
            WriteAndPublish(write);
        }
    }

    /// <summary>
    /// The flush thread (a small batch) or the writer thread (a large one), never both at once: writes the batch and, once
    /// the write-through write returned, reports it durable.
    /// </summary>
    private void WriteAndPublish(in BatchWrite write)
    {
        long started = Stopwatch.GetTimestamp();
        ProtocolDelays.Step(); // the next batch accumulates while this one waits
        write.File.Write(new ReadOnlySpan<byte>(write.Data, write.Length), write.Offset);
        long elapsed = Stopwatch.GetTimestamp() - started;

        // Single writer at a time (the hand-over orders the two threads), so plain increments published with Volatile.
        Volatile.Write(ref _batches, _batches + 1);
        Volatile.Write(ref _bytesWritten, _bytesWritten + write.BatchBytes);
        Volatile.Write(ref _recordsWritten, _recordsWritten + write.Records);
        Volatile.Write(ref _lastWriteTicks, elapsed);

        // Before the records are reported durable: a listener has the batch by the time a waiter returns. Costs a few
        // checks when nothing listens.
        _telemetry.BatchWritten(write.Records, write.BatchBytes, write.FirstLsn, write.Durable, elapsed);
        _lagClock.OnDurable(write.Durable); // before Advance: the age is read low while the two disagree, never high

        // The write returned from a write-through write: only now is the batch durable.
        ProtocolDelays.Step(); // written, not yet reported durable: waiters must not have been released
        _watermark.Advance(new Lsn(write.Durable));
    }
}

/// <summary>A TruncateAfter's hand-over with the flush thread (see <see cref="FlushCoordinator.BeginCut"/>).</summary>
internal sealed class CutRequest(ulong after)
{
    /// <summary>The LSN the log is cut after.</summary>
    public ulong After { get; } = after;

    /// <summary>Set by the flush thread once the rings are drained and it holds (or once it faulted).</summary>
    public ManualResetEventSlim Drained { get; } = new();

    /// <summary>Set by the caller when the flush thread may go on.</summary>
    public ManualResetEventSlim Resume { get; } = new();

    /// <summary>The LSN the flush thread goes on with.</summary>
    public ulong NextLsn { get; set; }

    /// <summary>Set (before <see cref="Resume"/>) when the cut failed: the flush thread stops, the log is faulted.</summary>
    public bool Failed { get; set; }
}
