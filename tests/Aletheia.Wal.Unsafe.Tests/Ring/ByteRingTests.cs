using System.Diagnostics;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Ring;

public sealed unsafe class ByteRingTests
{
    [Theory]
    [InlineData(1, 64)]
    [InlineData(64, 64)]
    [InlineData(65, 128)]
    [InlineData(1000, 1024)]
    [InlineData(1 << 20, 1 << 20)]
    public void Capacity_rounds_up_to_a_power_of_two(int requested, int expected)
    {
        using var ring = new ByteRing(requested);
        Assert.Equal(expected, ring.Capacity);
    }

    [Fact]
    public void Invalid_capacity_is_refused_with_the_allowed_range()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ByteRing(0));
        Assert.Contains("1 to", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Record_too_large_is_refused_with_both_sizes()
    {
        using var ring = new ByteRing(256);
        var e = Assert.Throws<ArgumentException>(() => ring.TryAppend(new byte[300]));
        Assert.Contains("300", e.Message, StringComparison.Ordinal);
        Assert.Contains("256", e.Message, StringComparison.Ordinal);
        Assert.Contains(ring.MaxBodyLength.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.True(ring.IsEmptyApproximately, "A refused record leaves nothing behind.");
    }

    [Fact]
    public void Try_append_fails_when_full_and_succeeds_after_drain()
    {
        using var ring = new ByteRing(64);
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[24])); // 32 bytes with its header
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[24]));
        Assert.Equal(RingStatus.Full, ring.TryAppend(new byte[1]));
        Assert.Equal(2, ring.ApproximateRecordCount);
        Assert.Equal(64, ring.ApproximateByteCount);

        var sink = new CollectingHandler();
        Assert.Equal(2, ring.Drain(ref sink));
        Assert.True(ring.IsEmptyApproximately);
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[24]));
        Assert.Equal(2, ring.ReleasedRecords);
        Assert.Equal(48, ring.ReleasedBytes);
    }

    [Fact]
    public void Close_refuses_appends_and_keeps_published_records_drainable()
    {
        using var ring = new ByteRing(1024);
        Assert.Equal(RingStatus.Success, ring.TryAppend([1, 2, 3]));
        ring.Close();
        Assert.True(ring.IsClosed);
        Assert.Equal(RingStatus.Closed, ring.TryAppend([4]));
        Assert.Equal(RingStatus.Closed, ring.Append([4], millisecondsTimeout: 1000));

        var sink = new CollectingHandler();
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.Equal([1, 2, 3], sink.Records.Single());
    }

    /// <summary>
    /// A paused ring (TruncateAfter) refuses reservations as a full one does, lets one made before the pause be published
    /// and drained, says when it is empty, and takes appends again after Resume, waking a producer that waited.
    /// </summary>
    [Fact]
    public void Pause_refuses_reservations_as_full_until_resume_and_lets_earlier_ones_finish()
    {
        using var ring = new ByteRing(1024);
        Assert.Equal(RingStatus.Success, ring.TryReserve(4, out RingReservation before));
        ring.Pause();
        Assert.False(ring.IsClosed);
        Assert.Equal(RingStatus.Full, ring.TryAppend([1]));
        Assert.Equal(RingStatus.Full, ring.Append([1], millisecondsTimeout: 50));
        Assert.False(ring.IsPausedAndEmpty, "A reservation made before the pause is not yet released.");
        new byte[] { 4, 3, 2, 1 }.CopyTo(before.Span);
        ring.Publish(before);
        var sink = new CollectingHandler();
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.True(ring.IsPausedAndEmpty);
        Assert.Equal(0, ring.ApproximateByteCount); // the paused bit is no part of a position: nothing is reserved

        RingStatus waited = RingStatus.Closed;
        var waiting = new Thread(() => waited = ring.Append([5, 6], millisecondsTimeout: 30_000));
        waiting.Start();
        Assert.False(waiting.Join(100), "A blocking append waits while the ring is paused.");
        ring.Resume();
        Assert.True(waiting.Join(TimeSpan.FromSeconds(10)), "Resume wakes it.");
        Assert.Equal(RingStatus.Success, waited);
        Assert.False(ring.IsPausedAndEmpty);
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.Equal([[4, 3, 2, 1], [5, 6]], sink.Records);
    }

    [Fact]
    public void Reservation_closed_mid_way_can_still_be_published()
    {
        using var ring = new ByteRing(1024);
        Assert.Equal(RingStatus.Success, ring.TryReserve(4, out RingReservation reservation));
        ring.Close();
        new byte[] { 9, 8, 7, 6 }.CopyTo(reservation.Span);
        ring.Publish(reservation);
        var sink = new CollectingHandler();
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.Equal([9, 8, 7, 6], sink.Records.Single());
    }

    [Fact]
    public void Abandoned_reservation_is_skipped()
    {
        using var ring = new ByteRing(1024);
        Assert.Equal(RingStatus.Success, ring.TryReserve(40, out RingReservation abandoned));
        Assert.Equal(RingStatus.Success, ring.TryAppend([5]));
        ring.Abandon(abandoned);
        var sink = new CollectingHandler();
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.Equal([5], sink.Records.Single());
        Assert.True(ring.IsEmptyApproximately, "The abandoned record's space is released with the rest.");
    }

    [Fact]
    public void Zero_length_padding_record_at_the_end_is_skipped()
    {
        // 64-byte ring: a 56-byte record leaves Tail at index 56, so the next 16-byte record needs a padding record
        // with an empty body (8 bytes: only a header) in front of it.
        using var ring = new ByteRing(64);
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[48]));
        var sink = new CollectingHandler();
        ring.Drain(ref sink);
        Assert.Equal(RingStatus.Success, ring.TryAppend([42, 43]));
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.Equal([42, 43], sink.Records.Last());
        Assert.True(ring.IsEmptyApproximately, "The padding record is released with the record after it.");
    }

    [Fact]
    public void Empty_record_is_published_and_drained()
    {
        using var ring = new ByteRing(64);
        Assert.Equal(RingStatus.Success, ring.TryAppend([]));
        var sink = new CollectingHandler();
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.Empty(sink.Records.Single());
    }

    [Fact]
    public void Record_larger_than_half_the_ring_fits_after_padding_alone()
    {
        using var ring = new ByteRing(128);
        var sink = new CollectingHandler();
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[40])); // 48 bytes: Tail at 48
        ring.Drain(ref sink);

        // 120 bytes cannot follow the 80-byte padding in one claim: the first try claims the padding alone and
        // reports Full; once the consumer releases the padding the record starts at offset 0.
        byte[] big = Enumerable.Range(0, 112).Select(i => (byte)i).ToArray();
        Assert.Equal(RingStatus.Full, ring.TryAppend(big));
        Assert.Equal(0, ring.Drain(ref sink));
        Assert.Equal(RingStatus.Success, ring.TryAppend(big));
        Assert.Equal(1, ring.Drain(ref sink));
        Assert.Equal(big, sink.Records.Last());
    }

    [Fact]
    public void Wrap_around_with_random_sizes_keeps_every_byte()
    {
        // Millions of records through a small ring: every record wraps the ring many times over.
        using var ring = new ByteRing(64 * 1024);
        var random = new Random(12345);
        const int Total = 2_000_000;
        long appended = 0;
        var checker = new SequenceChecker();
        byte[] payload = new byte[1024];
        while (appended < Total)
        {
            int length = random.Next(0, 3) == 0 ? random.Next(0, 1024) : random.Next(0, 64);
            Span<byte> body = payload.AsSpan(0, Math.Max(length, 8));
            Payloads.Fill(body[8..], 1, appended);
            BitConverter.TryWriteBytes(body, appended);
            if (ring.TryAppend(body) == RingStatus.Success)
            {
                appended++;
            }
            else
            {
                ring.Drain(ref checker);
            }
        }

        ring.Drain(ref checker);
        Assert.Equal(Total, checker.Next);
        Assert.True(checker.AllIntact, "Every drained body matches what its producer wrote.");
    }

    [Fact]
    public void Concurrent_producer_and_consumer_over_a_million_records()
    {
        using var ring = new ByteRing(16 * 1024);
        const int Total = 1_000_000;
        var checker = new SequenceChecker();
        Bounded.Run(() =>
        {
            var producer = new Thread(() =>
            {
                var random = new Random(7);
                byte[] payload = new byte[512];
                for (long i = 0; i < Total; i++)
                {
                    Span<byte> body = payload.AsSpan(0, 8 + random.Next(0, 200));
                    BitConverter.TryWriteBytes(body, i);
                    Payloads.Fill(body[8..], 1, i);
                    Assert.Equal(RingStatus.Success, ring.Append(body, millisecondsTimeout: 30_000));
                }
            });
            producer.Start();
            while (checker.Next < Total)
            {
                if (ring.Drain(ref checker) == 0)
                {
                    Thread.Yield();
                }
            }

            Assert.True(producer.Join(TimeSpan.FromSeconds(30)));
        });
        Assert.True(checker.AllIntact, "Every body the consumer read matches what the producer wrote.");
    }

    [Fact]
    public void Eight_producers_keep_their_own_order_with_nothing_lost_or_duplicated()
    {
        using var ring = new ByteRing(32 * 1024);
        const int Producers = 8;
        const int PerProducer = 100_000;
        var next = new long[Producers];
        bool intact = true;
        var done = new CountdownEvent(Producers);
        Bounded.Run(() =>
        {
            var threads = Enumerable.Range(0, Producers).Select(p => new Thread(() =>
            {
                Span<byte> body = stackalloc byte[12 + 48];
                for (long i = 0; i < PerProducer; i++)
                {
                    Span<byte> record = body[..(12 + (int)(i % 48))];
                    Payloads.FillTagged(record, p, i);
                    if (ring.Append(record, millisecondsTimeout: 30_000) != RingStatus.Success)
                    {
                        throw new InvalidOperationException("A blocking append on an open ring timed out.");
                    }
                }

                done.Signal();
            })).ToArray();
            foreach (Thread t in threads)
            {
                t.Start();
            }

            var handler = new PerProducerChecker(next);
            while (!done.IsSet || !ring.IsEmptyApproximately)
            {
                if (ring.Drain(ref handler) == 0)
                {
                    Thread.Yield();
                }
            }

            ring.Drain(ref handler);
            intact = handler.Intact;
            foreach (Thread t in threads)
            {
                Assert.True(t.Join(TimeSpan.FromSeconds(30)));
            }
        });

        Assert.True(intact, "Each producer's records arrive in its own order, bytes intact.");
        Assert.All(next, n => Assert.Equal(PerProducer, n));
    }

    [Fact]
    public void Unpublished_record_stops_the_drainer_exactly_there()
    {
        using var ring = new ByteRing(4096);
        Assert.Equal(RingStatus.Success, ring.TryAppend([1]));
        using var reserved = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var parked = new Thread(() =>
        {
            Assert.Equal(RingStatus.Success, ring.TryReserve(3, out RingReservation reservation));
            new byte[] { 2, 2, 2 }.CopyTo(reservation.Span);
            reserved.Set();
            Assert.True(release.Wait(TimeSpan.FromSeconds(30)), "The test releases the parked producer.");
            ring.Publish(reservation);
        });
        parked.Start();
        Assert.True(reserved.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal(RingStatus.Success, ring.TryAppend([3]));
        Assert.Equal(RingStatus.Success, ring.TryAppend([4]));

        var sink = new CollectingHandler();
        Assert.Equal(1, ring.Drain(ref sink)); // record 1 only: the parked reservation blocks 3 and 4
        Assert.Equal(0, ring.Drain(ref sink));
        Assert.Single(sink.Records);

        release.Set();
        Assert.True(parked.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(3, ring.Drain(ref sink));
        Assert.Equal(new byte[][] { [1], [2, 2, 2], [3], [4] }, sink.Records);
    }

    /// <summary>
    /// The flush thread's scan steps over a reservation still being written (its size is in the header from the claim
    /// on), so a slow producer delays only its own record; release still stops there, so space is given back in ring
    /// order. The two producers are two reservations made on this thread: a claim is all that makes one.
    /// </summary>
    [Fact]
    public void Read_over_reservations_passes_an_unpublished_record_and_release_stops_at_it()
    {
        using var ring = new ByteRing(4096);
        long start = ring.Head;
        Assert.Equal(RingStatus.Success, ring.TryReserve(5, out RingReservation slow)); // producer 1: reserved, not published
        Assert.Equal(RingStatus.Success, ring.TryReserve(3, out RingReservation quick)); // producer 2, behind it
        new byte[] { 2, 2, 2 }.CopyTo(quick.Span);
        ring.Publish(quick);

        long firstReserved = long.MaxValue;
        Assert.True(
            ring.TryReadOverReservations(start, ref firstReserved, out RingRecord seen),
            "The record published behind an unpublished reservation is readable: the reservation's claimed size says where it ends.");
        Assert.Equal([2, 2, 2], seen.Span.ToArray());
        Assert.True(firstReserved == start, $"The read reports the reservation it stepped over, at {start}; it reported {firstReserved}.");
        Assert.False(
            ring.TryReadOverReservations(seen.Next, ref firstReserved, out RingRecord end),
            "Past the last claim the space is zero (no State, no claimed size): the read stops there.");
        Assert.Equal(seen.Next, end.Position);

        Assert.False(ring.TryRead(start, out RingRecord stop), "The in-order read (release's) still stops at the unpublished record.");
        Assert.Equal(start, stop.Position);
        var sink = new CollectingHandler();
        Assert.Equal(0, ring.Drain(ref sink));
        Assert.True(ring.Head == start, "Nothing is released past a reservation still being written: its space and everything after it stay.");

        new byte[] { 1, 1, 1, 1, 1 }.CopyTo(slow.Span);
        ring.Publish(slow);
        firstReserved = long.MaxValue;
        Assert.True(ring.TryReadOverReservations(start, ref firstReserved, out RingRecord firstRead));
        Assert.True(ring.TryReadOverReservations(firstRead.Next, ref firstReserved, out RingRecord secondRead));
        Assert.Equal([1, 1, 1, 1, 1], firstRead.Span.ToArray());
        Assert.Equal([2, 2, 2], secondRead.Span.ToArray());
        Assert.True(firstReserved == long.MaxValue, "Once published, nothing is stepped over.");

        Assert.Equal(2, ring.Drain(ref sink));
        Assert.Equal(new byte[][] { [1, 1, 1, 1, 1], [2, 2, 2] }, sink.Records);
        Assert.True(ring.IsEmptyApproximately, "Both records are released, in ring order, once the first is published.");
    }

    [Fact]
    public void Blocking_append_times_out_as_full()
    {
        using var ring = new ByteRing(64);
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[56]));
        Assert.Equal(RingStatus.Full, ring.Append(new byte[8], millisecondsTimeout: 50));
    }

    [Fact]
    public void Blocking_append_proceeds_when_the_consumer_releases_space()
    {
        using var ring = new ByteRing(64);
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[56]));
        RingStatus status = RingStatus.Full;
        var blocked = new Thread(() => status = ring.Append([7], millisecondsTimeout: 30_000));
        blocked.Start();
        Thread.Sleep(100);
        var sink = new CollectingHandler();
        ring.Drain(ref sink);
        Assert.True(blocked.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(RingStatus.Success, status);
        ring.Drain(ref sink);
        Assert.Equal([7], sink.Records.Last());
    }

    /// <summary>
    /// The async wait for space follows the sync park's protocol: announce, try again, then await. A release before the
    /// announcement is seen by the try; one after it completes the task the waiter holds; Close completes it too.
    /// </summary>
    [Fact]
    public void Async_space_wait_sees_an_earlier_release_and_is_woken_by_a_later_release_and_by_close()
    {
        using var ring = new ByteRing(64);
        var sink = new CollectingHandler();
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[56])); // the whole ring

        // Released before the announcement: the try after it succeeds, nothing to await.
        Assert.Equal(RingStatus.Full, ring.TryAppend([1]));
        Assert.Equal(1, ring.Drain(ref sink));
        ring.BeginSpaceWait();
        try
        {
            Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[56]));
        }
        finally
        {
            ring.EndSpaceWait();
        }

        // Released after the announcement: the task completes, synchronously with the release.
        Task freed = ring.BeginSpaceWait();
        try
        {
            Assert.Equal(RingStatus.Full, ring.TryAppend([2]));
            Assert.False(freed.IsCompleted, "Nothing was released since the announcement: the waiter awaits.");
            Assert.Equal(1, ring.Drain(ref sink));
            Assert.True(freed.IsCompleted, "The release after the announcement completes the task the waiter holds: its wake-up is not lost.");
        }
        finally
        {
            ring.EndSpaceWait();
        }

        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[56]));

        // Closed while waiting: the task completes and the next try reports Closed.
        freed = ring.BeginSpaceWait();
        try
        {
            Assert.Equal(RingStatus.Full, ring.TryAppend([3]));
            Assert.False(freed.IsCompleted);
            ring.Close();
            Assert.True(freed.IsCompleted, "Close wakes async waiters, as it wakes parked producers.");
            Assert.Equal(RingStatus.Closed, ring.TryAppend([3]));
        }
        finally
        {
            ring.EndSpaceWait();
        }
    }

    internal struct CollectingHandler : IRingRecordHandler
    {
        public CollectingHandler()
        {
        }

        public List<byte[]> Records { get; } = [];

        public readonly void OnRecord(ReadOnlySpan<byte> body) => Records.Add(body.ToArray());
    }

    private struct SequenceChecker : IRingRecordHandler
    {
        public SequenceChecker()
        {
        }

        public long Next { get; private set; }

        public bool AllIntact { get; private set; } = true;

        public void OnRecord(ReadOnlySpan<byte> body)
        {
            long sequence = BitConverter.ToInt64(body);
            AllIntact &= sequence == Next && Payloads.Matches(body[8..], 1, sequence);
            Next++;
        }
    }

    private readonly struct PerProducerChecker(long[] next) : IRingRecordHandler
    {
        private readonly bool[] _intact = [true];

        public bool Intact => _intact[0];

        public void OnRecord(ReadOnlySpan<byte> body)
        {
            (int producer, long sequence) = Payloads.ReadTag(body);
            _intact[0] &= sequence == next[producer] && Payloads.TaggedIntact(body);
            next[producer]++;
        }
    }
}
