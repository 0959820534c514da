using Aletheia.Wal.Native;

namespace Aletheia.Wal.Stripes;

/// <summary>The one atomic counter that hands out LSNs: 1, 2, 3, ... with no hole.</summary>
internal sealed class LsnSequence
{
    private PaddedInt64 _last; // mutable struct: do not make this readonly

    /// <param name="last">The LSN handed out last (0 for a new log); the next is <paramref name="last"/> + 1.</param>
    public LsnSequence(ulong last = 0) => _last.Value = (long)last;

    /// <summary>The highest LSN handed out.</summary>
    // Acquire: a reader that sees LSN n also sees what the taker wrote before taking it (its payload).
    public Lsn Last => new((ulong)Volatile.Read(ref _last.Value));

    /// <summary>Hands out the next LSN. Callers take it only once nothing can fail before they publish the record.</summary>
    // Full fence: the flush thread's decision to park reads Last after announcing it parks; a producer that takes an
    // LSN after that read must then see the announcement when it checks whether to wake the flusher (Dekker).
    public Lsn Next() => new((ulong)Interlocked.Increment(ref _last.Value));

    /// <summary>
    /// TruncateAfter only, with every stripe paused and drained (no append can take an LSN): the next LSN handed out is
    /// <paramref name="last"/> + 1.
    /// </summary>
    // Release: the stripes resume (a full fence each) after this; appenders then take LSNs from the new value.
    public void Reset(ulong last) => Volatile.Write(ref _last.Value, (long)last);
}
