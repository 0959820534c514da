using System.Diagnostics;
using Aletheia.Wal.Flush;
using Xunit;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// Review of the registry's queue (a ring of waiters in target order, the run, beside a heap for the rest): every
/// sequence of operations of a small queue against a list as the oracle, in every position of the ring; what the queue
/// keeps alive after a removal; what it allocates in steady state; and what a cancellation costs where the waiter stands.
/// </summary>
public sealed class WaiterQueueReviewTests
{
    /// <summary>Targets of the exhaustive walk: few, so that equal targets, ties between the run and the heap, and cuts at every place occur.</summary>
    private static readonly ulong[] Targets = [1, 2, 3];

    /// <summary>Cuts of the exhaustive walk: below every target, between each two, and above them all.</summary>
    private static readonly ulong[] Cuts = [0, 1, 2, 3];

    /// <summary>
    /// Where the ring stands before a walk: (waiters added, then taken from the front). The queue starts with a ring of 2:
    /// no prefix leaves the head at 0; (1, 1) at 1, so the second add wraps and the third grows a wrapped ring; (3, 3)
    /// grows it to 4 and leaves the head at 3; (3, 2) leaves one waiter (target 0, below every other) at the run's front.
    /// The last column is the number of sequences the walk must visit, counted apart (a memoized count over the multiset
    /// of targets, in Python): from an empty queue, and from one holding a waiter.
    /// </summary>
    public static TheoryData<int, int, long> RingPositions => new()
    {
        { 0, 0, 863_354 },
        { 1, 1, 863_354 },
        { 3, 3, 863_354 },
        { 3, 2, 4_084_913 },
    };

    /// <summary>
    /// Every sequence of 7 operations (add with target 1, 2 or 3; take the first; remove any waiter in it; cut above 0, 1,
    /// 2 or 3), from each ring position: after each operation the queue holds exactly the oracle's waiters, its first
    /// target is the oracle's lowest, the first taken has the lowest target, a removal finds its waiter once, a cut
    /// returns exactly the waiters above it; at the end, taking the first until it is empty yields the oracle's
    /// waiters in target order.
    /// </summary>
    [Theory]
    [MemberData(nameof(RingPositions))]
    public void Every_short_sequence_of_operations_from_every_ring_position_matches_the_oracle(int prefixAdds, int prefixTakes, long expectedSequences)
    {
        const int Depth = 7;
        var watermark = new DurableWatermark(Lsn.None);
        var waiters = new DurableWaiter[prefixAdds + Depth];
        for (int i = 0; i < waiters.Length; i++)
        {
            waiters[i] = new DurableWaiter(watermark);
        }

        var ops = new List<Op>(Depth);
        long sequences = 0;
        Walk();
        Assert.True(expectedSequences == sequences, $"The walk visits every sequence of {Depth} operations, {expectedSequences}; it visited {sequences}.");

        void Walk()
        {
            if (ops.Count == Depth)
            {
                Replay(prefixAdds, prefixTakes, ops, waiters);
                sequences++;
                return;
            }

            // The oracle's size after the prefix and the operations so far decides which removals exist.
            int count = SizeAfter(prefixAdds - prefixTakes, ops);
            foreach (ulong target in Targets)
            {
                Recurse(new Op(OpKind.Add, target));
            }

            if (count == 0)
            {
                return;
            }

            Recurse(new Op(OpKind.RemoveMin, 0));
            for (int victim = 0; victim < count; victim++)
            {
                Recurse(new Op(OpKind.Remove, (ulong)victim));
            }

            foreach (ulong cut in Cuts)
            {
                Recurse(new Op(OpKind.RemoveAbove, cut));
            }
        }

        void Recurse(Op op)
        {
            ops.Add(op);
            Walk();
            ops.RemoveAt(ops.Count - 1);
        }
    }

    /// <summary>
    /// A waiter taken out of the queue, by each way out (first taken, removed at the run's front, middle and end, removed
    /// from the heap, cut from the run and from the heap), is no longer reachable from it: the queue kept alive, the
    /// collector frees every one.
    /// </summary>
    [Fact]
    public void A_queue_keeps_no_waiter_alive_after_it_left()
    {
        var watermark = new DurableWatermark(Lsn.None);
        var queue = new WaiterQueue(initialCapacity: 4);
        WeakReference[] left = FillAndEmpty(watermark, queue);
        Assert.Equal(0, queue.Count);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        int alive = left.Count(w => w.IsAlive);
        Assert.True(alive == 0, $"{alive} of {left.Length} waiters that left the queue are still reachable: a slot of the run or the heap kept its reference.");
        GC.KeepAlive(queue);
    }

    /// <summary>
    /// Steady state of a registry with waits in flight, some out of order, some cancelled, some cut: once the run and the
    /// heap have grown to the most waiters held at once, adding, taking, removing and cutting allocate nothing.
    /// </summary>
    [Fact]
    public void Steady_state_adds_takes_removals_and_cuts_allocate_nothing()
    {
        var watermark = new DurableWatermark(Lsn.None);
        var queue = new WaiterQueue(initialCapacity: 2);
        DurableWaiter[] waiters = Enumerable.Range(0, 512).Select(_ => new DurableWaiter(watermark)).ToArray();
        var cut = new List<DurableWaiter>(waiters.Length);
        ulong next = 0;
        Round(); // grows the run, the heap and the cut list to what a round needs
        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 50; round++)
        {
            Round();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"50 rounds of 512 adds with removals and cuts allocated {allocated} bytes: the ring, the heap and the cut list had reached their size.");

        void Round()
        {
            // 512 waits in flight: rising targets, every eighth below the run's end (to the heap); every fifth removed
            // (a cancellation), the lower half taken from the front, and the rest cut.
            for (int i = 0; i < waiters.Length; i++)
            {
                next += 2;
                waiters[i].PrepareSync(i % 8 == 7 ? next - 9 : next);
                queue.Add(waiters[i]);
            }

            for (int i = 0; i < waiters.Length; i += 5)
            {
                queue.Remove(waiters[i]);
            }

            ulong middle = next - (ulong)waiters.Length;
            while (queue.Count > 0 && queue.MinTarget <= middle)
            {
                queue.RemoveMin();
            }

            cut.Clear();
            queue.RemoveAbove(0, cut);
        }
    }

    /// <summary>
    /// A storm of timeouts: 65,536 async waits in flight (a stalled disk under an engine that gives each request a
    /// deadline), cancelled in the order they registered, which is the run's order: each removal is at the run's front.
    /// A removal there must not move the run. The heap this queue replaced took all 65,536 out in about 7 ms (one sift
    /// each); closing the gap from the end moved the whole run for each one, 2^31 entries in all, about 7 s, with the
    /// registry's lock held 110 us per cancellation.
    /// </summary>
    [Fact]
    public void Cancelling_waits_in_registration_order_takes_each_out_without_moving_the_run()
    {
        const int InFlight = 65_536;
        var watermark = new DurableWatermark(Lsn.None);
        var queue = new WaiterQueue(initialCapacity: 256);
        var waiters = new DurableWaiter[InFlight];
        for (int i = 0; i < InFlight; i++)
        {
            waiters[i] = new DurableWaiter(watermark);
            waiters[i].PrepareSync((ulong)i + 1);
            queue.Add(waiters[i]);
        }

        Assert.Equal(0, queue.OutOfOrder); // all in the run

        // A bound 100 times what O(log n) per removal needs here, and 7 times below what the quadratic one takes, which
        // is stopped there rather than run to the end.
        TimeSpan limit = TimeSpan.FromSeconds(1);
        var elapsed = Stopwatch.StartNew();
        for (int i = 0; i < InFlight; i++)
        {
            Assert.True(queue.Remove(waiters[i]), "A registered waiter is found.");
            if ((i & 1023) == 1023 && elapsed.Elapsed > limit)
            {
                Assert.Fail($"Removing the run's first waiter, {i + 1} times out of {InFlight}, took {elapsed.Elapsed.TotalMilliseconds:F0} ms: each removal moved the rest of the run.");
            }
        }

        Assert.Equal(0, queue.Count);
    }

    /// <summary>
    /// The other common removal: a wait that registered and, re-checking, found its LSN durable takes itself back (Register)
    /// while thousands of older waits are in flight; it is the run's last waiter. 20,000 such returns with 65,536 waits
    /// in flight: a search from the run's front reads the whole run each time (about 75 us each, 1.5 s in all).
    /// </summary>
    [Fact]
    public void A_wait_that_takes_itself_back_at_the_run_end_is_found_without_reading_the_run()
    {
        const int InFlight = 65_536;
        const int Returns = 20_000;
        var watermark = new DurableWatermark(Lsn.None);
        var queue = new WaiterQueue(initialCapacity: 256);
        for (int i = 0; i < InFlight; i++)
        {
            var waiter = new DurableWaiter(watermark);
            waiter.PrepareSync((ulong)i + 1);
            queue.Add(waiter);
        }

        var newest = new DurableWaiter(watermark);
        TimeSpan limit = TimeSpan.FromMilliseconds(500);
        var elapsed = Stopwatch.StartNew();
        for (int i = 0; i < Returns; i++)
        {
            newest.PrepareSync(InFlight + 1 + (ulong)i);
            queue.Add(newest);
            Assert.True(queue.Remove(newest), "The waiter just added is found.");
            if ((i & 255) == 255 && elapsed.Elapsed > limit)
            {
                Assert.Fail($"Taking the run's last waiter back, {i + 1} times out of {Returns}, took {elapsed.Elapsed.TotalMilliseconds:F0} ms: each search read the run from its front.");
            }
        }

        Assert.Equal(InFlight, queue.Count);
        Assert.Equal(0, queue.OutOfOrder);
    }

    private static WeakReference[] FillAndEmpty(DurableWatermark watermark, WaiterQueue queue)
    {
        // In its own method: no local of the test keeps a waiter alive.
        var left = new List<WeakReference>();
        var removed = new List<DurableWaiter>();
        DurableWaiter Add(ulong target)
        {
            var waiter = new DurableWaiter(watermark);
            waiter.PrepareSync(target);
            queue.Add(waiter);
            left.Add(new WeakReference(waiter));
            return waiter;
        }

        // The ring's head moves to 2 (two added and taken), so the run of 10 to 13 wraps, and 14 grows it while wrapped.
        Add(1);
        Add(2);
        queue.RemoveMin();
        queue.RemoveMin();
        DurableWaiter front = Add(10);
        DurableWaiter middle = Add(11);
        Add(12);
        DurableWaiter end = Add(13);
        Add(14);
        Add(15);
        DurableWaiter inHeap = Add(5); // below the run's end: the heap
        Add(6);
        Add(20);
        Add(7);
        Add(30);
        Add(25); // the heap
        Assert.True(queue.Remove(middle) && queue.Remove(front) && queue.Remove(end) && queue.Remove(inHeap), "Each is found.");
        queue.RemoveAbove(14, removed); // the run's 15, 20 and 30, the heap's 25; the run's 12 and 14 and the heap's 6 and 7 stay
        Assert.Equal(new ulong[] { 15, 20, 25, 30 }, removed.Select(w => w.Target).Order());
        removed.Clear();
        while (queue.Count > 0)
        {
            queue.RemoveMin();
        }

        return [.. left];
    }

    private static int SizeAfter(int start, List<Op> ops)
    {
        // Replays the sizes only: the walk needs them to list the removals that exist.
        var targets = new List<ulong>();
        for (int i = 0; i < start; i++)
        {
            targets.Add(0);
        }

        foreach (Op op in ops)
        {
            switch (op.Kind)
            {
                case OpKind.Add:
                    targets.Add(op.Argument);
                    break;
                case OpKind.RemoveMin:
                    targets.Remove(targets.Min());
                    break;
                case OpKind.Remove:
                    targets.RemoveAt((int)op.Argument);
                    break;
                default:
                    targets.RemoveAll(t => t > op.Argument);
                    break;
            }
        }

        return targets.Count;
    }

    private static void Replay(int prefixAdds, int prefixTakes, List<Op> ops, DurableWaiter[] waiters)
    {
        var queue = new WaiterQueue(initialCapacity: 2);
        var oracle = new List<DurableWaiter>(); // in the order they were added
        int used = 0;
        for (int i = 0; i < prefixAdds; i++)
        {
            DurableWaiter waiter = waiters[used++];
            waiter.PrepareSync(0);
            queue.Add(waiter);
            oracle.Add(waiter);
        }

        for (int i = 0; i < prefixTakes; i++)
        {
            Assert.True(oracle.Remove(queue.RemoveMin()), "The prefix takes a waiter of the queue.");
        }

        for (int step = 0; step < ops.Count; step++)
        {
            Op op = ops[step];
            switch (op.Kind)
            {
                case OpKind.Add:
                {
                    DurableWaiter waiter = waiters[used++];
                    waiter.PrepareSync(op.Argument);
                    queue.Add(waiter);
                    oracle.Add(waiter);
                    break;
                }

                case OpKind.RemoveMin:
                {
                    ulong lowest = oracle.Min(w => w.Target);
                    DurableWaiter first = queue.RemoveMin();
                    Check(first.Target == lowest, "the first taken has the lowest target");
                    Check(oracle.Remove(first), "the first taken was in the queue");
                    Check(!queue.Remove(first), "a waiter taken is no longer in the queue");
                    break;
                }

                case OpKind.Remove:
                {
                    DurableWaiter victim = oracle[(int)op.Argument];
                    Check(queue.Remove(victim), "a waiter in the queue is found");
                    Check(!queue.Remove(victim), "a removed waiter is no longer in the queue");
                    oracle.RemoveAt((int)op.Argument);
                    break;
                }

                default:
                {
                    var removed = new List<DurableWaiter>();
                    queue.RemoveAbove(op.Argument, removed);
                    List<DurableWaiter> expected = oracle.Where(w => w.Target > op.Argument).ToList();
                    Check(removed.Count == expected.Count && expected.All(removed.Contains), "a cut removes exactly the waiters above it");
                    oracle.RemoveAll(w => w.Target > op.Argument);
                    break;
                }
            }

            Check(queue.Count == oracle.Count, "the queue holds as many waiters as the oracle");
            Check(queue.IsValid(), "the run is in order, the heap valid, every entry's target its waiter's");
            Check(queue.Count == 0 || queue.MinTarget == oracle.Min(w => w.Target), "the first target is the lowest");
        }

        // Drain: every waiter once, in target order.
        ulong previous = 0;
        while (queue.Count > 0)
        {
            DurableWaiter first = queue.RemoveMin();
            Check(first.Target >= previous, "the queue drains in target order");
            Check(oracle.Remove(first), "the queue drains each of its waiters once");
            previous = first.Target;
        }

        Check(oracle.Count == 0, "the queue drains every waiter of the oracle");

        void Check(bool condition, string what)
        {
            if (!condition)
            {
                Assert.Fail($"After ({prefixAdds} adds, {prefixTakes} takes) then {string.Join(", ", ops)}: {what}.");
            }
        }
    }

    private enum OpKind
    {
        Add,
        RemoveMin,
        Remove,
        RemoveAbove,
    }

    private readonly record struct Op(OpKind Kind, ulong Argument)
    {
        public override string ToString() => Kind switch
        {
            OpKind.Add => $"Add({Argument})",
            OpKind.RemoveMin => "RemoveMin",
            OpKind.Remove => $"Remove(#{Argument})",
            _ => $"RemoveAbove({Argument})",
        };
    }
}
