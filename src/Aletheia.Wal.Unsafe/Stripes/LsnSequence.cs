using Aletheia.Wal.Native;

namespace Aletheia.Wal.Stripes;

/// <summary>The one atomic counter that hands out LSNs: 1, 2, 3, ... with no hole.</summary>
internal sealed class LsnSequence
{
    [ThreadStatic]
    private static int t_resetsAtTake;

    private PaddedInt64 _last; // mutable struct: do not make this readonly
    private int _resets;       // TruncateAfter cuts that reset the sequence; written under the log's truncation lock
    private ulong[] _resetTo = new ulong[4]; // the LSN each of them kept the log up to, by index

    /// <param name="last">The LSN handed out last (0 for a new log); the next is <paramref name="last"/> + 1.</param>
    public LsnSequence(ulong last = 0) => _last.Value = (long)last;

    /// <summary>The highest LSN handed out.</summary>
    // Acquire: a reader that sees LSN n also sees what the taker wrote before taking it (its payload).
    public Lsn Last => new((ulong)Volatile.Read(ref _last.Value));

    /// <summary>Hands out the next LSN. Callers take it only once nothing can fail before they publish the record.</summary>
    // Full fence: the flush thread's decision to park reads Last after announcing it parks; a producer that takes an
    // LSN after that read must then see the announcement when it checks whether to wake the flusher (Dekker).
    public Lsn Next()
    {
        long lsn = Interlocked.Increment(ref _last.Value);

        // The resets made before this LSN was taken: exact, because a reset happens only once every stripe is paused and
        // drained, and this taker publishes its record (which the drain waits for) after this read. Volatile: a reset
        // made before the increment above is seen (it was published before the stripes resumed, with full fences).
        t_resetsAtTake = Volatile.Read(ref _resets);
        return new Lsn((ulong)lsn);
    }

    /// <summary>
    /// The calling thread's last <see cref="Next"/>: how many resets (TruncateAfter cuts) came before the LSN it took.
    /// A durable append passes it to its wait, which then tells its own record from another one given the same LSN after
    /// a cut (<see cref="DroppedSince"/>).
    /// </summary>
    public static int ResetsAtLastTake => t_resetsAtTake;

    /// <summary>The resets made so far (TruncateAfter cuts).</summary>
    // Acquire: pairs with the release in Reset; a caller that sees n resets sees what each kept (LowestResetSince).
    public int Resets => Volatile.Read(ref _resets);

    /// <summary>The lowest LSN the resets from the <paramref name="index"/>-th on kept the log up to; <see cref="ulong.MaxValue"/> if there were none.</summary>
    public ulong LowestResetSince(int index)
    {
        int resets = Volatile.Read(ref _resets); // acquire, as in DroppedSince
        ulong[] resetTo = Volatile.Read(ref _resetTo);
        ulong lowest = ulong.MaxValue;
        for (int i = index; i < resets; i++)
        {
            lowest = Math.Min(lowest, resetTo[i]);
        }

        return lowest;
    }

    /// <summary>
    /// Whether the record with <paramref name="lsn"/>, taken after <paramref name="resetsAtTake"/> resets, was dropped by a
    /// later one (one that kept the log up to an LSN below it).
    /// </summary>
    public bool DroppedSince(ulong lsn, int resetsAtTake)
    {
        // Acquire: pairs with the release in Reset; the entries below the count were written before it.
        int resets = Volatile.Read(ref _resets);
        ulong[] resetTo = Volatile.Read(ref _resetTo);
        for (int i = resetsAtTake; i < resets; i++)
        {
            if (resetTo[i] < lsn)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// TruncateAfter only, with every stripe paused and drained (no append can take an LSN): the next LSN handed out is
    /// <paramref name="last"/> + 1.
    /// </summary>
    // Release: the stripes resume (a full fence each) after this; appenders then take LSNs from the new value.
    public void Reset(ulong last)
    {
        if (_resets == _resetTo.Length)
        {
            ulong[] grown = new ulong[_resetTo.Length * 2];
            _resetTo.CopyTo(grown, 0);
            Volatile.Write(ref _resetTo, grown); // release: a reader that sees the new count sees this array, filled
        }

        _resetTo[_resets] = last;
        Volatile.Write(ref _last.Value, (long)last); // no appender takes an LSN now; the stripes' resume publishes it (full fences)
        Volatile.Write(ref _resets, _resets + 1); // release: the entry above is written before the count covers it
    }
}
