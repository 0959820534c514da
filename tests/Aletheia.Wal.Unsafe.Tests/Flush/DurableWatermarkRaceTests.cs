using Aletheia.Wal.Flush;
using Aletheia.Wal.Stripes;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// Interleavings of the durable wait protocol pinned with the registry's lock held, each found by review: a release pass
/// of the wake cascade that read the durable LSN before a TruncateAfter; a cancellation, and a timeout, that land after
/// the record became durable but before a release pass reached the waiter.
/// </summary>
public sealed class DurableWatermarkRaceTests
{
    /// <summary>Until <paramref name="thread"/> blocks (on the registry's lock), then a little more.</summary>
    private static void WaitUntilBlocked(Thread thread)
    {
        Assert.True(SpinWait.SpinUntil(() => (thread.ThreadState & ThreadState.WaitSleepJoin) != 0, TimeSpan.FromSeconds(10)), "The thread blocks on the lock.");
        Thread.Sleep(50);
    }

    /// <summary>
    /// A release pass starts with LSN 12 durable and waits for the lock; a TruncateAfter(5) rewinds, and waits for LSNs 8
    /// and 9 (records given those LSNs again, not yet written) register. The pass must not complete them: it reads the
    /// durable LSN under the lock.
    /// </summary>
    [Fact]
    public void A_release_pass_that_began_before_a_rewind_completes_no_wait_above_it()
    {
        Bounded.Run(() =>
        {
            var lsns = new LsnSequence(12);
            var watermark = new DurableWatermark(new Lsn(12), lsns);
            DurableWaiter sync;
            ValueTask<Lsn> pending;
            var pass = new Thread(() => watermark.TestHookReleasePass(DurableWatermark.WakesPerStep));
            lock (watermark.TestHookGate)
            {
                pass.Start();
                WaitUntilBlocked(pass);
                lsns.Reset(5);
                watermark.Rewind(new Lsn(5));
                sync = watermark.TestHookRegisterUnparked(new Lsn(8), isAsync: false);
                DurableWaiter async = watermark.TestHookRegisterUnparked(new Lsn(9), isAsync: true);
                pending = new ValueTask<Lsn>(async, async.Version);
            }

            Assert.True(pass.Join(TimeSpan.FromSeconds(10)));
            Assert.False(sync.WaitSignal(0), "The wait for LSN 8 is not completed: LSN 8 is not durable.");
            Assert.False(pending.IsCompleted, "The wait for LSN 9 is not completed: LSN 9 is not durable.");
            Assert.Equal(2, watermark.TestHookRegisteredWaiters);

            watermark.Advance(new Lsn(9)); // written: now both complete, as durable
            Assert.True(sync.WaitSignal(10_000) && sync.Error is null);
            Task<Lsn> task = pending.AsTask();
            Assert.True(task.Wait(TimeSpan.FromSeconds(10)));
            Assert.Equal(new Lsn(9), task.Result);
            watermark.ReturnWaiter(sync);
        });
    }

    /// <summary>LSN 11 becomes durable, its release pass waits for the lock, and the wait's token is cancelled then: the wait reports durable.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_cancellation_after_the_record_became_durable_reports_it_durable(bool async)
    {
        Bounded.Run(() =>
        {
            var watermark = new DurableWatermark(new Lsn(10));
            using var cancel = new CancellationTokenSource();
            Exception? error = null;
            bool? returned = null;
            Thread? waiter = null;
            ValueTask<Lsn> pending = default;
            if (async)
            {
                pending = watermark.WaitAsync(new Lsn(11), cancel.Token);
            }
            else
            {
                waiter = new Thread(() => error = Record.Exception(() => returned = watermark.Wait(new Lsn(11), Timeout.Infinite, cancel.Token)));
                waiter.Start();
            }

            Assert.True(SpinWait.SpinUntil(() => watermark.TestHookRegisteredWaiters == 1, TimeSpan.FromSeconds(10)));
            var advancer = new Thread(() => watermark.Advance(new Lsn(11)));
            lock (watermark.TestHookGate)
            {
                advancer.Start();
                if (async)
                {
                    // LSN 11 stored as durable; the async release is queued to the thread pool, where it waits for the lock.
                    Assert.True(advancer.Join(TimeSpan.FromSeconds(10)), "Advance does not release async waiters itself.");
                }
                else
                {
                    WaitUntilBlocked(advancer); // LSN 11 stored as durable; its release pass waits for the lock
                }

                Assert.Equal(new Lsn(11), watermark.Durable);
                cancel.Cancel(); // the callback takes the lock (re-entrant here) and the waiter
            }

            Assert.True(advancer.Join(TimeSpan.FromSeconds(10)));
            if (async)
            {
                Task<Lsn> task = pending.AsTask();
                Assert.True(task.Wait(TimeSpan.FromSeconds(10)));
                Assert.Equal(new Lsn(11), task.Result);
            }
            else
            {
                Assert.True(waiter!.Join(TimeSpan.FromSeconds(10)));
                Assert.Null(error);
                Assert.True(returned);
            }
        });
    }

    /// <summary>
    /// LSN 11 becomes durable while the two waiters the flush thread wakes itself have not run their cascade step; a third
    /// waiter's timeout passes meanwhile: it reports durable, not a timeout.
    /// </summary>
    [Fact]
    public void A_timeout_that_passes_after_the_record_became_durable_reports_it_durable()
    {
        Bounded.Run(() =>
        {
            var watermark = new DurableWatermark(new Lsn(10));
            bool result = false;
            var waiter = new Thread(() => result = watermark.Wait(new Lsn(11), 300));
            waiter.Start();
            Assert.True(SpinWait.SpinUntil(() => watermark.TestHookRegisteredWaiters == 1, TimeSpan.FromSeconds(10)));
            DurableWaiter a = watermark.TestHookRegisterUnparked(new Lsn(11), isAsync: false); // woken, not yet scheduled
            DurableWaiter b = watermark.TestHookRegisterUnparked(new Lsn(11), isAsync: false);
            watermark.Advance(new Lsn(11)); // its own wakes: a and b, which never take their cascade step here
            Assert.True(waiter.Join(TimeSpan.FromSeconds(10)));
            Assert.True(result, "LSN 11 was durable long before the timeout passed.");
            Assert.True(a.WaitSignal(0) && b.WaitSignal(0));
            watermark.ReturnWaiter(a);
            watermark.ReturnWaiter(b);
        });
    }
}
