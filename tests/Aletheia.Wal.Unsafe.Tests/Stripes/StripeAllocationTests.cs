using Aletheia.Wal.Flush;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Stripes;
using Xunit;

namespace Aletheia.Wal.Tests.Stripes;

/// <summary>Zero bytes allocated on the appending thread, and in drain, after warm-up (ZeroLog's GcTester approach).</summary>
public sealed class StripeAllocationTests
{
    private const int Appends = 100_000;

    public static TheoryData<string> Kinds => ["TryAppend", "AppendBlocking", "TryAppendSync", "AppendSyncBlocking", "InPlace", "RingTryAppend"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Stripe_appends_and_drains_allocate_nothing(string kind)
    {
        using var watermark = new DurableWatermark(Lsn.None);
        using var stripe = new Stripe(0, 64 * 1024);
        var lsns = new LsnSequence();
        byte[] payload = new byte[64];
        var sink = new CountingHandler();

        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                RingStatus status = kind switch
                {
                    "TryAppend" => stripe.TryAppend(payload, lsns, out _),
                    "AppendBlocking" => stripe.AppendBlocking(payload, lsns, out _),
                    "TryAppendSync" => stripe.TryAppendSync(payload, lsns, watermark, out _),
                    "AppendSyncBlocking" => stripe.AppendSyncBlocking(payload, lsns, watermark, out _),
                    "InPlace" => stripe.AppendBlocking(64, (byte)i, static (span, b) => span.Fill(b), lsns, out _),
                    _ => stripe.Ring.TryAppend(payload),
                };
                if (status != RingStatus.Success)
                {
                    throw new InvalidOperationException($"Append failed: {status}");
                }

                if ((i & 255) == 255)
                {
                    if (kind == "RingTryAppend")
                    {
                        stripe.Ring.Drain(ref sink);
                    }
                    else
                    {
                        stripe.Drain(ref sink);
                    }
                }
            }
        }

        Run(10_000); // warm-up: tiering, lazily created objects

        // The least of three windows: an allocation per append or per drain shows in every window; the runtime's one-off
        // work on this thread (a tier-up or OSR step that the loaded machine delayed past the warm-up) in at most one.
        long allocated = long.MaxValue;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Run(Appends);
            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(allocated == 0, $"{kind}: {allocated} bytes allocated over {Appends} appends and their drains; the hot paths must allocate nothing.");
    }

    private struct CountingHandler : IFrameHandler, IRingRecordHandler
    {
        public long Count;

        public void OnFrame(Lsn lsn, ReadOnlySpan<byte> payload) => Count++;

        public void OnRecord(ReadOnlySpan<byte> body) => Count++;
    }
}
