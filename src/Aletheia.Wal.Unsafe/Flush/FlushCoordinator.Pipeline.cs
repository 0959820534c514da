using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Flush;

/*
 * The writer thread: a large batch is written by it while the flush thread collects the next one into the other write
 * buffer, so that copying frames and writing them overlap. Still one write at a time, in LSN order, each on the previous
 * one's end marker: the writer takes the batches posted to it in order and starts one only once the one before returned.
 *
 * Two batches may be posted at once, one per write buffer: while the writer writes one, the next waits in the queue, so
 * the writer starts it the moment the first returns, without waiting for the flush thread to wake and post it (measured:
 * with one batch posted at a time, the device stood idle for two thread wake-ups between 1 MiB writes, and a burst's
 * cycle was 650 us against a write of about 500). The flush thread waits before it refills a buffer until the write of
 * that buffer returned (AwaitSpareBuffer), and for every write posted (AwaitWriteInFlight) before it writes a batch itself,
 * rotates, holds for a TruncateAfter, parks or stops. The writer reports each batch durable itself, as soon as its write
 * returns. Once a write failed, the writer writes nothing more: the batches after it are counted done unwritten, so the
 * flush thread sees the fault (it rethrows it into its fault path) and nothing past the failed write is reported durable.
 * The flush thread may park while a write is in flight, so that records appended meanwhile are collected (and queued)
 * at once; a failed write rings it.
 *
 * Hand-over: _posted and _done count batches posted and done. Each side publishes its count with a release write and
 * then sets the other's event; each side waits by resetting its event, fencing, and reading the count again before it
 * blocks, so that a count published after the reset sets the event after it (and one published before is read). Small
 * batches (a durable append's) are written by the flush thread itself: a hand-over costs a thread wake-up, which would
 * double a lone durable append's latency.
 */
internal sealed unsafe partial class FlushCoordinator
{
    /// <summary>The smallest batch handed to the writer thread: below it, the copy it would overlap is shorter than a wake-up.</summary>
    private const int LargeBatchFloorBytes = 64 << 10;

    private readonly Thread _writer;
    private readonly int _handOffBytes; // batches at least this large go to the writer thread
    private readonly ManualResetEventSlim _postedEvent = new(false);
    private readonly ManualResetEventSlim _doneEvent = new(false);
    private readonly BatchWrite[] _queue = new BatchWrite[2]; // slot posted % 2: written by the flush thread before it publishes _posted
    private long _posted;              // batches posted: written by the flush thread (Volatile), read by the writer
    private long _done;                // batches the writer is done with: written by the writer (Volatile), read by the flush thread
    private Exception? _writeFault;    // the first write that failed: written by the writer (Volatile) before it publishes _done
    private volatile bool _writerStopping; // written by the flush thread before _postedEvent.Set, once nothing is posted

    /// <summary>Tests: every batch posted to the writer thread is done (the writer reported it durable and is idle).</summary>
    // Acquire reads of both counts: a fresh view from another thread; it orders nothing else.
    internal bool TestHookWriterIdle => Volatile.Read(ref _posted) == Volatile.Read(ref _done);

    /// <summary>Flush thread: hands <paramref name="write"/> to the writer thread; at most one other may be posted and not done.</summary>
    private void PostWrite(in BatchWrite write)
    {
        Debug.Assert(_posted - Volatile.Read(ref _done) < _queue.Length, "A queue slot is free: the flush thread waited for its buffer.");
        _queue[_posted % _queue.Length] = write;

        // Release: the writer that reads the new count sees the queued batch and its buffer's bytes.
        Volatile.Write(ref _posted, _posted + 1);
        ProtocolDelays.Step(); // the writer sees the count before the event is set, and may block between
        _postedEvent.Set();
    }

    /// <summary>Flush thread: waits until every write posted returned; rethrows a failure.</summary>
    private void AwaitWriteInFlight() => AwaitWrites(_posted);

    /// <summary>
    /// Flush thread, after posting a batch: waits until the write buffer it fills next is free, that is until at most the
    /// batch just posted (from the other buffer) is not done. Rethrows a failure.
    /// </summary>
    private void AwaitSpareBuffer() => AwaitWrites(_posted - 1);

    /// <summary>Flush thread: waits until the writer is done with the first <paramref name="count"/> batches posted; rethrows a failure.</summary>
    private void AwaitWrites(long count)
    {
        WaitForDone(count);
        ThrowIfWriteFailed();
    }

    /// <summary>Flush thread: rethrows the failure of a write, if one failed, into the fault path of Run, as if the flush thread had written.</summary>
    private void ThrowIfWriteFailed()
    {
        // Acquire: pairs with the writer's release of the fault, so the exception is seen whole.
        if (Volatile.Read(ref _writeFault) is { } fault)
        {
            ExceptionDispatchInfo.Capture(fault).Throw();
        }
    }

    /// <summary>Flush thread, faulting: lets the writes posted finish, whatever their outcome (the fault being handled wins).</summary>
    private void FinishWriteInFlightQuietly() => WaitForDone(_posted);

    private void WaitForDone(long count)
    {
        // Acquire: pairs with the writer's release of _done, so the fault and the batch's publication are seen.
        while (Volatile.Read(ref _done) < count)
        {
            ProtocolDelays.Step(); // the writer publishes and sets the event between the check and the reset: the recheck sees it
            _doneEvent.Reset();

            // Full fence: the reset is ordered before the read below. A count the writer publishes after that read sets the
            // event after the reset, so Wait returns; one published before it is read here.
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _done) < count)
            {
                _doneEvent.Wait();
            }
        }
    }

    /// <summary>Flush thread, on its way out: the writer thread exits (nothing is posted and not done by then).</summary>
    private void StopWriter()
    {
        FinishWriteInFlightQuietly();
        _writerStopping = true;
        _postedEvent.Set(); // full fence: the writer sees _writerStopping
        _writer.Join();
    }

    private void RunWriter()
    {
        long next = 0; // the next batch to write: batches before it are done
        while (true)
        {
            // Acquire: pairs with PostWrite's release, so the queued batch and its buffer's bytes are seen.
            if (Volatile.Read(ref _posted) == next)
            {
                if (_writerStopping)
                {
                    return;
                }

                ProtocolDelays.Step(); // the flush thread posts and sets the event between the check and the reset: the recheck sees it
                _postedEvent.Reset();

                // Full fence: the reset is ordered before the reads below (see WaitForDone).
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _posted) == next && !_writerStopping)
                {
                    _postedEvent.Wait();
                }

                continue;
            }

            if (_writeFault is null)
            {
                try
                {
                    WriteAndPublish(_queue[next % _queue.Length]);
                }
                catch (Exception e)
                {
                    // Not published: nothing of this batch is reported durable, nor of any posted after it, which are not
                    // written. The flush thread rethrows it and faults the log; rung, in case it parked meanwhile.
                    // Release: the flush thread that reads the fault sees the exception whole.
                    Volatile.Write(ref _writeFault, e);
                    _doorbell.Ring();
                }
            }

            next++;

            // Release: the flush thread that reads the count sees the fault, and the batch's publication.
            Volatile.Write(ref _done, next);
            ProtocolDelays.Step(); // the flush thread sees the count before the event is set, and may block between
            _doneEvent.Set();
        }
    }

    /// <summary>One batch write: <see cref="Length"/> bytes at <see cref="Data"/> (a write buffer the flush thread owns) go to <see cref="File"/> at <see cref="Offset"/>.</summary>
    private readonly struct BatchWrite(WalFile file, long offset, byte* data, int length, int batchBytes, int records, ulong firstLsn, ulong durable)
    {
        public WalFile File { get; } = file;

        public long Offset { get; } = offset;

        public byte* Data { get; } = data;

        public int Length { get; } = length;

        /// <summary>The batch header and frames (what the segment's offset advanced by).</summary>
        public int BatchBytes { get; } = batchBytes;

        public int Records { get; } = records;

        public ulong FirstLsn { get; } = firstLsn;

        /// <summary>The batch's last LSN: every record up to it is durable once the write returns.</summary>
        public ulong Durable { get; } = durable;
    }
}
