using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// What an in-place payload writer (<see cref="WriteAheadLog.Append{TState}"/>) may do while it holds its ring
/// reservation: block, even on another thread's durable append behind it in the same stripe.
/// </summary>
public sealed class InPlaceWriterTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// One stripe, so the durable append lands in the ring right behind the writer's reservation. The flush thread must
    /// step over the reservation (its size is known from the claim) to make the record behind it durable; a scan that
    /// stops at the first unpublished record never does, and the writer waits for good.
    /// </summary>
    [Fact]
    public void Writer_blocked_on_a_durable_append_behind_it_in_its_stripe_completes()
    {
        byte[] inPlace = Payloads.Make(1, 1, 300);
        byte[] durable = Payloads.Make(2, 1, 200);
        Lsn writerLsn = default;
        Lsn durableLsn = default;
        bool durableReturnedInsideWriter = false;
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(
                new WalOptions { Directory = _temp.Log(), StripeCount = 1, StripeCapacityBytes = 4096, MaxEntryBytes = 1024, SegmentSizeBytes = 1 << 20 });
            using var writerEntered = new ManualResetEventSlim();
            using var durableReturned = new ManualResetEventSlim();
            var appender = new Thread(() =>
            {
                // A failed assertion on this thread would crash the test host: wait bounded, and append either way (a
                // writer that never started fails the assertions on the main thread).
                writerEntered.Wait(TimeSpan.FromSeconds(30));
                durableLsn = log.AppendDurable(durable);
                durableReturned.Set();
            })
            { IsBackground = true, Name = "durable-appender" };
            appender.Start();

            writerLsn = log.Append(inPlace.Length, inPlace, (destination, payload) =>
            {
                writerEntered.Set();

                // Bounded, so the old code fails the assertion below instead of hanging the test host: with a scan that
                // stops here, the durable append behind this reservation never returns while we wait.
                durableReturnedInsideWriter = durableReturned.Wait(TimeSpan.FromSeconds(20));
                payload.CopyTo(destination);
            });

            Assert.True(appender.Join(TimeSpan.FromSeconds(30)), "The durable appender returns once the writer has published (at the latest).");
            log.Flush();
        }, TimeSpan.FromSeconds(60));

        Assert.True(
            durableReturnedInsideWriter,
            "AppendDurable behind a blocked in-place writer in the same stripe returned while the writer waited: the flush thread steps over a reservation that is still being written.");
        Assert.Equal(new Lsn(1), durableLsn); // the writer takes its LSN only after it returns
        Assert.Equal(new Lsn(2), writerLsn);
        var records = LogContents.ReadAll(_temp.Log());
        Assert.Equal([1UL, 2UL], records.Select(r => r.Lsn));
        Assert.True(records[0].Payload.AsSpan().SequenceEqual(durable), "LSN 1 reads back as the durable append's bytes.");
        Assert.True(records[1].Payload.AsSpan().SequenceEqual(inPlace), "LSN 2 reads back as the bytes the writer put in place.");
    }
}
