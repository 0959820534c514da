using Aletheia.Wal.Flush;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// Sync waits that give up (a timeout, a cancellation) on the watermark alone, with no flush thread: the test advances
/// it. The races between giving up and a release are pinned with <see cref="DurableWatermark.TestHookTimedOut"/>, which
/// runs on the waiting thread after its park timed out and before it takes itself out of the registry.
/// </summary>
/// <remarks>
/// Every test ends by draining the waiter pool: a waiter returned twice would come out twice, and one returned still
/// marked cancelled would fail its next wait.
/// </remarks>
public sealed class DurableWatermarkWaitLimitTests
{
    private static readonly Lsn Durable = new(10);
    private static readonly Lsn Next = new(11);

    /// <summary>More than the pool ever retains (1024): taking this many empties it.</summary>
    private const int MorePooledThanRetained = 1100;

    private const int ShortTimeoutMilliseconds = 30;

    [Fact]
    public void A_timed_out_wait_returns_false_and_leaves_no_waiter_for_a_later_advance()
    {
        var watermark = new DurableWatermark(Durable);
        Assert.False(watermark.Wait(Next, ShortTimeoutMilliseconds), "LSN 11 is not durable: the wait times out.");
        Assert.True(watermark.TestHookRegisteredWaiters == 0, "The timed-out wait took its waiter out of the registry.");
        Assert.False(watermark.Wait(Next, 0), "A zero timeout only checks: still not durable.");
        Assert.True(watermark.TestHookRegisteredWaiters == 0, "A zero timeout never registers.");

        watermark.Advance(Next); // finds nothing to release
        Assert.True(watermark.Wait(Next, 0), "Once durable, a zero timeout returns true.");
        Assert.True(watermark.Wait(Durable, ShortTimeoutMilliseconds), "An LSN durable already returns true at once.");
        AssertPoolHandsOutDistinctCleanWaiters(watermark);
    }

    [Fact]
    public void A_release_that_takes_the_waiter_just_as_its_wait_times_out_wakes_it_and_the_wait_returns_true()
    {
        var watermark = new DurableWatermark(Durable);
        int hookRuns = 0;
        watermark.TestHookTimedOut = () =>
        {
            hookRuns++;
            watermark.Advance(Next); // the release removes the waiter before the timed-out wait can
        };

        Assert.True(watermark.Wait(Next, ShortTimeoutMilliseconds), "The release took the waiter first: the wait reports it durable, not timed out.");
        Assert.True(hookRuns == 1, $"The park timed out once before the release; the hook ran {hookRuns} times.");
        Assert.True(watermark.TestHookRegisteredWaiters == 0, "Nothing is left registered.");
        watermark.TestHookTimedOut = null;
        AssertPoolHandsOutDistinctCleanWaiters(watermark);
    }

    [Fact]
    public void A_cancellation_that_takes_the_waiter_just_as_its_wait_times_out_ends_the_wait_cancelled()
    {
        var watermark = new DurableWatermark(Durable);
        using var cancellation = new CancellationTokenSource();
        watermark.TestHookTimedOut = cancellation.Cancel; // the callback runs here, removes the waiter and completes it

        var e = Assert.Throws<OperationCanceledException>(() => watermark.Wait(Next, ShortTimeoutMilliseconds, cancellation.Token));
        Assert.True(e.CancellationToken == cancellation.Token, "The exception carries the wait's token.");
        Assert.True(watermark.TestHookRegisteredWaiters == 0, "Nothing is left registered.");
        watermark.TestHookTimedOut = null;
        watermark.Advance(Next);
        AssertPoolHandsOutDistinctCleanWaiters(watermark);
    }

    [Fact]
    public void A_cancellation_after_a_release_took_the_waiter_changes_nothing_and_does_not_stick_to_the_pooled_waiter()
    {
        var watermark = new DurableWatermark(Durable);
        using var cancellation = new CancellationTokenSource();
        watermark.TestHookTimedOut = () =>
        {
            watermark.Advance(Next);  // the release owns the waiter now
            cancellation.Cancel();    // the callback finds it gone from the registry: it must complete nothing
        };

        Assert.True(watermark.Wait(Next, ShortTimeoutMilliseconds, cancellation.Token), "The release came first: the wait reports the record durable.");
        watermark.TestHookTimedOut = null;

        // The pool hands the same waiter out next (its fast slot): a cancellation mark left on it would end this wait
        // cancelled at registration instead of timing out.
        Assert.False(watermark.Wait(new Lsn(12), ShortTimeoutMilliseconds), "The next wait on the pooled waiter times out normally.");
        AssertPoolHandsOutDistinctCleanWaiters(watermark);
    }

    [Fact]
    public void A_cancelled_token_throws_without_registering_unless_the_record_is_durable_already()
    {
        var watermark = new DurableWatermark(Durable);
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        Assert.Throws<OperationCanceledException>(() => watermark.Wait(Next, Timeout.Infinite, cancellation.Token));
        Assert.True(watermark.TestHookRegisteredWaiters == 0, "A wait cancelled before it parks registers nothing.");
        Assert.True(watermark.Wait(Durable, Timeout.Infinite, cancellation.Token), "A durable record is reported durable, cancelled token or not.");
        AssertPoolHandsOutDistinctCleanWaiters(watermark);
    }

    [Fact]
    public void Cancelled_while_parked_the_wait_throws_and_a_later_advance_finds_nothing()
    {
        Bounded.Run(() =>
        {
            var watermark = new DurableWatermark(Durable);
            using var cancellation = new CancellationTokenSource();
            Exception? outcome = null;
            var waiter = new Thread(() =>
            {
                try
                {
                    watermark.Wait(Next, Timeout.Infinite, cancellation.Token);
                }
                catch (Exception e)
                {
                    outcome = e;
                }
            })
            { IsBackground = true, Name = "parked-waiter" };
            waiter.Start();
            SpinWait.SpinUntil(() => watermark.TestHookRegisteredWaiters == 1, TimeSpan.FromSeconds(30));
            Assert.True(watermark.TestHookRegisteredWaiters == 1, "The waiter parks: LSN 11 is not durable.");

            cancellation.Cancel();
            Assert.True(waiter.Join(TimeSpan.FromSeconds(30)), "The cancellation wakes the parked waiter.");
            Assert.True(outcome is OperationCanceledException oce && oce.CancellationToken == cancellation.Token,
                $"The parked wait ends with OperationCanceledException for its token, not {outcome?.GetType().Name ?? "a return"}.");
            Assert.True(watermark.TestHookRegisteredWaiters == 0, "The cancellation took the waiter out of the registry.");
            watermark.Advance(Next);
            AssertPoolHandsOutDistinctCleanWaiters(watermark);
        });
    }

    /// <summary>
    /// Waits that time out, are cancelled, or wait for good, while another thread advances one LSN at a time: every
    /// wait ends (no lost wake-up), a wait that returned true saw its LSN durable, a cancelled one had its token cancelled,
    /// and afterwards nothing is registered and every pooled waiter is distinct (none went back twice).
    /// </summary>
    [Fact]
    public void Waits_giving_up_while_releases_run_lose_no_wake_up_and_return_each_waiter_once()
    {
        const int Waiters = 4;
        const int Rounds = 300;
        var watermark = new DurableWatermark(Lsn.None);
        ulong last = Rounds;
        int stop = 0;
        var advancer = new Thread(() =>
        {
            var random = new Random(1);
            for (ulong lsn = 1; lsn <= last && Volatile.Read(ref stop) == 0; lsn++)
            {
                Thread.SpinWait(random.Next(100, 20_000)); // releases land before, during and after the waits' timeouts
                watermark.Advance(new Lsn(lsn));
                if (random.Next(8) == 0)
                {
                    Thread.Sleep(1);
                }
            }
        })
        { IsBackground = true, Name = "advancer" };

        int[] durable = new int[Waiters];
        int[] timedOut = new int[Waiters];
        int[] cancelled = new int[Waiters];
        advancer.Start();
        try
        {
            Bounded.Parallel(Waiters, index =>
            {
                var random = new Random(100 + index);
                using var cancellation = new CancellationTokenSource();
                for (int round = 1; round <= Rounds; round++)
                {
                    var lsn = new Lsn((ulong)round);
                    switch (round % 3)
                    {
                        case 0:
                            if (watermark.Wait(lsn, random.Next(1, 3)))
                            {
                                Assert.True(watermark.Durable >= lsn, $"A wait that returned true saw LSN {lsn} durable (durable: {watermark.Durable}).");
                                durable[index]++;
                            }
                            else
                            {
                                timedOut[index]++;
                            }

                            break;
                        case 1:
                            using (var token = new CancellationTokenSource())
                            {
                                token.CancelAfter(random.Next(0, 3));
                                try
                                {
                                    watermark.Wait(lsn, Timeout.Infinite, token.Token);
                                    Assert.True(watermark.Durable >= lsn, $"A wait that returned saw LSN {lsn} durable (durable: {watermark.Durable}).");
                                    durable[index]++;
                                }
                                catch (OperationCanceledException e)
                                {
                                    Assert.True(e.CancellationToken == token.Token && token.IsCancellationRequested, "Only a cancelled token ends a wait cancelled.");
                                    cancelled[index]++;
                                }
                            }

                            break;
                        default:
                            Assert.True(watermark.Wait(lsn, Timeout.Infinite, cancellation.Token), "A wait with no limit returns once its LSN is durable.");
                            Assert.True(watermark.Durable >= lsn, $"It saw LSN {lsn} durable (durable: {watermark.Durable}).");
                            durable[index]++;
                            break;
                    }
                }
            });
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            Assert.True(advancer.Join(TimeSpan.FromSeconds(60)), "The advancer ends.");
        }

        Assert.True(durable.Sum() + timedOut.Sum() + cancelled.Sum() == Waiters * Rounds, "Every wait ended exactly one way.");
        Assert.True(watermark.TestHookRegisteredWaiters == 0, "No wait left a waiter registered.");
        AssertPoolHandsOutDistinctCleanWaiters(watermark);
    }

    /// <summary>
    /// Empties the pool (and then some): every waiter it hands out is a distinct object, prepared clean. Disposes the
    /// watermark, which completes them, and gives them back.
    /// </summary>
    private static void AssertPoolHandsOutDistinctCleanWaiters(DurableWatermark watermark)
    {
        var taken = new List<DurableWaiter>(MorePooledThanRetained);
        try
        {
            for (int i = 0; i < MorePooledThanRetained; i++)
            {
                DurableWaiter waiter = watermark.TestHookRegisterUnparked(new Lsn(ulong.MaxValue), isAsync: false);
                Assert.False(waiter.CancelRequested, "A pooled waiter comes out without a cancellation mark.");
                Assert.False(waiter.WaitSignal(0), "A pooled waiter comes out unsignalled.");
                taken.Add(waiter);
            }

            int distinct = taken.Distinct(ReferenceEqualityComparer.Instance).Count();
            Assert.True(distinct == taken.Count, $"The pool handed out {taken.Count} waiters but only {distinct} distinct ones: a waiter went back twice.");
        }
        finally
        {
            watermark.Dispose(); // completes every registered waiter (disposed): each can go back to the pool
            foreach (DurableWaiter waiter in taken)
            {
                Assert.True(waiter.WaitSignal(0), "Dispose completed every registered waiter.");
                watermark.ReturnWaiter(waiter);
            }
        }
    }
}
