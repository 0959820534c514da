using Aletheia.Wal.Flush;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Stripes;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Stripes;

/// <summary>The behaviour aletheiadb's own stripe tests check (stripe.rs), one test each, on the C# stripe.</summary>
public sealed class StripeSeedTests
{
    [Fact]
    public void Stripe_creation()
    {
        using var stripe = new Stripe(0);
        Assert.Equal(0, stripe.Id);
        Assert.True(stripe.IsEmpty);
        Assert.False(stripe.IsClosed);
        Assert.Equal(Stripe.DefaultCapacityBytes, stripe.CapacityBytes);
    }

    [Fact]
    public void Stripe_with_custom_capacity_rounds_to_a_power_of_two()
    {
        using var stripe = new Stripe(5, 100);
        Assert.Equal(5, stripe.Id);
        Assert.Equal(128, stripe.CapacityBytes);
    }

    [Fact]
    public void Stripe_append_async()
    {
        using var stripe = new Stripe(0);
        Assert.Equal(RingStatus.Success, stripe.TryAppend([1, 2, 3], new LsnSequence(), out Lsn lsn));
        Assert.Equal(new Lsn(1), lsn);
        Assert.Equal(1, stripe.TotalAppends);
        Assert.Equal(3, stripe.TotalBytes);
        Assert.Equal(1, stripe.PendingCount);
    }

    [Fact]
    public void Stripe_append_sync()
    {
        using var watermark = new DurableWatermark(Lsn.None);
        using var stripe = new Stripe(0);
        Assert.Equal(RingStatus.Success, stripe.TryAppendSync([1, 2, 3, 4], new LsnSequence(), watermark, out DurableHandle handle));
        Assert.False(handle.IsComplete, "Nothing was drained, so nothing is durable.");
        Assert.Equal(1, stripe.TotalAppends);
        Assert.Equal(4, stripe.TotalBytes);
    }

    [Fact]
    public void Stripe_drain_returns_records_in_order()
    {
        using var stripe = new Stripe(0);
        var lsns = new LsnSequence();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(RingStatus.Success, stripe.TryAppend([(byte)i], lsns, out _));
        }

        Assert.Equal(5, stripe.PendingCount);
        var sink = new FrameCollector();
        Assert.Equal(5, stripe.Drain(ref sink));
        Assert.True(stripe.IsEmpty);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(new Lsn((ulong)i + 1), sink.Frames[i].Lsn);
            Assert.Equal([(byte)i], sink.Frames[i].Payload);
        }
    }

    [Fact]
    public void Stripe_close_refuses_appends()
    {
        using var stripe = new Stripe(0);
        stripe.Close();
        Assert.True(stripe.IsClosed);
        Assert.Equal(RingStatus.Closed, stripe.TryAppend([], new LsnSequence(), out _));
    }

    [Fact]
    public void Stripe_metrics()
    {
        using var stripe = new Stripe(42);
        var lsns = new LsnSequence();
        stripe.TryAppend([1, 2, 3], lsns, out _);
        stripe.TryAppend([4, 5], lsns, out _);
        Assert.Equal(new StripeMetrics(42, 2, 5, 2), stripe.GetMetrics());
    }

    [Fact]
    public void Stripe_concurrent_appends_from_four_threads()
    {
        using var stripe = new Stripe(0, 64 * 1024);
        var lsns = new LsnSequence();
        const int Threads = 4;
        const int PerThread = 100;
        Bounded.Parallel(Threads, t =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                Assert.Equal(RingStatus.Success, stripe.TryAppend([(byte)t], lsns, out _));
            }
        });
        Assert.Equal(Threads * PerThread, stripe.TotalAppends);
        Assert.Equal(Threads * PerThread, stripe.TotalBytes);
        Assert.Equal(new Lsn(Threads * PerThread), lsns.Last);
    }

    [Fact]
    public void Stripe_sync_completion()
    {
        using var watermark = new DurableWatermark(Lsn.None);
        using var stripe = new Stripe(0);
        Assert.Equal(RingStatus.Success, stripe.TryAppendSync([1], new LsnSequence(), watermark, out DurableHandle handle));
        var sink = new FrameCollector();
        Assert.Equal(1, stripe.Drain(ref sink));
        watermark.Advance(sink.Frames[0].Lsn); // the drainer reports the record durable
        Assert.True(handle.IsComplete);
        Assert.True(handle.Wait(millisecondsTimeout: 10_000));
    }

    [Fact]
    public void Stripe_sync_completion_wakes_a_parked_waiter()
    {
        using var watermark = new DurableWatermark(Lsn.None);
        using var stripe = new Stripe(0);
        Assert.Equal(RingStatus.Success, stripe.AppendSyncBlocking([1], new LsnSequence(), watermark, out DurableHandle handle, 10_000));
        bool completed = false;
        var waiter = new Thread(() => completed = handle.Wait(millisecondsTimeout: 30_000));
        waiter.Start();
        Thread.Sleep(100);
        var sink = new FrameCollector();
        stripe.Drain(ref sink);
        watermark.Advance(sink.Frames[0].Lsn);
        Assert.True(waiter.Join(TimeSpan.FromSeconds(30)), "Advance releases the parked waiter.");
        Assert.True(completed);
    }

    [Fact]
    public void Stripe_sync_error_notification()
    {
        using var watermark = new DurableWatermark(Lsn.None);
        using var stripe = new Stripe(0);
        Assert.Equal(RingStatus.Success, stripe.TryAppendSync([1], new LsnSequence(), watermark, out DurableHandle handle));
        var sink = new FrameCollector();
        stripe.Drain(ref sink);
        watermark.SetFaulted(new IOException("test error")); // the drainer reports a failure
        Assert.True(handle.IsComplete);
        var e = Assert.Throws<WalException>(() => handle.Wait(millisecondsTimeout: 10_000));
        Assert.Equal("test error", e.InnerException!.Message);
    }

    [Fact]
    public void Stripe_interleaved_append_and_drain()
    {
        using var stripe = new Stripe(0);
        var lsns = new LsnSequence();
        for (int cycle = 0; cycle < 5; cycle++)
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(RingStatus.Success, stripe.TryAppend([], lsns, out _));
            }

            var sink = new FrameCollector();
            Assert.Equal(3, stripe.Drain(ref sink));
            Assert.Equal((cycle + 1) * 3, stripe.TotalAppends);
        }
    }

    [Fact]
    public void Stripe_metrics_count_only_successful_appends_when_full()
    {
        using var stripe = new Stripe(0, 64); // two 1-byte records (32 ring bytes each) fill it
        var lsns = new LsnSequence();
        int successful = 0;
        for (int i = 0; i < 10; i++)
        {
            if (stripe.TryAppend([(byte)i], lsns, out _) == RingStatus.Success)
            {
                successful++;
            }
        }

        Assert.True(successful < 10, "Some appends must fail because the ring is full.");
        Assert.Equal(2, successful);
        Assert.Equal(successful, stripe.TotalAppends);
        Assert.Equal(new Lsn((ulong)successful), lsns.Last); // failed appends took no LSN
    }

    [Fact]
    public void Stripe_metrics_count_only_successful_appends_when_closed()
    {
        using var stripe = new Stripe(1, 10);
        var lsns = new LsnSequence();
        Assert.Equal(RingStatus.Success, stripe.TryAppend([1], lsns, out _));
        stripe.Close();
        Assert.Equal(RingStatus.Closed, stripe.AppendBlocking([2], lsns, out _, millisecondsTimeout: 10_000));
        Assert.Equal(1, stripe.TotalAppends);
        Assert.Equal(1, stripe.TotalBytes);
    }

    internal struct FrameCollector : IFrameHandler
    {
        public FrameCollector()
        {
        }

        public List<(Lsn Lsn, byte[] Payload)> Frames { get; } = [];

        public readonly void OnFrame(Lsn lsn, ReadOnlySpan<byte> payload) => Frames.Add((lsn, payload.ToArray()));
    }
}
