using Aletheia.Wal.Flush;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// Review of the registry's queues as the watermark uses them: waiters registered out of target order (so that each
/// kind's queue holds some in its run and some in its heap) are released exactly when their LSN is durable, never left
/// behind a higher one; a cut (Rewind) fails exactly the waits above it in both parts and the queue takes the LSNs
/// handed out again; cancellations at the run's front, middle and end and in the heap take out exactly their waits.
/// </summary>
public sealed class DurableWatermarkQueueReviewTests : IDisposable
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// 64 sync and 64 async waits for LSNs 1 to 64, registered in a shuffled order, kinds mixed; the durable LSN then
    /// rises in random steps, each followed by a release pass. After each step every wait at or below the durable LSN
    /// has completed as durable, and every wait above it is still registered and not completed.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Waits_registered_out_of_order_are_released_exactly_when_their_lsn_is_durable(int seed)
    {
        Bounded.Run(() =>
        {
            const int Lsns = 64;
            var random = new Random(seed);
            var watermark = new DurableWatermark(Lsn.None);
            var sync = new List<DurableWaiter>();
            var async = new List<(ulong Target, DurableWaiter Waiter, Task Task)>();
            foreach ((ulong target, bool isAsync) in Shuffled(random, Lsns))
            {
                DurableWaiter waiter = watermark.TestHookRegisterUnparked(new Lsn(target), isAsync);
                if (isAsync)
                {
                    async.Add((target, waiter, new ValueTask(waiter, waiter.Version).AsTask()));
                }
                else
                {
                    sync.Add(waiter);
                }
            }

            Assert.Equal(2 * Lsns, watermark.TestHookRegisteredWaiters);
            ulong durable = 0;
            while (durable < Lsns)
            {
                durable = Math.Min(Lsns, durable + (ulong)random.Next(1, 9));
                watermark.Advance(new Lsn(durable));
                watermark.TestHookReleasePass(int.MaxValue); // every ready sync waiter (Advance itself wakes two)
                foreach (DurableWaiter waiter in sync.Where(w => w.Target <= durable).ToList())
                {
                    Assert.True(waiter.WaitSignal(10_000), $"The sync wait for LSN {waiter.Target} is woken once LSN {durable} is durable.");
                    Assert.Null(waiter.Error);
                    sync.Remove(waiter);
                    watermark.ReturnWaiter(waiter);
                }

                foreach ((ulong target, DurableWaiter waiter, Task task) in async.Where(a => a.Target <= durable).ToList())
                {
                    Assert.True(task.Wait(Long), $"The async wait for LSN {target} completes once LSN {durable} is durable.");
                    async.Remove((target, waiter, task));
                }

                foreach (DurableWaiter waiter in sync)
                {
                    Assert.True(waiter.IsRegistered && !waiter.WaitSignal(0), $"The sync wait for LSN {waiter.Target} stays parked while LSN {durable} is durable.");
                }

                foreach ((ulong target, DurableWaiter waiter, Task task) in async)
                {
                    Assert.True(waiter.IsRegistered && !task.IsCompleted, $"The async wait for LSN {target} stays pending while LSN {durable} is durable.");
                }

                Assert.Equal(sync.Count + async.Count, watermark.TestHookRegisteredWaiters);
                Assert.Equal(2 * (Lsns - (int)durable), sync.Count + async.Count);
            }
        });
    }

    /// <summary>
    /// Waits for LSNs 1 to 40 of both kinds, registered shuffled; LSN 10 becomes durable, then TruncateAfter(25) rewinds.
    /// Exactly the waits for 26 to 40 fail with <see cref="WalTruncatedException"/> naming their LSN (from the run and
    /// from the heap of each kind); 11 to 25 stay registered. New waits for 26 to 30 (the LSNs handed out again) then
    /// register, and LSN 30 becoming durable completes every wait left.
    /// </summary>
    [Fact]
    public void A_cut_fails_exactly_the_waits_above_it_in_the_run_and_the_heap_and_the_queue_takes_the_lsns_given_again()
    {
        Bounded.Run(() =>
        {
            var random = new Random(7);
            var watermark = new DurableWatermark(Lsn.None);
            var sync = new List<(ulong Target, DurableWaiter Waiter)>();
            var async = new List<(ulong Target, Task Task)>();
            void Register(ulong target, bool isAsync)
            {
                DurableWaiter waiter = watermark.TestHookRegisterUnparked(new Lsn(target), isAsync);
                if (isAsync)
                {
                    async.Add((target, new ValueTask(waiter, waiter.Version).AsTask()));
                }
                else
                {
                    sync.Add((target, waiter));
                }
            }

            foreach ((ulong target, bool isAsync) in Shuffled(random, 40))
            {
                Register(target, isAsync);
            }

            watermark.Advance(new Lsn(10));
            watermark.TestHookReleasePass(int.MaxValue);
            foreach ((ulong target, DurableWaiter waiter) in sync.Where(s => s.Target <= 10).ToList())
            {
                Assert.True(waiter.WaitSignal(10_000) && waiter.Error is null, $"The sync wait for LSN {target} completes as durable.");
                watermark.ReturnWaiter(waiter);
                sync.Remove((target, waiter));
            }

            foreach ((ulong target, Task task) in async.Where(a => a.Target <= 10).ToList())
            {
                Assert.True(task.Wait(Long), $"The async wait for LSN {target} completes as durable.");
                async.Remove((target, task));
            }

            watermark.Rewind(new Lsn(25));
            Assert.Equal(2 * 15, watermark.TestHookRegisteredWaiters); // 11 to 25 of each kind
            foreach ((ulong target, DurableWaiter waiter) in sync.Where(s => s.Target > 25).ToList())
            {
                Assert.True(waiter.WaitSignal(0), $"The cut completed the sync wait for LSN {target}.");
                var error = Assert.IsType<WalTruncatedException>(waiter.Error);
                Assert.Equal(new Lsn(target), error.Lsn);
                Assert.Contains("dropped by TruncateAfter(25)", error.Message, StringComparison.Ordinal);
                watermark.ReturnWaiter(waiter);
                sync.Remove((target, waiter));
            }

            foreach ((ulong target, Task task) in async.Where(a => a.Target > 25).ToList())
            {
                Assert.True(SpinWait.SpinUntil(() => task.IsCompleted, Long), $"The cut completed the async wait for LSN {target}.");
                var error = Assert.IsType<WalTruncatedException>(task.Exception!.InnerException);
                Assert.Equal(new Lsn(target), error.Lsn);
                async.Remove((target, task));
            }

            Assert.True(sync.All(s => s.Target is > 10 and <= 25 && !s.Waiter.WaitSignal(0)), "The sync waits for 11 to 25 stay parked.");
            Assert.True(async.All(a => a.Target is > 10 and <= 25 && !a.Task.IsCompleted), "The async waits for 11 to 25 stay pending.");

            // LSNs 26 to 30 are handed out again; their waits register after the cut, in order, into the run.
            for (ulong target = 26; target <= 30; target++)
            {
                Register(target, isAsync: target % 2 == 0);
            }

            Assert.Equal(30 + 5, watermark.TestHookRegisteredWaiters);
            watermark.Advance(new Lsn(30));
            watermark.TestHookReleasePass(int.MaxValue);
            foreach ((ulong target, DurableWaiter waiter) in sync)
            {
                Assert.True(waiter.WaitSignal(10_000) && waiter.Error is null, $"The sync wait for LSN {target} completes as durable.");
                watermark.ReturnWaiter(waiter);
            }

            foreach ((ulong target, Task task) in async)
            {
                Assert.True(task.Wait(Long), $"The async wait for LSN {target} completes as durable.");
            }

            Assert.Equal(0, watermark.TestHookRegisteredWaiters);
        });
    }

    /// <summary>
    /// Async waits for LSNs 1 to 64: 1 to 48 and 60 to 64 register in order (the run), 49 to 59 after them (the heap).
    /// Cancelling the waits for 1 (the run's front), 10 to 20 (its middle), 64 (its end) and 50 to 52 (the heap) cancels
    /// exactly those; the 48 others stay pending and complete as durable once LSN 64 is.
    /// </summary>
    [Fact]
    public void Cancellations_at_the_front_middle_and_end_of_the_run_and_in_the_heap_take_out_exactly_their_waits()
    {
        Bounded.Run(() =>
        {
            var watermark = new DurableWatermark(Lsn.None);
            var sources = new Dictionary<ulong, CancellationTokenSource>();
            var tasks = new Dictionary<ulong, Task>();
            IEnumerable<ulong> order = Range(1, 48).Concat(Range(60, 64)).Concat(Range(49, 59));
            foreach (ulong target in order)
            {
                sources[target] = new CancellationTokenSource();
                tasks[target] = watermark.WaitWithoutResultAsync(new Lsn(target), sources[target].Token).AsTask();
            }

            Assert.Equal(64, watermark.TestHookRegisteredWaiters);
            ulong[] cancelled = [1, .. Range(10, 20), 64, 50, 51, 52];
            foreach (ulong target in cancelled)
            {
                sources[target].Cancel();
            }

            foreach (ulong target in cancelled)
            {
                Assert.True(SpinWait.SpinUntil(() => tasks[target].IsCompleted, Long), $"The cancelled wait for LSN {target} completes.");
                Assert.True(tasks[target].IsCanceled, $"The wait for LSN {target} is cancelled: {tasks[target].Status}.");
            }

            Assert.Equal(64 - cancelled.Length, watermark.TestHookRegisteredWaiters);
            Assert.True(tasks.Where(t => !cancelled.Contains(t.Key)).All(t => !t.Value.IsCompleted), "Every wait not cancelled stays pending.");

            watermark.Advance(new Lsn(63));
            foreach ((ulong target, Task task) in tasks.Where(t => !cancelled.Contains(t.Key)))
            {
                Assert.True(task.Wait(Long), $"The wait for LSN {target} completes once LSN 63 is durable.");
            }

            Assert.Equal(0, watermark.TestHookRegisteredWaiters);
            foreach (CancellationTokenSource source in sources.Values)
            {
                source.Dispose();
            }
        });
    }

    /// <summary>
    /// Through the log: with the flush thread held in a write, 2,000 records are appended; four threads then wait
    /// asynchronously for all 2,000 LSNs, each for its own shuffled quarter (so waits register out of order, from several
    /// threads at once, into both parts of the queue), four threads wait synchronously for older LSNs, and two make
    /// durable appends of their own. Once the write is released every one of the 2,006 waits completes as durable and
    /// nothing stays registered.
    /// </summary>
    [Fact]
    public void Waits_of_many_threads_registered_out_of_order_on_a_held_log_all_complete_once_it_writes()
    {
        Bounded.Run(() =>
        {
            const int Records = 2_000;
            var storage = new FaultyStorage();
            using var held = new HeldWrites(storage);
            using WriteAheadLog log = WriteAheadLog.Open(
                new WalOptions { Directory = _temp.Log(), StripeCount = 2, StripeCapacityBytes = 256 * 1024, SegmentSizeBytes = 1 << 20 },
                storage);
            log.AppendDurable([0]);
            held.Hold();
            Lsn first = log.Append([1]);
            held.WaitUntilInWrite();
            for (int i = 1; i < Records; i++)
            {
                log.Append([2]);
            }

            ulong[] lsns = Range(first.Value, first.Value + Records - 1).ToArray();
            new Random(11).Shuffle(lsns);
            var asyncWaits = new Task[4][];
            Thread[] registrars = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                asyncWaits[t] = lsns.Skip(t * (Records / 4)).Take(Records / 4)
                    .Select(lsn => log.WaitForDurableAsync(new Lsn(lsn)).AsTask()).ToArray();
            })).ToArray();
            int syncReturned = 0;
            Thread[] syncWaiters = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                if (log.WaitForDurable(new Lsn(lsns[t * 7]), Long))
                {
                    Interlocked.Increment(ref syncReturned);
                }
            })).ToArray();
            foreach (Thread thread in registrars.Concat(syncWaiters))
            {
                thread.Start();
            }

            Task<Lsn>[] appends = [.. Enumerable.Range(0, 2).Select(_ => log.AppendDurableAsync(new byte[] { 3 }).AsTask())];
            Assert.True(registrars.All(r => r.Join(Long)), "The registering threads return (their waits are pending).");
            Assert.True(
                SpinWait.SpinUntil(() => log.TestHookRegisteredWaiters == Records + 4 + 2, Long),
                $"Every wait registers while the write is held: {log.TestHookRegisteredWaiters} of {Records + 4 + 2}.");

            held.Release();
            Assert.True(Task.WaitAll(asyncWaits.SelectMany(w => w).ToArray(), Long), "Every async wait completes once the records are written.");
            Assert.True(Task.WaitAll(appends, Long), "The durable appends complete.");
            Assert.True(syncWaiters.All(w => w.Join(Long)), "The sync waiters return.");
            Assert.Equal(4, syncReturned);
            Assert.True(appends.All(a => a.Result > new Lsn(first.Value + Records - 1)), "The durable appends took LSNs after the 2,000 records.");
            Assert.Equal(0, log.TestHookRegisteredWaiters);
        });
    }

    private static IEnumerable<ulong> Range(ulong first, ulong last)
    {
        for (ulong target = first; target <= last; target++)
        {
            yield return target;
        }
    }

    /// <summary>A sync and an async wait for each LSN 1 to <paramref name="lsns"/>, in a shuffled order.</summary>
    private static (ulong Target, bool IsAsync)[] Shuffled(Random random, int lsns)
    {
        (ulong, bool)[] waits = Range(1, (ulong)lsns).SelectMany(t => new[] { (t, false), (t, true) }).ToArray();
        random.Shuffle(waits);
        return waits;
    }
}
