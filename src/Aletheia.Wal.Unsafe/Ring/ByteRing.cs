using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Native;

namespace Aletheia.Wal.Ring;

/*
 * A bounded multi-producer, single-consumer ring of variable-length records, in one native slab.
 *
 * Slab: [RingControl: ProducerCursor (256 B) | ConsumerCursor (256 B)] [record area: Capacity bytes].
 * Positions are monotonic 64-bit byte counts; a record at position p lives at record area offset p & (Capacity - 1).
 * Tail >= every reserved byte, Head <= every unreleased byte, and Tail - Head <= Capacity.
 *
 * Publication protocol (native-layout.md draws it with offsets):
 *  1. Reserve. A producer reads Tail and, if CachedHead says there may be no room, Head (acquire: its writes into
 *     the space must come after the consumer's zeroing of it, step 6). It claims [Tail, Tail + need) with one CAS
 *     on Tail (full fence). The CAS fails once Close has set bit 63 of Tail, so a closed ring takes nothing more.
 *     A record that would cross the end of the record area is preceded, in the same claim, by a padding record,
 *     which the producer publishes (State = Published | Skip | length) right after the CAS.
 *  2. The claimed space is all zero (step 6), so the consumer sees State == 0 at its header: "not published", and
 *     ClaimedSize == 0: "size not known yet".
 *  3. Size. Right after the CAS the producer stores ClaimedSize = align8(8 + body length), never 0. No caller code runs
 *     between the CAS and this store, so "State == 0 and ClaimedSize == 0" lasts a bounded number of the producer's
 *     own steps.
 *  4. Write. The producer writes the body in place, with plain stores. Caller code may run here for as long as it
 *     likes (an in-place payload writer).
 *  5. Publish. One release store of State = Published | length (or Published | Skip | length for abandoned
 *     reservations). Release orders every body store before it: a consumer that sees the State sees the body.
 *  6. Consume. The consumer loads State with acquire (so its body loads come after) and reads records in ring order
 *     without copying them. A State == 0 record is never read. The in-order read (TryRead) stops there; the scan
 *     (TryReadOverReservations) steps over it by its ClaimedSize when that is set, reporting the first record it
 *     stepped over, and stops only at State == 0 with ClaimedSize == 0 (step 3 pending, or free space past Tail).
 *     Release gives space back in ring order only, up to the first unpublished record: to release, the consumer
 *     zeroes the consumed bytes (both header words included, so a stale ClaimedSize is never seen) and then stores
 *     Head with release, so the zeroes are visible before any producer can claim the space again. Then it fences and
 *     reads the count of producers waiting for space (sync ones parked on a monitor, async ones awaiting a task; see
 *     ByteRing.SpaceWait.cs): a waiter increments that count, fences and reads Head again before it waits (Dekker),
 *     so one of the two sees the other and no wake-up is lost.
 *
 * The consumer never reads Tail: space beyond Tail is zero, so both reads stop there by step 2.
 * A ClaimedSize the consumer sees is never stale: the last stores to that word before the current claim are the
 * consumer's own zeroing (step 6, program order on its thread), or a producer's store of an earlier lap, which
 * happened-before that zeroing (the producer published before the space was released). And within
 * [Head, Head + Capacity) the word at a record's start is written by that record's producer only.
 */

/// <summary>
/// A bounded multi-producer, single-consumer byte ring whose records are written in place in a native slab.
/// Producers may call the append and reservation methods from any thread; the consumer methods
/// (<see cref="TryRead"/>, <see cref="Release"/>, <see cref="Drain{THandler}"/>) must be called from one thread at a time.
/// The owner disposes the ring only when no producer or consumer can still call it.
/// </summary>
internal sealed unsafe partial class ByteRing : IDisposable
{
    public const int MinCapacity = 64;
    public const int MaxCapacity = 1 << 30;

    private const long ClosedBit = long.MinValue;

    /// <summary>Set in Tail while the ring is paused: reservations fail as if it were full (positions never reach 2^62).</summary>
    private const long PausedBit = 1L << 62;

    /// <summary>Spins and yields before a blocked producer parks: a drain round usually frees space within this.</summary>
    private const int SpinIterationsBeforePark = 12;

    /// <summary>The longest single park; a release wakes parked producers sooner, this only bounds a missed wake-up.</summary>
    private const int ParkMilliseconds = 20;

    private readonly NativeSlab _slab;
    private readonly RingControl* _control;
    private readonly byte* _records;
    private readonly long _mask;
    private readonly IRingConsumerSignal? _consumerSignal;
    private readonly object _spaceGate = new();
    private int _parkedProducers; // sync producers parked on _spaceGate, plus async ones announced by BeginSpaceWait

    /// <param name="capacityBytes">Rounded up to a power of two, at least <see cref="MinCapacity"/>.</param>
    /// <param name="consumerSignal">Told when a producer is about to park for space or abandons a reservation.</param>
    public ByteRing(int capacityBytes, IRingConsumerSignal? consumerSignal = null)
    {
        if (capacityBytes < 1 || capacityBytes > MaxCapacity)
        {
            throw new ArgumentOutOfRangeException(
                nameof(capacityBytes), capacityBytes, $"A ring holds from 1 to {MaxCapacity} bytes (rounded up to a power of two, at least {MinCapacity}).");
        }

        Capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacityBytes, MinCapacity));
        _mask = Capacity - 1;
        _slab = new NativeSlab((nuint)(sizeof(RingControl) + Capacity));
        _control = (RingControl*)_slab.Pointer;
        _records = _slab.Pointer + sizeof(RingControl);
        _consumerSignal = consumerSignal;
    }

    /// <summary>The size of the record area in bytes: a power of two.</summary>
    public int Capacity { get; }

    /// <summary>The largest body a record may have: the whole record area less one header.</summary>
    public int MaxBodyLength => Capacity - RingRecordHeader.Size;

    /// <summary>True once <see cref="Close"/> was called.</summary>
    public bool IsClosed => Volatile.Read(ref _control->Producer.Tail) < 0;

    /// <summary>Bytes reserved and not yet released (records, their headers and padding). Approximate while producers run.</summary>
    public long ApproximateByteCount
    {
        get
        {
            long head = Volatile.Read(ref _control->Consumer.Head);
            long tail = Volatile.Read(ref _control->Producer.Tail) & ~(ClosedBit | PausedBit);
            return Math.Max(0, tail - head);
        }
    }

    /// <summary>True when nothing is reserved and not released. Approximate while producers run.</summary>
    public bool IsEmptyApproximately => ApproximateByteCount == 0;

    /// <summary>Published data records not yet released. Approximate while producers or the consumer run; exact when quiet.</summary>
    public int ApproximateRecordCount
    {
        get
        {
            var counter = new RecordCounter();
            VisitPublishedApproximately(ref counter);
            return counter.Count;
        }
    }

    /// <summary>Data records the consumer has released since the ring was created.</summary>
    public long ReleasedRecords => Volatile.Read(ref _control->Consumer.ReleasedRecords);

    /// <summary>Body bytes of the data records the consumer has released since the ring was created.</summary>
    public long ReleasedBytes => Volatile.Read(ref _control->Consumer.ReleasedBytes);

    /// <summary>The ring position up to which the consumer has released space. Consumer's view; any thread may read it.</summary>
    public long Head => Volatile.Read(ref _control->Consumer.Head);

    internal RingControl* Control => _control;

    /// <summary>Reserves room for a record of <paramref name="bodyLength"/> bytes without blocking.</summary>
    /// <exception cref="ArgumentException">The record can never fit this ring.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RingStatus TryReserve(int bodyLength, out RingReservation reservation)
    {
        int size = CheckedRecordSize(bodyLength);
        ref ProducerCursor producer = ref _control->Producer;

        // Acquire is not needed for correctness here (the CAS below validates the value); Volatile keeps the JIT
        // from caching Tail across loop iterations.
        long tail = Volatile.Read(ref producer.Tail);
        while (true)
        {
            if ((ulong)tail >= PausedBit)
            {
                // Closed (bit 63), or paused (bit 62): one compare on the fast path for both.
                reservation = default;
                return tail < 0 ? RingStatus.Closed : RingStatus.Full;
            }

            long index = tail & _mask;
            long padding = index + size > Capacity ? Capacity - index : 0;
            long need = padding + size;

            // Acquire: a CachedHead written by another producer carries that producer's acquire of Head (below),
            // so our stores into the space it frees are ordered after the consumer's zeroing of that space.
            long head = Volatile.Read(ref producer.CachedHead);
            if (tail + need - head > Capacity)
            {
                // Acquire: pairs with the consumer's release store of Head in Release: the zeroing of the freed
                // space happens-before our writes into it (otherwise a late zero could erase a record).
                head = Volatile.Read(ref _control->Consumer.Head);

                // Release: publishes the value together with the acquire above to producers that read CachedHead.
                // A racing producer may store an older head; that only makes someone re-read Head.
                Volatile.Write(ref producer.CachedHead, head);
                if (tail + need - head > Capacity)
                {
                    if (padding == 0 || need <= Capacity || tail + padding - head > Capacity)
                    {
                        reservation = default;
                        return RingStatus.Full;
                    }

                    // The padding and the record together exceed the ring, so they never fit in one claim:
                    // claim and publish the padding alone; the record then starts at offset 0.
                    long seen = Interlocked.CompareExchange(ref producer.Tail, tail + padding, tail);
                    if (seen == tail)
                    {
                        PublishSkip(index, padding);
                        tail += padding;
                    }
                    else
                    {
                        tail = seen;
                    }

                    continue;
                }
            }

            // Full fence: claims [tail, tail + need). Fails if another producer moved Tail or Close set bit 63.
            ProtocolDelays.Step(); // between reading Tail and claiming: others claim and publish meanwhile
            long observed = Interlocked.CompareExchange(ref producer.Tail, tail + need, tail);
            if (observed == tail)
            {
                if (padding != 0)
                {
                    PublishSkip(index, padding);
                }

                var header = (RingRecordHeader*)(_records + ((tail + padding) & _mask));
                AssertUnpublished(header, size);
                ProtocolDelays.Step(); // claimed, size not stored yet: the scan must stop here

                // Volatile: the scan reads this word from another thread while the record is unpublished, so it is one
                // 4-byte store, made here, before any caller code runs (the body is written after we return). It needs
                // no ordering with earlier stores: the consumer reads nothing of ours through it (not the body, not
                // Tail), and the 0 it replaces is the consumer's own zeroing. Until it lands the scan stops here, which
                // only delays it by the few steps between the CAS and this store.
                Volatile.Write(ref header->ClaimedSize, (uint)size);
                reservation = new RingReservation(header, bodyLength);
                return RingStatus.Success;
            }

            tail = observed;
        }
    }

    /// <summary>
    /// Reserves room for a record, waiting for space: a short spin, then yields, then parks until the consumer
    /// releases space. Never burns a core while the ring stays full. Returns <see cref="RingStatus.Closed"/> promptly
    /// once the ring is closed, and <see cref="RingStatus.Full"/> if <paramref name="millisecondsTimeout"/> passes.
    /// </summary>
    public RingStatus Reserve(int bodyLength, out RingReservation reservation, int millisecondsTimeout = Timeout.Infinite)
    {
        RingStatus status = TryReserve(bodyLength, out reservation);
        return status == RingStatus.Full ? ReserveSlow(bodyLength, out reservation, millisecondsTimeout) : status;
    }

    /// <summary>Makes a reserved record visible to the consumer. Call exactly once per reservation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Publish(in RingReservation reservation)
    {
        // Release: every store into the body happens-before this State store; the consumer's acquire load of
        // State therefore sees the whole body. Without it the consumer could read a half-written record.
        Volatile.Write(ref reservation.Header->State, RingRecordHeader.Published | (uint)reservation.Length);
    }

    /// <summary>Gives a reservation up: the consumer skips it. Call instead of <see cref="Publish"/>, exactly once.</summary>
    public void Abandon(in RingReservation reservation)
    {
        // Release: same pairing as Publish; the body is not read, but the consumer must not see State before
        // the producer is done with the space.
        Volatile.Write(ref reservation.Header->State, RingRecordHeader.Published | RingRecordHeader.Skip | (uint)reservation.Length);
        _consumerSignal?.RequestDrain();
    }

    /// <summary>Reserves, copies <paramref name="body"/> and publishes, without blocking.</summary>
    public RingStatus TryAppend(ReadOnlySpan<byte> body)
    {
        RingStatus status = TryReserve(body.Length, out RingReservation reservation);
        if (status == RingStatus.Success)
        {
            body.CopyTo(reservation.Span);
            Publish(reservation);
        }

        return status;
    }

    /// <summary>Reserves (waiting for space as <see cref="Reserve"/> does), copies <paramref name="body"/> and publishes.</summary>
    public RingStatus Append(ReadOnlySpan<byte> body, int millisecondsTimeout = Timeout.Infinite)
    {
        RingStatus status = Reserve(body.Length, out RingReservation reservation, millisecondsTimeout);
        if (status == RingStatus.Success)
        {
            body.CopyTo(reservation.Span);
            Publish(reservation);
        }

        return status;
    }

    /// <summary>
    /// Consumer only. Finds the first published data record at or after <paramref name="position"/>, skipping padding
    /// and abandoned records. Returns false at the first unpublished record; <see cref="RingRecord.Position"/> then says
    /// where (every byte before it is published or skipped).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryRead(long position, out RingRecord record)
    {
        long unused = long.MaxValue;
        return Read(position, stepOverReservations: false, ref unused, out record);
    }

    /// <summary>
    /// Consumer only. As <see cref="TryRead"/>, but steps over reservations still being written: a record with
    /// <c>State == 0</c> whose <see cref="RingRecordHeader.ClaimedSize"/> is set is passed without reading its body, and
    /// <paramref name="firstReserved"/> is lowered to its position if that is lower. Returns false at the first record
    /// whose claim has not stored its size yet (both header words 0: a bounded window with no caller code in it, or
    /// free space past Tail); <see cref="RingRecord.Position"/> then says where. A record read here may lie past an
    /// unpublished one, so release space with <see cref="TryRead"/>'s view (up to the first unpublished record), never
    /// past <paramref name="firstReserved"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryReadOverReservations(long position, ref long firstReserved, out RingRecord record) =>
        Read(position, stepOverReservations: true, ref firstReserved, out record);

    /// <summary>Both reads; <paramref name="stepOverReservations"/> is a constant at each inlined call site, so each compiles to its own loop.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool Read(long position, bool stepOverReservations, ref long firstReserved, out RingRecord record)
    {
        long limit = _control->Consumer.Head + Capacity; // only the consumer writes Head: a plain read is its own value
        while (position < limit)
        {
            var header = (RingRecordHeader*)(_records + (position & _mask));

            // Acquire: pairs with the producer's release store in Publish; the body loads that follow cannot be
            // satisfied before this load sees the publication, so they see the complete body.
            uint state = Volatile.Read(ref header->State);
            if ((state & RingRecordHeader.Published) == 0)
            {
                if (!stepOverReservations)
                {
                    break;
                }

                // Volatile: pairs with the producer's store right after its claim; no ordering is needed beyond reading
                // the word afresh (it is 0 or this claim's size, never stale: see the protocol comment, step 6), and the
                // body behind it is not read.
                uint claimed = Volatile.Read(ref header->ClaimedSize);
                if (claimed == 0)
                {
                    break;
                }

                AssertClaimedSize(position, claimed);
                firstReserved = Math.Min(firstReserved, position);
                position += claimed;
                continue;
            }

            int length = (int)(state & RingRecordHeader.LengthMask);
            long next = position + RingRecordHeader.RecordSize(length);
            if ((state & RingRecordHeader.Skip) == 0)
            {
                record = new RingRecord(position, next, (byte*)(header + 1), length);
                return true;
            }

            position = next;
        }

        record = new RingRecord(position, position, null, 0);
        return false;
    }

    /// <summary>
    /// Consumer only. Gives [Head, <paramref name="upTo"/>) back to producers: zeroes it, then moves Head. Everything in
    /// that range must have been read or be padding. <paramref name="records"/> and <paramref name="bytes"/> count the
    /// data records and body bytes released, for the metrics.
    /// </summary>
    public void Release(long upTo, int records, long bytes)
    {
        ref ConsumerCursor consumer = ref _control->Consumer;
        long head = consumer.Head;
        Debug.Assert(upTo >= head && upTo - head <= Capacity, "Release must move Head forward by at most the capacity.");
        if (upTo == head)
        {
            return;
        }

        // Zero the released bytes: a producer that later claims any part of them must find State == 0 at its
        // header until it publishes (protocol step 2).
        long from = head & _mask;
        long length = upTo - head;
        long first = Math.Min(length, Capacity - from);
        NativeMemory.Clear(_records + from, (nuint)first);
        if (length > first)
        {
            NativeMemory.Clear(_records, (nuint)(length - first));
        }

        // Plain stores to the counters: only the consumer writes them; the release store of Head below
        // publishes them to readers that acquire Head.
        ProtocolDelays.Step(); // space zeroed, Head not yet moved: producers wait on the old Head
        consumer.ReleasedRecords += records;
        consumer.ReleasedBytes += bytes;

        // Release: the zeroing above happens-before any producer's acquire of this Head value, so a producer never
        // writes into space whose zeroing is still pending.
        Volatile.Write(ref consumer.Head, upTo);

        // Full fence (store-load): the Head store above must be globally visible before we read _parkedProducers;
        // ReserveSlow increments _parkedProducers (full fence) before re-reading Head. Without it both sides could
        // read stale values and a producer would park although space is free (Dekker's pattern).
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _parkedProducers) != 0)
        {
            WakeSpaceWaiters();
        }
    }

    /// <summary>
    /// Consumer only. Reads every published record from Head in ring order, hands it to <paramref name="handler"/> in
    /// place, then releases the space. Stops at the first unpublished record or after <paramref name="maxRecords"/>.
    /// </summary>
    /// <returns>The number of records handed to the handler.</returns>
    public int Drain<THandler>(ref THandler handler, int maxRecords = int.MaxValue)
        where THandler : struct, IRingRecordHandler, allows ref struct
    {
        long position = _control->Consumer.Head;
        int count = 0;
        long bytes = 0;
        while (count < maxRecords)
        {
            if (!TryRead(position, out RingRecord record))
            {
                position = record.Position;
                break;
            }

            handler.OnRecord(record.Span);
            count++;
            bytes += record.Length;
            position = record.Next;
        }

        Release(position, count, bytes);
        return count;
    }

    /// <summary>
    /// Any thread. Walks the published data records from Head, in place, up to the first unpublished one. Racy by design:
    /// while the consumer releases (and zeroes) or producers publish, the walk sees some consistent-looking subset;
    /// it is bounded by the capacity and reads only inside the slab.
    /// </summary>
    public void VisitPublishedApproximately<TVisitor>(ref TVisitor visitor)
        where TVisitor : struct, IRingRecordHandler, allows ref struct
    {
        long position = Volatile.Read(ref _control->Consumer.Head);
        long limit = position + Capacity;
        while (position < limit)
        {
            var header = (RingRecordHeader*)(_records + (position & _mask));

            // Acquire: pairs with Publish's release store, as in TryRead.
            uint state = Volatile.Read(ref header->State);
            if ((state & RingRecordHeader.Published) == 0)
            {
                return;
            }

            int length = (int)(state & RingRecordHeader.LengthMask);
            int size = RingRecordHeader.RecordSize(length);
            if (size > Capacity - (position & _mask))
            {
                return; // torn view of a header the consumer is zeroing: stop, the count is approximate anyway
            }

            if ((state & RingRecordHeader.Skip) == 0)
            {
                visitor.OnRecord(new ReadOnlySpan<byte>(header + 1, length));
            }

            position += size;
        }
    }

    /// <summary>
    /// Refuses further reservations: later appends fail with <see cref="RingStatus.Closed"/> and producers parked for
    /// space wake and fail. Records already published stay readable; reserved ones can still be published.
    /// </summary>
    public void Close()
    {
        // Full fence: sets bit 63 atomically with respect to every reservation CAS, so each reservation either
        // happened before the close (and will be published) or fails.
        Interlocked.Or(ref _control->Producer.Tail, ClosedBit);
        WakeSpaceWaiters();
    }

    /// <summary>
    /// Stops reservations until <see cref="Resume"/>: they fail as if the ring were full (so blocking producers wait, and
    /// non-blocking ones get <see cref="RingStatus.Full"/>). Reservations made before stay and may still be published.
    /// </summary>
    public void Pause()
    {
        // Full fence: sets bit 62 atomically with respect to every reservation CAS (which compares the whole word), so
        // each reservation either happened before the pause, and lies below the frozen Tail, or fails.
        Interlocked.Or(ref _control->Producer.Tail, PausedBit);
    }

    /// <summary>Takes reservations again after <see cref="Pause"/>, and wakes the producers waiting for space.</summary>
    public void Resume()
    {
        // Full fence: clears bit 62 before the wake below, so a producer woken by it sees the ring open.
        Interlocked.And(ref _control->Producer.Tail, ~PausedBit);
        WakeSpaceWaiters();
    }

    /// <summary>
    /// Paused: true once every reservation made before the pause was published (or abandoned) and released, so that the
    /// ring is empty and stays so until <see cref="Resume"/>. Any thread.
    /// </summary>
    public bool IsPausedAndEmpty
    {
        get
        {
            // Acquire on both: a Head that reached the frozen Tail was stored after the consumer was done with every record.
            long tail = Volatile.Read(ref _control->Producer.Tail);
            return (tail & PausedBit) != 0 && (tail & ~(ClosedBit | PausedBit)) == Volatile.Read(ref _control->Consumer.Head);
        }
    }

    /// <summary>Frees the slab. The owner calls it once no thread can touch the ring any more.</summary>
    public void Dispose() => _slab.Dispose();

    private RingStatus ReserveSlow(int bodyLength, out RingReservation reservation, int millisecondsTimeout)
    {
        long deadline = millisecondsTimeout == Timeout.Infinite ? long.MaxValue : Environment.TickCount64 + millisecondsTimeout;
        SpinWait spinner = default;
        while (true)
        {
            RingStatus status = TryReserve(bodyLength, out reservation);
            if (status != RingStatus.Full)
            {
                return status;
            }

            long remaining = deadline - Environment.TickCount64;
            if (remaining <= 0)
            {
                return RingStatus.Full;
            }

            if (spinner.Count < SpinIterationsBeforePark)
            {
                spinner.SpinOnce(sleep1Threshold: -1); // spins, then yields; never sleeps
                continue;
            }

            _consumerSignal?.RequestDrain();
            lock (_spaceGate)
            {
                // Full fence: this increment is visible before the Head load inside TryReserve below; Release stores
                // Head, fences, then reads _parkedProducers. One of the two sides must see the other (Dekker).
                Interlocked.Increment(ref _parkedProducers);
                Flush.DurableWatermark.FullFenceOnArm();
                try
                {
                    status = TryReserve(bodyLength, out reservation);
                    if (status != RingStatus.Full)
                    {
                        return status;
                    }

                    // Release and Close pulse under this lock, so no wake-up is lost between the check and the wait.
                    Monitor.Wait(_spaceGate, (int)Math.Min(remaining, ParkMilliseconds));
                }
                finally
                {
                    // Full fence not needed for correctness; Interlocked keeps the count exact for Release.
                    Interlocked.Decrement(ref _parkedProducers);
                }
            }
        }
    }

    private int CheckedRecordSize(int bodyLength)
    {
        if ((uint)bodyLength > (uint)MaxBodyLength)
        {
            ThrowTooLarge(bodyLength);
        }

        return RingRecordHeader.RecordSize(bodyLength);
    }

    private void PublishSkip(long index, long bytes)
    {
        var header = (RingRecordHeader*)(_records + index);

        // Release: as in Publish; a padding record has no body, but it must not become visible before the claim
        // of the space it covers (the CAS, a full fence, already orders that).
        Volatile.Write(ref header->State, RingRecordHeader.Published | RingRecordHeader.Skip | (uint)(bytes - RingRecordHeader.Size));
    }

    [Conditional("DEBUG")]
    private static void AssertUnpublished(RingRecordHeader* header, int size)
    {
        Debug.Assert(
            header->State == 0 && header->ClaimedSize == 0, "A freshly claimed record must still be zero: the consumer zeroes space before releasing it.");
        Debug.Assert(size >= RingRecordHeader.Size, "A record holds at least its header.");
    }

    [Conditional("DEBUG")]
    private void AssertClaimedSize(long position, uint claimed) => Debug.Assert(
        claimed % 8 == 0 && claimed >= RingRecordHeader.Size && claimed <= Capacity - (position & _mask),
        "A claimed size is a whole, 8-aligned record that does not wrap: it was stored by this record's producer, never left over.");

    private void ThrowTooLarge(int bodyLength) => throw new ArgumentException(
        $"A record of {bodyLength} bytes does not fit this ring: its capacity is {Capacity} bytes and the largest record body it takes is {MaxBodyLength} bytes.",
        nameof(bodyLength));

    private struct RecordCounter : IRingRecordHandler
    {
        public int Count;

        public void OnRecord(ReadOnlySpan<byte> body) => Count++;
    }
}
