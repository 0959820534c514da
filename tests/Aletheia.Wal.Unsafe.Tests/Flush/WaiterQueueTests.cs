using Aletheia.Wal.Flush;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// The registry's queue (a run in target order beside a heap) against a plain list as the oracle: after every add,
/// removal of a given waiter, pop of the first and cut (RemoveAbove), it holds exactly the oracle's waiters, its first
/// has the lowest target, and every entry's target is its waiter's. Targets mostly rise, as LSNs do, with some below
/// the run's end, so that both parts and the choice between them are exercised.
/// </summary>
public sealed class WaiterQueueTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_adds_removals_pops_and_cuts_keep_the_queue_exact(int seed)
    {
        var random = new Random(seed);
        var queue = new WaiterQueue(initialCapacity: 2); // grows several times below, with the ring wrapped
        ulong next = 1;
        WaiterOrderOracle.Of(queue).Run(
            random,
            steps: 20_000,
            nextTarget: () =>
            {
                // Rising targets, repeated ones, and one in five below the latest (out of order).
                next += (ulong)random.Next(0, 3);
                return random.Next(5) == 0 ? next - Math.Min(next - 1, (ulong)random.Next(1, 50)) : next;
            },
            nextCut: () => next - Math.Min(next, (ulong)random.Next(0, 100)));
    }

    [Fact]
    public void Waiters_that_register_in_target_order_never_reach_the_heap()
    {
        // The steady state of async durable appends: each resumed continuation waits for a higher LSN than the last,
        // while the release takes the lowest ones. 10,000 rounds over a ring of 256 wrap it many times.
        var watermark = new DurableWatermark(Lsn.None);
        var queue = new WaiterQueue(initialCapacity: 256);
        ulong target = 0;
        for (int i = 0; i < 200; i++)
        {
            queue.Add(Waiter(watermark, ++target));
        }

        for (ulong expected = 1; expected <= 10_000; expected++)
        {
            Assert.Equal(expected, queue.RemoveMin().Target);
            queue.Add(Waiter(watermark, ++target));
        }

        Assert.Equal(200, queue.Count);
        Assert.Equal(0, queue.OutOfOrder);
        Assert.True(queue.IsValid(), "The run is in order.");
    }

    private static DurableWaiter Waiter(DurableWatermark watermark, ulong target)
    {
        var waiter = new DurableWaiter(watermark);
        waiter.PrepareSync(target);
        return waiter;
    }
}
