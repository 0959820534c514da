using System.Diagnostics;

namespace Aletheia.Wal.Flush;

/// <summary>
/// The registered waiters of one kind, as a binary min-heap on their targets: a release pass takes the ready ones (every
/// target at or below the durable LSN) from the top in O(log n) each, without looking at the many that are not ready.
/// Each entry holds its target beside the waiter, so the sifts compare within one array and never chase a pointer (at
/// 4,096 async waits in flight the old list walked every waiter object on every pass). A waiter leaving early (timeout,
/// cancellation) is found by a linear search: that is the rare path. Not thread-safe: the watermark's lock guards it.
/// </summary>
internal sealed class WaiterHeap(int initialCapacity)
{
    private Entry[] _entries = new Entry[initialCapacity];

    public int Count { get; private set; }

    /// <summary>The lowest target; the heap must not be empty.</summary>
    public ulong MinTarget
    {
        get
        {
            Debug.Assert(Count > 0, "MinTarget of an empty heap.");
            return _entries[0].Target;
        }
    }

    /// <summary>Adds <paramref name="waiter"/>. Grows (an allocation) only past the most waiters registered at once so far.</summary>
    public void Add(DurableWaiter waiter)
    {
        if (Count == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        int index = Count++;
        _entries[index] = new Entry(waiter.Target, waiter);
        SiftUp(index);
    }

    /// <summary>Removes and returns the waiter with the lowest target; the heap must not be empty.</summary>
    public DurableWaiter RemoveMin() => RemoveAt(0);

    /// <summary>Removes <paramref name="waiter"/>; false if it is not in this heap.</summary>
    public bool Remove(DurableWaiter waiter)
    {
        for (int i = 0; i < Count; i++)
        {
            if (ReferenceEquals(_entries[i].Waiter, waiter))
            {
                RemoveAt(i);
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Removes every waiter whose target is above <paramref name="lsn"/> into <paramref name="removed"/> and rebuilds the
    /// heap from the rest: O(n), for TruncateAfter, which is rare.
    /// </summary>
    public void RemoveAbove(ulong lsn, List<DurableWaiter> removed)
    {
        int kept = 0;
        for (int i = 0; i < Count; i++)
        {
            if (_entries[i].Target > lsn)
            {
                removed.Add(_entries[i].Waiter);
            }
            else
            {
                _entries[kept++] = _entries[i];
            }
        }

        Array.Clear(_entries, kept, Count - kept);
        Count = kept;
        for (int i = (kept / 2) - 1; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    /// <summary>Tests: the heap's order holds at every node, and every entry's target is its waiter's.</summary>
    internal bool IsValid()
    {
        for (int i = 0; i < Count; i++)
        {
            if (_entries[i].Target != _entries[i].Waiter.Target || (i > 0 && _entries[(i - 1) / 2].Target > _entries[i].Target))
            {
                return false;
            }
        }

        return true;
    }

    private DurableWaiter RemoveAt(int index)
    {
        Debug.Assert((uint)index < (uint)Count, "An index within the heap.");
        DurableWaiter removed = _entries[index].Waiter;
        Entry last = _entries[--Count];
        _entries[Count] = default;
        if (index != Count)
        {
            // The last entry fills the hole; it may belong above or below it.
            _entries[index] = last;
            if (!SiftUp(index))
            {
                SiftDown(index);
            }
        }

        return removed;
    }

    /// <returns>True if the entry moved up.</returns>
    private bool SiftUp(int index)
    {
        Entry entry = _entries[index];
        int start = index;
        while (index > 0)
        {
            int parent = (index - 1) / 2;
            if (_entries[parent].Target <= entry.Target)
            {
                break;
            }

            _entries[index] = _entries[parent];
            index = parent;
        }

        _entries[index] = entry;
        return index != start;
    }

    private void SiftDown(int index)
    {
        Entry entry = _entries[index];
        while (true)
        {
            int child = (2 * index) + 1;
            if (child >= Count)
            {
                break;
            }

            if (child + 1 < Count && _entries[child + 1].Target < _entries[child].Target)
            {
                child++;
            }

            if (entry.Target <= _entries[child].Target)
            {
                break;
            }

            _entries[index] = _entries[child];
            index = child;
        }

        _entries[index] = entry;
    }

    private readonly record struct Entry(ulong Target, DurableWaiter Waiter);
}
