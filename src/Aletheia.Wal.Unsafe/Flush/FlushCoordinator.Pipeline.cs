using System.Runtime.ExceptionServices;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Flush;

/*
 * The writer thread: a large batch is written by it while the flush thread collects the next one into the other write
 * buffer, so that copying frames and writing them overlap (before, a 1 MiB batch was copied, then written, then the next
 * copied). Still one write in flight at a time, in LSN order, each on the previous one's end marker: the flush thread
 * waits for the write in flight (AwaitWriteInFlight) before it posts or makes the next write, rotates, holds for a
 * TruncateAfter, parks or stops. The writer reports its batch durable itself, as soon as the write returns.
 *
 * Hand-over: the flush thread fills _posted and sets _postedEvent; the writer writes, publishes, sets _doneEvent. The
 * events' Set and Wait are full fences, so each side sees the other's plain fields (the batch, the fault) and the buffer's
 * bytes. Small batches (a durable append's) are written by the flush thread itself: a hand-over costs a thread wake-up,
 * which would double a lone durable append's latency.
 */
internal sealed unsafe partial class FlushCoordinator
{
    /// <summary>The smallest batch handed to the writer thread: below it, the copy it would overlap is shorter than a wake-up.</summary>
    private const int LargeBatchFloorBytes = 64 << 10;

    private readonly Thread _writer;
    private readonly int _handOffBytes; // batches at least this large go to the writer thread
    private readonly ManualResetEventSlim _postedEvent = new(false);
    private readonly ManualResetEventSlim _doneEvent = new(false);
    private BatchWrite _posted;        // written by the flush thread before _postedEvent.Set, read by the writer after its Wait
    private Exception? _writeFault;    // written by the writer before _doneEvent.Set, read by the flush thread after its Wait
    private bool _writeInFlight;       // flush thread only
    private bool _writerStopping;      // written by the flush thread before _postedEvent.Set

    /// <summary>Flush thread: hands <paramref name="write"/> to the writer thread; nothing may be in flight.</summary>
    private void PostWrite(in BatchWrite write)
    {
        _posted = write;
        _writeFault = null;
        _doneEvent.Reset();
        _writeInFlight = true;
        _postedEvent.Set(); // full fence: the writer sees the batch, its buffer's bytes and the reset done event
    }

    /// <summary>Flush thread: waits until the write in flight, if any, returned; rethrows its failure.</summary>
    private void AwaitWriteInFlight()
    {
        if (!_writeInFlight)
        {
            return;
        }

        _doneEvent.Wait(); // full fence: the writer's fault and publication are visible
        _writeInFlight = false;
        if (_writeFault is { } fault)
        {
            ExceptionDispatchInfo.Capture(fault).Throw(); // the fault path of Run, as if the flush thread had written
        }
    }

    /// <summary>Flush thread, faulting: lets a write in flight finish, whatever its outcome (the fault being handled wins).</summary>
    private void FinishWriteInFlightQuietly()
    {
        if (_writeInFlight)
        {
            _doneEvent.Wait();
            _writeInFlight = false;
        }
    }

    /// <summary>Flush thread, on its way out: the writer thread exits (nothing is in flight by then).</summary>
    private void StopWriter()
    {
        FinishWriteInFlightQuietly();
        _writerStopping = true;
        _postedEvent.Set(); // full fence: the writer sees _writerStopping
        _writer.Join();
    }

    private void RunWriter()
    {
        while (true)
        {
            _postedEvent.Wait();
            _postedEvent.Reset(); // before the next post: that one comes only after _doneEvent.Set below
            if (_writerStopping)
            {
                return;
            }

            try
            {
                WriteAndPublish(_posted);
            }
            catch (Exception e)
            {
                // Not published: nothing of this batch is reported durable. The flush thread rethrows it and faults the log.
                _writeFault = e;
            }

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
