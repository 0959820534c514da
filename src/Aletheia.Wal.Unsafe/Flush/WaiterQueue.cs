using System.Diagnostics;
using System.Numerics;

namespace Aletheia.Wal.Flush;

/// <summary>
/// The registered waiters of one kind, lowest target first: a ring of waiters in target order (the run) beside a
/// <see cref="WaiterHeap"/> for the others. Waits mostly register in LSN order (each durable append waits for the LSN it
/// just took, and a release pass resumes its continuations in LSN order), so most of them join the run's end and leave
/// from its front in O(1); one registered below the run's end goes to the heap, O(log n) as before. Not thread-safe: the
/// watermark's lock guards it.
/// </summary>
internal sealed class WaiterQueue(int initialCapacity)
{
    private readonly WaiterHeap _heap = new(initialCapacity: 16);
    private Entry[] _run = new Entry[BitOperations.RoundUpToPowerOf2((uint)Math.Max(initialCapacity, 2))]; // a ring (a power of two long): [_head, _head + _runCount), targets non-decreasing
    private int _head;
    private int _runCount;

    public int Count => _runCount + _heap.Count;

    /// <summary>The lowest target; the queue must not be empty.</summary>
    public ulong MinTarget
    {
        get
        {
            Debug.Assert(Count > 0, "MinTarget of an empty queue.");
            return RunFirst ? _run[_head].Target : _heap.MinTarget;
        }
    }

    /// <summary>The run's front is the lowest target (or the heap is empty); the run must not be empty.</summary>
    private bool RunFirst => _runCount > 0 && (_heap.Count == 0 || _run[_head].Target <= _heap.MinTarget);

    /// <summary>Adds <paramref name="waiter"/>. Grows (an allocation) only past the most waiters registered at once so far.</summary>
    public void Add(DurableWaiter waiter)
    {
        if (_runCount > 0 && waiter.Target < _run[Index(_runCount - 1)].Target)
        {
            _heap.Add(waiter); // below the run's end: out of order
            return;
        }

        if (_runCount == _run.Length)
        {
            Grow();
        }

        _run[Index(_runCount++)] = new Entry(waiter.Target, waiter);
    }

    /// <summary>Removes and returns the waiter with the lowest target; the queue must not be empty.</summary>
    public DurableWaiter RemoveMin()
    {
        if (!RunFirst)
        {
            return _heap.RemoveMin();
        }

        DurableWaiter waiter = _run[_head].Waiter;
        _run[_head] = default;
        _head = (_head + 1) & (_run.Length - 1);
        _runCount--;
        return waiter;
    }

    /// <summary>
    /// Removes <paramref name="waiter"/>; false if it is not here. In the run it is found by its target (a binary search,
    /// then the waiters of equal target), and the gap is closed from the nearer end: a wait cancelled at the run's front
    /// (timeouts fire in registration order, which is the run's order) or taken back at its end (Register's re-check) moves
    /// nothing; one in the middle moves the shorter side in block copies. In the heap it is a linear search: few waiters
    /// are out of order.
    /// </summary>
    public bool Remove(DurableWaiter waiter)
    {
        int at = IndexInRun(waiter);
        if (at < 0)
        {
            return _heap.Remove(waiter);
        }

        if (at < _runCount / 2)
        {
            CloseGapFromFront(at);
        }
        else
        {
            CloseGapFromEnd(at);
        }

        _runCount--;
        return true;
    }

    /// <summary>Removes every waiter whose target is above <paramref name="lsn"/> into <paramref name="removed"/> (TruncateAfter).</summary>
    public void RemoveAbove(ulong lsn, List<DurableWaiter> removed)
    {
        // The run is in order: the waiters above the cut are its end.
        while (_runCount > 0 && _run[Index(_runCount - 1)].Target > lsn)
        {
            int last = Index(--_runCount);
            removed.Add(_run[last].Waiter);
            _run[last] = default;
        }

        _heap.RemoveAbove(lsn, removed);
    }

    /// <summary>Tests: the run is in target order, the heap valid, and every entry's target is its waiter's.</summary>
    internal bool IsValid()
    {
        for (int i = 0; i < _runCount; i++)
        {
            Entry entry = _run[Index(i)];
            if (entry.Target != entry.Waiter.Target || (i > 0 && _run[Index(i - 1)].Target > entry.Target))
            {
                return false;
            }
        }

        return _heap.IsValid();
    }

    /// <summary>Tests: waiters that joined out of order, in the heap.</summary>
    internal int OutOfOrder => _heap.Count;

    private int Index(int offset) => (_head + offset) & (_run.Length - 1);

    /// <summary>
    /// Moves the run's waiters before offset <paramref name="at"/> one slot up, over it, and the head past the freed slot.
    /// Block copies (a memmove with one write barrier for the block, not one per entry): the run may wrap at the ring's
    /// end, and then the part there and the part at its start move apart, with the one entry that crosses between.
    /// </summary>
    private void CloseGapFromFront(int at)
    {
        int head = _head;
        int gap = Index(at);
        if (head <= gap)
        {
            Array.Copy(_run, head, _run, head + 1, gap - head);
        }
        else
        {
            int last = _run.Length - 1;
            Array.Copy(_run, 0, _run, 1, gap);
            _run[0] = _run[last];
            Array.Copy(_run, head, _run, head + 1, last - head);
        }

        _run[head] = default;
        _head = (head + 1) & (_run.Length - 1);
    }

    /// <summary>Moves the run's waiters after offset <paramref name="at"/> one slot down, over it (block copies, as <see cref="CloseGapFromFront"/>).</summary>
    private void CloseGapFromEnd(int at)
    {
        int gap = Index(at);
        int end = Index(_runCount - 1);
        if (gap <= end)
        {
            Array.Copy(_run, gap + 1, _run, gap, end - gap);
        }
        else
        {
            int last = _run.Length - 1;
            Array.Copy(_run, gap + 1, _run, gap, last - gap);
            _run[last] = _run[0];
            Array.Copy(_run, 1, _run, 0, end);
        }

        _run[end] = default;
    }

    /// <summary>The offset of <paramref name="waiter"/> in the run, or -1: the run is in target order, so only the waiters of its target are compared.</summary>
    private int IndexInRun(DurableWaiter waiter)
    {
        ulong target = waiter.Target;
        int low = 0;
        int high = _runCount;
        while (low < high)
        {
            // The first offset whose target is at least the waiter's.
            int middle = (int)((uint)(low + high) >> 1);
            if (_run[Index(middle)].Target < target)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        for (int i = low; i < _runCount && _run[Index(i)].Target == target; i++)
        {
            if (ReferenceEquals(_run[Index(i)].Waiter, waiter))
            {
                return i;
            }
        }

        return -1;
    }

    private void Grow()
    {
        var larger = new Entry[_run.Length * 2];
        for (int i = 0; i < _runCount; i++)
        {
            larger[i] = _run[Index(i)];
        }

        _run = larger;
        _head = 0;
    }

    private readonly record struct Entry(ulong Target, DurableWaiter Waiter);
}
