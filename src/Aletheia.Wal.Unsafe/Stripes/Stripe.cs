using System.Runtime.CompilerServices;
using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Flush;
using Aletheia.Wal.Native;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Stripes;

/// <summary>
/// One partition of the striped log: a ring of framed records in a native slab, plus its figures. Any number of threads
/// append; only the flush thread (or a test standing in for it) drains. Appends frame the record in place
/// (header, payload, CRC-32C) and take the LSN from the log's one counter only once the payload is written, so a
/// failed or abandoned append never consumes an LSN and a thread holding an LSN never waits for space.
/// </summary>
/// <remarks>
/// Port of aletheiadb's <c>storage/wal/stripe.rs</c> without its per-entry allocations: no byte array and no completion
/// object per record. Completion is the <see cref="DurableWatermark"/>; counts come from the consumer's released counters
/// plus the records still in the ring, so appends touch no shared counter besides the ring's tail.
/// </remarks>
internal sealed unsafe partial class Stripe : IDisposable
{
    /// <summary>The ring capacity of <c>WalStripe::new</c>: 1 MiB.</summary>
    public const int DefaultCapacityBytes = 1 << 20;

    private const long DisposingBit = 1L << 62;

    private readonly ByteRing _ring;
    private PaddedInt64 _users; // mutable struct: do not make this readonly. Appenders inside the ring, plus DisposingBit.

    // Appends that found the ring full at their first try. Written only on that slow path, so it may share a line with
    // the fields appenders read: the line moves only while appenders wait for space anyway.
    private long _fullWaits;

    public Stripe(int id, int capacityBytes = DefaultCapacityBytes, IRingConsumerSignal? consumerSignal = null)
    {
        Id = id;
        _ring = new ByteRing(capacityBytes, consumerSignal);
        MaxPayloadLength = _ring.MaxBodyLength - FrameHeader.Size;
    }

    /// <summary>The stripe's index, 0-based.</summary>
    public int Id { get; }

    /// <summary>The ring's capacity in bytes (the requested capacity rounded up to a power of two).</summary>
    public int CapacityBytes => _ring.Capacity;

    /// <summary>The largest payload a record in this stripe can carry.</summary>
    public int MaxPayloadLength { get; }

    internal ByteRing Ring => _ring;

    // The figures read the slab: like appends, they hold the dispose guard, so a racing Dispose cannot free it under them.

    /// <summary>True when nothing is waiting in the ring (approximate while appenders run).</summary>
    /// <exception cref="ObjectDisposedException">The stripe is disposed.</exception>
    public bool IsEmpty
    {
        get
        {
            Enter();
            try
            {
                return _ring.IsEmptyApproximately;
            }
            finally
            {
                Exit();
            }
        }
    }

    /// <summary>Records published and not yet drained (approximate while running, exact when quiet).</summary>
    /// <exception cref="ObjectDisposedException">The stripe is disposed.</exception>
    public int PendingCount => GetMetrics().PendingCount;

    /// <summary>Records appended successfully: drained ones plus pending ones. Failed appends are not counted.</summary>
    /// <exception cref="ObjectDisposedException">The stripe is disposed.</exception>
    public long TotalAppends => GetMetrics().TotalAppends;

    /// <summary>Payload bytes of the records appended successfully.</summary>
    /// <exception cref="ObjectDisposedException">The stripe is disposed.</exception>
    public long TotalBytes => GetMetrics().TotalBytes;

    public bool IsClosed => _ring.IsClosed;

    /// <summary>
    /// Appends that found the stripe full (or paused) at their first try, and then waited for space or failed: each call
    /// counted once, however many times it tried again. Any thread; approximate while appenders run.
    /// </summary>
    // Volatile: a fresh value for a metrics reader; it orders nothing else.
    public long FullWaits => Volatile.Read(ref _fullWaits);

    /// <summary>Appends without waiting (the seed's <c>append_async</c>).</summary>
    /// <param name="payload">The record.</param>
    /// <param name="lsns">The log's LSN counter.</param>
    /// <param name="lsn">The record's LSN on success.</param>
    /// <param name="retry">True when the caller tries again for an append already counted in <see cref="FullWaits"/>.</param>
    /// <returns><see cref="RingStatus.Full"/> or <see cref="RingStatus.Closed"/> without side effects, or Success with the LSN.</returns>
    public RingStatus TryAppend(ReadOnlySpan<byte> payload, LsnSequence lsns, out Lsn lsn, bool retry = false) =>
        AppendCopy(payload, lsns, blocking: false, Timeout.Infinite, retry, out lsn);

    /// <summary>Appends, waiting for space (the seed's <c>append_blocking</c>); fails only when closed or on timeout.</summary>
    /// <param name="payload">The record.</param>
    /// <param name="lsns">The log's LSN counter.</param>
    /// <param name="lsn">The record's LSN on success.</param>
    /// <param name="millisecondsTimeout">How long to wait for space at most.</param>
    /// <param name="retry">True when the caller tries again for an append already counted in <see cref="FullWaits"/>.</param>
    public RingStatus AppendBlocking(ReadOnlySpan<byte> payload, LsnSequence lsns, out Lsn lsn, int millisecondsTimeout = Timeout.Infinite, bool retry = false) =>
        AppendCopy(payload, lsns, blocking: true, millisecondsTimeout, retry, out lsn);

    /// <summary>Appends without waiting and returns a handle to wait on for durability (the seed's <c>append_sync</c>).</summary>
    public RingStatus TryAppendSync(ReadOnlySpan<byte> payload, LsnSequence lsns, DurableWatermark durability, out DurableHandle handle)
    {
        RingStatus status = AppendCopy(payload, lsns, blocking: false, Timeout.Infinite, retry: false, out Lsn lsn);
        handle = new DurableHandle(durability, lsn);
        return status;
    }

    /// <summary>Appends, waiting for space, and returns a handle to wait on for durability (the seed's <c>append_sync_blocking</c>).</summary>
    public RingStatus AppendSyncBlocking(
        ReadOnlySpan<byte> payload, LsnSequence lsns, DurableWatermark durability, out DurableHandle handle, int millisecondsTimeout = Timeout.Infinite)
    {
        RingStatus status = AppendCopy(payload, lsns, blocking: true, millisecondsTimeout, retry: false, out Lsn lsn);
        handle = new DurableHandle(durability, lsn);
        return status;
    }

    /// <summary>
    /// Appends a record that <paramref name="writer"/> serializes in place, into ring memory, waiting for space. If the
    /// writer throws, the reservation is abandoned, no LSN is taken and the exception propagates.
    /// </summary>
    public RingStatus AppendBlocking<TState>(
        int length, TState state, WalPayloadWriter<TState> writer, LsnSequence lsns, out Lsn lsn, int millisecondsTimeout = Timeout.Infinite)
        where TState : allows ref struct
    {
        CheckPayloadLength(length);
        Enter();
        try
        {
            int frameSize = FrameHeader.FrameSize(length);
            RingStatus status = _ring.TryReserve(frameSize, out RingReservation reservation);
            if (status == RingStatus.Full)
            {
                CountFullWait();
                status = _ring.Reserve(frameSize, out reservation, millisecondsTimeout);
            }

            if (status != RingStatus.Success)
            {
                lsn = default;
                return status;
            }

            try
            {
                ProtocolDelays.Step(); // reserved, nothing written: the scan steps over it, release stops here
                writer(new Span<byte>(reservation.Body + FrameHeader.Size, length), state);
            }
            catch
            {
                _ring.Abandon(reservation);
                throw;
            }

            lsn = Seal(reservation, length, lsns);
            return RingStatus.Success;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Consumer only. Hands every published record, in ring order, to <paramref name="handler"/>, then releases them.</summary>
    /// <returns>The number of records drained.</returns>
    public int Drain<THandler>(ref THandler handler)
        where THandler : struct, IFrameHandler
    {
        long position = _ring.Head;
        int records = 0;
        long payloadBytes = 0;
        while (_ring.TryRead(position, out RingRecord record))
        {
            var header = (FrameHeader*)record.Body;
            handler.OnFrame(new Lsn(header->Lsn), new ReadOnlySpan<byte>(record.Body + FrameHeader.Size, (int)header->PayloadLength));
            records++;
            payloadBytes += header->PayloadLength;
            position = record.Next;
        }

        _ring.Release(position, records, payloadBytes);
        return records;
    }

    /// <summary>Consumer only: releases ring space up to <paramref name="upTo"/>, counting <paramref name="records"/> and their payload bytes.</summary>
    public void Release(long upTo, int records, long payloadBytes) => _ring.Release(upTo, records, payloadBytes);

    /// <summary>Refuses further appends; what was published stays drainable.</summary>
    public void Close() => _ring.Close();

    /// <summary>Stops appends until <see cref="Resume"/>: they wait as on a full stripe (<see cref="TryAppend"/> returns Full).</summary>
    public void Pause() => _ring.Pause();

    /// <summary>Takes appends again, and wakes the appenders that waited.</summary>
    public void Resume() => _ring.Resume();

    /// <summary>A snapshot of the stripe's figures: one walk of the pending records, under the dispose guard.</summary>
    /// <exception cref="ObjectDisposedException">The stripe is disposed.</exception>
    public StripeMetrics GetMetrics()
    {
        Enter();
        try
        {
            long releasedRecords = _ring.ReleasedRecords;
            long releasedBytes = _ring.ReleasedBytes;
            var pending = new PendingRecords();
            _ring.VisitPublishedApproximately(ref pending);
            return new StripeMetrics(Id, releasedRecords + pending.Count, releasedBytes + pending.Bytes, pending.Count);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Closes the stripe, waits until no appender is inside it (they finish or fail promptly once closed), then frees
    /// the slab. Appends after this throw <see cref="ObjectDisposedException"/>. What was not drained is dropped.
    /// </summary>
    public void Dispose()
    {
        // Full fence: after this, every Enter sees the bit and backs out, so the count can only fall.
        long before = Interlocked.Or(ref _users.Value, DisposingBit);
        if ((before & DisposingBit) != 0)
        {
            return;
        }

        _ring.Close();
        SpinWait spinner = default;
        while ((Volatile.Read(ref _users.Value) & ~DisposingBit) != 0)
        {
            spinner.SpinOnce(); // appenders inside are copying or failing on the closed ring: short
        }

        _ring.Dispose();
    }

    private RingStatus AppendCopy(ReadOnlySpan<byte> payload, LsnSequence lsns, bool blocking, int millisecondsTimeout, bool retry, out Lsn lsn)
    {
        CheckPayloadLength(payload.Length);
        Enter();
        try
        {
            int frameSize = FrameHeader.FrameSize(payload.Length);
            RingStatus status = _ring.TryReserve(frameSize, out RingReservation reservation);
            if (status == RingStatus.Full)
            {
                if (!retry)
                {
                    CountFullWait();
                }

                if (blocking)
                {
                    status = _ring.Reserve(frameSize, out reservation, millisecondsTimeout);
                }
            }

            if (status != RingStatus.Success)
            {
                lsn = default;
                return status;
            }

            ProtocolDelays.Step(); // reserved, nothing written: the scan steps over it, release stops here
            payload.CopyTo(new Span<byte>(reservation.Body + FrameHeader.Size, payload.Length));
            lsn = Seal(reservation, payload.Length, lsns);
            return RingStatus.Success;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Takes the LSN, frames the record and publishes it. Nothing here can fail, so no LSN is ever lost.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Lsn Seal(in RingReservation reservation, int payloadLength, LsnSequence lsns)
    {
        ProtocolDelays.Step(); // written, no LSN yet: later LSNs are taken and published meanwhile
        Lsn lsn = lsns.Next();
        ProtocolDelays.Step(); // holding an LSN, unpublished: the merge must wait for it, and cannot deadlock
        FrameHeader.Seal(reservation.Body, payloadLength, lsn.Value);
        _ring.Publish(reservation);
        ProtocolDelays.Step(); // published, doorbell not yet rung
        return lsn;
    }

    /// <summary>The slow path of an append that found the ring full: counts it once in <see cref="FullWaits"/>.</summary>
    // Interlocked, not a plain increment: the appenders that share a stripe find it full together, and plain increments
    // would lose counts exactly then. It orders nothing (the count is only read as a figure), and it is paid only by an
    // append that is about to wait for space or fail anyway.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CountFullWait() => Interlocked.Increment(ref _fullWaits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enter()
    {
        // Full fence: the increment is visible before we touch the slab; Dispose sets DisposingBit and then waits for
        // the count to reach zero before freeing. An appender that did not see the bit is therefore waited for.
        if ((Interlocked.Increment(ref _users.Value) & DisposingBit) != 0)
        {
            Exit();
            ThrowDisposed();
        }
    }

    // Full fence: every store into the slab by this appender happens-before Dispose observes the decremented count.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Exit() => Interlocked.Decrement(ref _users.Value);

    private void CheckPayloadLength(int length)
    {
        if ((uint)length > (uint)MaxPayloadLength)
        {
            ThrowPayloadTooLarge(length);
        }
    }

    private void ThrowPayloadTooLarge(int length) => throw new ArgumentException(
        length < 0
            ? $"A payload length must be 0 or more; got {length}."
            : $"A payload of {length} bytes does not fit stripe {Id}: its ring holds {CapacityBytes} bytes, so the largest payload is {MaxPayloadLength} bytes.",
        nameof(length));

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(Stripe), "The stripe was disposed; it takes no more records.");

    private struct PendingRecords : IRingRecordHandler
    {
        public int Count;
        public long Bytes;

        public void OnRecord(ReadOnlySpan<byte> body)
        {
            Count++;
            Bytes += body.Length >= FrameHeader.Size ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(body) : 0;
        }
    }
}
