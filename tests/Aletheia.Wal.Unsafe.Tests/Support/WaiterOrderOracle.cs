using Aletheia.Wal.Flush;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// A registry of waiters (<see cref="WaiterHeap"/> or <see cref="WaiterQueue"/>: the same operations) against a plain
/// list as the oracle: random adds, removals of a given waiter, pops of the lowest and cuts (RemoveAbove). After every
/// step it holds exactly the oracle's waiters, its lowest target is the oracle's, and every entry's target is its waiter's.
/// </summary>
internal sealed record WaiterOrderOracle(
    string Name,
    Action<DurableWaiter> Add,
    Func<DurableWaiter, bool> Remove,
    Func<DurableWaiter> RemoveMin,
    Action<ulong, List<DurableWaiter>> RemoveAbove,
    Func<int> Count,
    Func<ulong> MinTarget,
    Func<bool> IsValid)
{
    public static WaiterOrderOracle Of(WaiterHeap heap) =>
        new("heap", heap.Add, heap.Remove, heap.RemoveMin, heap.RemoveAbove, () => heap.Count, () => heap.MinTarget, heap.IsValid);

    public static WaiterOrderOracle Of(WaiterQueue queue) =>
        new("queue", queue.Add, queue.Remove, queue.RemoveMin, queue.RemoveAbove, () => queue.Count, () => queue.MinTarget, queue.IsValid);

    /// <summary>
    /// <paramref name="steps"/> random operations drawn from <paramref name="random"/>: half adds (of a waiter for
    /// <paramref name="nextTarget"/>), a fifth removals, a fifth pops, a tenth cuts above <paramref name="nextCut"/>.
    /// </summary>
    public void Run(Random random, int steps, Func<ulong> nextTarget, Func<ulong> nextCut)
    {
        var watermark = new DurableWatermark(Lsn.None);
        var oracle = new List<DurableWaiter>();
        for (int step = 0; step < steps; step++)
        {
            int op = random.Next(10);
            if (op < 5 || oracle.Count == 0)
            {
                var waiter = new DurableWaiter(watermark);
                waiter.PrepareSync(nextTarget());
                Add(waiter);
                oracle.Add(waiter);
            }
            else if (op < 7)
            {
                DurableWaiter victim = oracle[random.Next(oracle.Count)];
                Assert.True(Remove(victim), $"A waiter in the {Name} is found and removed.");
                Assert.False(Remove(victim), $"A removed waiter is no longer in the {Name}.");
                oracle.Remove(victim);
            }
            else if (op < 9)
            {
                ulong lowest = oracle.Min(w => w.Target);
                DurableWaiter first = RemoveMin();
                Assert.Equal(lowest, first.Target);
                Assert.True(oracle.Remove(first), $"The first was a waiter of the {Name}.");
            }
            else
            {
                ulong cut = nextCut();
                var removed = new List<DurableWaiter>();
                RemoveAbove(cut, removed);
                DurableWaiter[] expected = oracle.Where(w => w.Target > cut).ToArray();
                Assert.Equal(expected.OrderBy(w => w.GetHashCode()), removed.OrderBy(w => w.GetHashCode()));
                oracle.RemoveAll(w => w.Target > cut);
            }

            Assert.Equal(oracle.Count, Count());
            Assert.True(IsValid(), $"Step {step}: the {Name}'s order or an entry is broken.");
            if (oracle.Count > 0)
            {
                Assert.Equal(oracle.Min(w => w.Target), MinTarget());
            }
        }
    }
}
