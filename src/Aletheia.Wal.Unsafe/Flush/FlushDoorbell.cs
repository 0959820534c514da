using Aletheia.Wal.Native;
using Aletheia.Wal.Ring;

namespace Aletheia.Wal.Flush;

/// <summary>
/// How producers wake the parked flush thread without a syscall on every append: the flush thread announces that it is
/// parking, re-checks for work, then waits; a producer rings only when it sees the announcement.
/// </summary>
/// <remarks>
/// The check that makes this safe is Dekker's pattern on two full fences: the flush thread's exchange of
/// <c>_parked</c> before it reads the LSN counter, and the producer's interlocked increment of the LSN counter before it
/// reads <c>_parked</c> (after publishing). Either the flush thread sees the new LSN and does not park, or the producer
/// sees the announcement and rings.
/// </remarks>
internal sealed class FlushDoorbell : IRingConsumerSignal
{
    /// <summary>How long the flush thread spins for new work before it parks: 50 microseconds.</summary>
    private static readonly long s_spinBeforeParkTicks = System.Diagnostics.Stopwatch.Frequency / 20_000;

    private readonly ManualResetEventSlim _bell = new(initialState: false, spinCount: 0);
    private PaddedInt64 _parked;         // mutable struct: do not make this readonly. 1 while the flush thread parks.
    private int _drainRequested;

    /// <summary>Producer, after publishing a record: wakes the flush thread if it parked.</summary>
    public void OnPublished()
    {
        // Acquire read, ordered after the producer's LSN increment (a full fence; on Arm64 made one explicitly, since
        // the JIT's acquire-release RMW does not order its store before a later RCPC load); see the class remarks.
        DurableWatermark.FullFenceOnArm();
        if (Volatile.Read(ref _parked.Value) != 0)
        {
            Ring();
        }
    }

    /// <summary>A producer parks for ring space, or abandoned a reservation: the flush thread must run a round.</summary>
    public void RequestDrain()
    {
        // Full fence: the request is visible before we read _parked; the flush thread announces, then reads the request.
        Interlocked.Exchange(ref _drainRequested, 1);
        DurableWatermark.FullFenceOnArm();
        if (Volatile.Read(ref _parked.Value) != 0)
        {
            Ring();
        }
    }

    /// <summary>Wakes the flush thread (stop, or any reason); harmless when it is running.</summary>
    public void Ring()
    {
        // Full fence; only the producer that flips 1 to 0 sets the event, so a burst of appends costs one syscall.
        if (Interlocked.Exchange(ref _parked.Value, 0) != 0)
        {
            _bell.Set();
        }
    }

    /// <summary>Flush thread: clears a pending drain request before a round; returns whether there was one.</summary>
    public bool TakeDrainRequest() => Interlocked.Exchange(ref _drainRequested, 0) != 0;

    /// <summary>
    /// Flush thread: parks until rung or <paramref name="millisecondsTimeout"/> passes, unless <paramref name="hasWork"/>,
    /// evaluated after the announcement, says there is work.
    /// </summary>
    public void Park<TState>(Func<TState, bool> hasWork, TState state, int millisecondsTimeout)
    {
        // Spin a little first: a thread woken by the last write usually appends again within this, and catching its
        // record here saves two context switches (ring, then wake) on the path of a low-concurrency durable append.
        // Yielding, not a pure spin: that appender may be waiting for this very core, and a pure spin kept it off until
        // the spin ended (on 2 vCPUs, about one 1-thread run in three paid a park and a wake per append).
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + s_spinBeforeParkTicks;
        SpinWait spinner = default;
        while (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
        {
            if (Volatile.Read(ref _drainRequested) != 0 || hasWork(state))
            {
                return;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        _bell.Reset();

        // Full fence: the announcement is visible before hasWork reads the LSN counter and the drain request.
        Interlocked.Exchange(ref _parked.Value, 1);
        DurableWatermark.FullFenceOnArm();
        if (Volatile.Read(ref _drainRequested) == 0 && !hasWork(state))
        {
            _bell.Wait(millisecondsTimeout);
        }

        Volatile.Write(ref _parked.Value, 0);
    }
}
