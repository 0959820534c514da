using Aletheia.Wal.Flush;
using Aletheia.Wal.Tests.Support;
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
        var heap = new WaiterHeap(initialCapacity: 2); // grows several times below
        WaiterOrderOracle.Of(heap).Run(
            random,
            steps: 20_000,
            nextTarget: () => (ulong)random.Next(1, 500), // many equal targets
            nextCut: () => (ulong)random.Next(0, 500));
    }
}
