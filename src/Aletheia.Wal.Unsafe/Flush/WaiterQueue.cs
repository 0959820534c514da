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

    /// <summary>Removes <paramref name="waiter"/>; false if it is not here. A linear search: timeouts and cancellations are rare.</summary>
    public bool Remove(DurableWaiter waiter)
    {
        for (int i = 0; i < _runCount; i++)
        {
            if (ReferenceEquals(_run[Index(i)].Waiter, waiter))
            {
                // Close the gap from the end: the run stays in order.
                for (int j = i; j < _runCount - 1; j++)
                {
                    _run[Index(j)] = _run[Index(j + 1)];
                }

                _run[Index(--_runCount)] = default;
                return true;
            }
        }

        return _heap.Remove(waiter);
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
