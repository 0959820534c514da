using Aletheia.Wal.Flush;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// One release pass, run on the test thread over waiters that are registered but not parked: no woken thread takes a
/// cascade step, so what the pass itself woke is exact. A pass hands every ready async waiter to the thread pool and
/// wakes at most its budget of ready sync waiters, in batches of 16; a sync wake is spent only on a waiter it woke.
/// </summary>
public sealed class DurableWatermarkReleaseTests
{
    private static readonly Lsn DurableLsn = new(100);

    /// <summary>Where the sync waiters stand in registration order. The pass walks the registry from its newest end.</summary>
    public enum Placement
    {
        /// <summary>Registered before the async ones: the pass reaches them when its batch is already full.</summary>
        SyncFirst,

        /// <summary>Registered after the async ones: the pass reaches them first.</summary>
        SyncLast,

        /// <summary>One sync waiter after every few async ones.</summary>
        Interleaved,
    }

    [Theory]
    [InlineData(DurableWatermark.RootWakes, 16, 2, Placement.SyncFirst)]  // issue 10: the root pass woke 1, not 2
    [InlineData(DurableWatermark.RootWakes, 15, 2, Placement.SyncFirst)]  // the batch fills on the first sync waiter
    [InlineData(DurableWatermark.RootWakes, 16, 2, Placement.SyncLast)]
    [InlineData(DurableWatermark.RootWakes, 40, 6, Placement.Interleaved)]
    [InlineData(DurableWatermark.WakesPerStep, 16, 5, Placement.SyncFirst)]
    [InlineData(DurableWatermark.WakesPerStep, 33, 8, Placement.SyncFirst)]
    [InlineData(DurableWatermark.WakesPerStep, 0, 3, Placement.SyncFirst)]
    [InlineData(0, 16, 2, Placement.SyncFirst)]
    [InlineData(0, 16, 2, Placement.Interleaved)]
    [InlineData(int.MaxValue, 40, 20, Placement.SyncFirst)]               // the budget of a fault or a dispose
    public async Task A_release_pass_wakes_every_ready_async_waiter_and_exactly_its_budget_of_ready_sync_waiters(
        int budget, int asyncCount, int syncCount, Placement placement)
    {
        var watermark = new DurableWatermark(DurableLsn);
        var sync = new List<DurableWaiter>();
        var async = new List<(DurableWaiter Waiter, ValueTask Wait)>();
        try
        {
            // Not ready (beyond the durable LSN): registered first, so that the pass walks past them last.
            DurableWaiter laterSync = watermark.TestHookRegisterUnparked(new Lsn(DurableLsn.Value + 1), isAsync: false);
            sync.Add(laterSync);
            DurableWaiter laterAsync = watermark.TestHookRegisterUnparked(new Lsn(DurableLsn.Value + 1), isAsync: true);
            async.Add((laterAsync, new ValueTask(laterAsync, laterAsync.Version)));

            foreach (bool isAsync in Order(asyncCount, syncCount, placement))
            {
                DurableWaiter waiter = watermark.TestHookRegisterUnparked(new Lsn(DurableLsn.Value - 1), isAsync);
                if (isAsync)
                {
                    async.Add((waiter, new ValueTask(waiter, waiter.Version)));
                }
                else
                {
                    sync.Add(waiter);
                }
            }

            watermark.TestHookReleasePass(budget);

            // The pass completes every waiter it took before it returns: a taken sync waiter is signaled, a taken async
            // one is unregistered (its completion runs on the thread pool; awaited below).
            int syncWoken = sync.Count(w => w.WaitSignal(0));
            int asyncTaken = async.Count(a => !a.Waiter.IsRegistered);
            Assert.True(
                Math.Min(budget, syncCount) == syncWoken,
                $"With {syncCount} ready sync waiters and a budget of {budget}, the pass must wake min(budget, ready) = " +
                $"{Math.Min(budget, syncCount)} of them: a wake is spent only on a waiter it takes. It woke {syncWoken}.");
            Assert.True(
                asyncCount == asyncTaken,
                $"Every ready async waiter ({asyncCount}) costs the pass no wake, so it must take them all; it took {asyncTaken}.");
            Assert.False(laterSync.WaitSignal(0), "A sync waiter beyond the durable LSN is not ready: the pass must leave it parked.");
            Assert.True(laterAsync.IsRegistered, "An async waiter beyond the durable LSN is not ready: the pass must leave it registered.");
            Assert.True(
                sync.Count(w => w.IsRegistered) == 1 + syncCount - syncWoken,
                "Every sync waiter the pass did not wake must still be registered, so that a later pass can wake it.");
        }
        finally
        {
            // Dispose completes what the pass left (ready ones succeed, the others fail as disposed): every waiter goes
            // back to the pool and no await below can hang.
            watermark.Dispose();
            foreach (DurableWaiter waiter in sync)
            {
                Assert.True(waiter.WaitSignal((int)Bounded.Default.TotalMilliseconds), "Dispose completes every registered sync waiter.");
                watermark.ReturnWaiter(waiter);
            }

            foreach ((DurableWaiter waiter, ValueTask wait) in async)
            {
                bool ready = waiter.Target <= DurableLsn.Value;
                Task completion = wait.AsTask().WaitAsync(Bounded.Default); // GetResult returns the waiter to the pool
                if (ready)
                {
                    await completion;
                }
                else
                {
                    await Assert.ThrowsAsync<ObjectDisposedException>(() => completion);
                }
            }
        }
    }

    /// <summary>Registration order: true for an async waiter, false for a sync one.</summary>
    private static IEnumerable<bool> Order(int asyncCount, int syncCount, Placement placement)
    {
        switch (placement)
        {
            case Placement.SyncFirst:
                return Enumerable.Repeat(false, syncCount).Concat(Enumerable.Repeat(true, asyncCount));
            case Placement.SyncLast:
                return Enumerable.Repeat(true, asyncCount).Concat(Enumerable.Repeat(false, syncCount));
            default:
                var order = new List<bool>();
                int asyncLeft = asyncCount;
                for (int s = 0; s < syncCount; s++)
                {
                    int take = Math.Min(asyncLeft, (asyncCount / syncCount) + 1);
                    order.AddRange(Enumerable.Repeat(true, take));
                    asyncLeft -= take;
                    order.Add(false);
                }

                order.AddRange(Enumerable.Repeat(true, asyncLeft));
                return order;
        }
    }
}
