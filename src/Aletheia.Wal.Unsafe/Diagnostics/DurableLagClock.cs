using System.Diagnostics;

namespace Aletheia.Wal.Diagnostics;

/// <summary>
/// When the oldest record not yet durable was first seen by the flush thread: the start of the <c>aletheia.wal.durable_lag.age</c>
/// gauge. Written by the flush thread, and by the writer thread that reports a large batch durable: under a lock of its
/// own (uncontended but for the moment a batch becomes durable while the flush thread starts a round).
/// </summary>
/// <remarks>
/// At the start of each round the flush thread notes the last LSN handed out, with the time, whenever it grew: an entry
/// (L, t) says "LSNs up to L were handed out at t". An LSN x was first seen at the time of the first entry with L >= x.
/// Once a batch makes everything up to D durable, the entries at or below D go, and the first one left dates D + 1, the
/// oldest record not yet durable. So the age reads low by at most the time from an append to the flush thread's next
/// look, never high. The entries are few (a round that writes what it saw retires its entry at once); when the small
/// queue is full, a later LSN waits for a free entry and is dated later than it was seen: lower again, never higher.
/// Nothing here allocates: the queue is two arrays made once.
/// </remarks>
internal sealed class DurableLagClock
{
    private const int Capacity = 8;

    private readonly object _gate = new();
    private readonly ulong[] _lsns = new ulong[Capacity];
    private readonly long[] _ticks = new long[Capacity];
    private int _first;
    private int _count;
    private ulong _seen; // the highest LSN an entry covers, or made durable: an LSN above it is new
    private long _oldestTicks; // when the oldest LSN not yet durable was first seen; 0: none seen

    public DurableLagClock(ulong last) => _seen = last;

    /// <summary>
    /// Any thread: the <see cref="Stopwatch"/> timestamp at which the flush thread first saw the oldest LSN not yet durable
    /// handed out; 0 when it has seen none (all it saw is durable).
    /// </summary>
    // Volatile: a fresh value; a reader pairs it with LastLsn and DurableLsn read around it, approximately (a gauge).
    public long OldestPendingTicks => Volatile.Read(ref _oldestTicks);

    /// <summary>Flush thread, at the start of a round: <paramref name="last"/> is the last LSN handed out now.</summary>
    public void OnRound(ulong last)
    {
        lock (_gate)
        {
            OnRoundUnderLock(last);
        }
    }

    /// <summary>Flush thread or writer thread: every record up to <paramref name="durable"/> is durable.</summary>
    public void OnDurable(ulong durable)
    {
        lock (_gate)
        {
            OnDurableUnderLock(durable);
        }
    }

    /// <summary>Flush thread, after a TruncateAfter: the LSNs go on after <paramref name="last"/>, every one of them durable.</summary>
    public void Reset(ulong last)
    {
        lock (_gate)
        {
            _first = 0;
            _count = 0;
            _seen = last;
            Volatile.Write(ref _oldestTicks, 0); // Volatile: as in OnRound
        }
    }

    private void OnRoundUnderLock(ulong last)
    {
        if (last <= _seen || _count == Capacity)
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        if (_count == 0)
        {
            // Volatile: published for the gauge's reader; no ordering with other memory is needed.
            Volatile.Write(ref _oldestTicks, now); // nothing was pending: the oldest pending LSN, _seen + 1, is seen now
        }

        int slot = (_first + _count) % Capacity;
        _lsns[slot] = last;
        _ticks[slot] = now;
        _count++;
        _seen = last;
    }

    private void OnDurableUnderLock(ulong durable)
    {
        while (_count > 0 && _lsns[_first] <= durable)
        {
            _first = (_first + 1) % Capacity;
            _count--;
        }

        // A batch may hold LSNs handed out after the round began (they were published by the time it collected them):
        // they are durable now, not new.
        _seen = Math.Max(_seen, durable);

        // Volatile: as in OnRound.
        Volatile.Write(ref _oldestTicks, _count > 0 ? _ticks[_first] : 0);
    }
}
