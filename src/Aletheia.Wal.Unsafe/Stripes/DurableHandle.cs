using Aletheia.Wal.Flush;

namespace Aletheia.Wal.Stripes;

/// <summary>
/// What a sync append returns: the record's LSN and the watermark that says when it is durable. A value, not an object
/// per record: waiting compares against the watermark and parks on a pooled waiter only when it must.
/// </summary>
internal readonly struct DurableHandle
{
    private readonly DurableWatermark _watermark;

    public DurableHandle(DurableWatermark watermark, Lsn lsn)
    {
        _watermark = watermark;
        Lsn = lsn;
    }

    public Lsn Lsn { get; }

    /// <summary>True once the record is durable, or once the drainer reported a failure (then <see cref="Wait"/> throws).</summary>
    public bool IsComplete => _watermark.IsComplete(Lsn);

    /// <summary>Waits until the record is durable.</summary>
    /// <returns>False if the timeout passed first.</returns>
    /// <exception cref="WalException">The drainer signalled a failure; the cause is the inner exception.</exception>
    public bool Wait(int millisecondsTimeout = Timeout.Infinite) => _watermark.Wait(Lsn, millisecondsTimeout);
}
