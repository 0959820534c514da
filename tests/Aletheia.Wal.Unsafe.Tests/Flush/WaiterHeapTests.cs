using Aletheia.Wal.Flush;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// The registry's heap against a plain list as the oracle: after every add, removal of a given waiter, pop of the top and cut
/// (RemoveAbove), the heap holds exactly the oracle's waiters, its top has the lowest target, and every entry's target
/// is its waiter's.
/// </summary>
public sealed class WaiterHeapTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_adds_removals_pops_and_cuts_keep_the_heap_exact(int seed)
    {
        var random = new Random(seed);
        var watermark = new DurableWatermark(Lsn.None);
        var heap = new WaiterHeap(initialCapacity: 2); // grows several times below
        var oracle = new List<DurableWaiter>();
        for (int step = 0; step < 20_000; step++)
        {
            int op = random.Next(10);
            if (op < 5 || oracle.Count == 0)
            {
                var waiter = new DurableWaiter(watermark);
                waiter.PrepareSync((ulong)random.Next(1, 500)); // many equal targets
                heap.Add(waiter);
                oracle.Add(waiter);
            }
            else if (op < 7)
            {
                DurableWaiter victim = oracle[random.Next(oracle.Count)];
                Assert.True(heap.Remove(victim), "A waiter in the heap is found and removed.");
                Assert.False(heap.Remove(victim), "A removed waiter is no longer in the heap.");
                oracle.Remove(victim);
            }
            else if (op < 9)
            {
                ulong lowest = oracle.Min(w => w.Target);
                DurableWaiter top = heap.RemoveMin();
                Assert.Equal(lowest, top.Target);
                Assert.True(oracle.Remove(top), "The top was a waiter of the heap.");
            }
            else
            {
                ulong cut = (ulong)random.Next(0, 500);
                var removed = new List<DurableWaiter>();
                heap.RemoveAbove(cut, removed);
                DurableWaiter[] expected = oracle.Where(w => w.Target > cut).ToArray();
                Assert.Equal(expected.OrderBy(w => w.GetHashCode()), removed.OrderBy(w => w.GetHashCode()));
                oracle.RemoveAll(w => w.Target > cut);
            }

            Assert.Equal(oracle.Count, heap.Count);
            Assert.True(heap.IsValid(), $"Step {step}: the heap order or an entry is broken.");
            if (oracle.Count > 0)
            {
                Assert.Equal(oracle.Min(w => w.Target), heap.MinTarget);
            }
        }
    }
}
