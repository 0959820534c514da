using Aletheia.Wal.Tests.Support;
using Aletheia.Wal.Tests.Wal;
using Aletheia.Wal.Worker;
using Xunit;

namespace Aletheia.Wal.Tests.Diagnostics;

/// <summary>
/// Zero allocation with a listener attached and enabled for every instrument of the library's meter, the histograms
/// included (<see cref="CountingMeterListener"/>: its callbacks allocate nothing): on the appending thread for each
/// append and wait form, and in the whole process across many batches (the flush thread records both histograms per
/// batch), measured in the worker process.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class MeteredAllocationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [MemberData(nameof(WriteAheadLogAllocationTests.ThreadKinds), MemberType = typeof(WriteAheadLogAllocationTests))]
    public void Appending_thread_allocates_nothing_with_every_instrument_listened_to(string kind, int count)
    {
        using var listener = new CountingMeterListener();

        // Segments large enough that the measured window never rotates (rotation opens a file, which allocates).
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), StripeCount = 2, SegmentSizeBytes = 256L << 20, Name = "metered" });
        log.TestHookWaitForPreparedSegment();
        listener.Collect(); // the observable instruments' callbacks, outside the windows: they may allocate
        byte[] payload = new byte[64];
        Action<int> run = ThreadAllocation.Calls(log, kind, payload);
        ThreadAllocation.WarmUp(log, payload, run, count);
        long durations = listener.WriteDurations;
        long[] windows = ThreadAllocation.Windows(() => run(count));
        log.Flush();

        Assert.True(windows.Min() == 0, $"{kind}: the appending thread allocated {string.Join(", ", windows)} bytes in three windows of {count} calls.");
        Assert.True(listener.WriteDurations > durations, "The listener got the write-latency histogram's measurements meanwhile: it was enabled.");
    }

    [Fact]
    public void Flush_thread_and_whole_process_allocate_nothing_per_batch_with_every_instrument_listened_to()
    {
        string line = WorkerProcess.RunForLine("alloc-flush-metered", _temp.Log());

        // Every batch of the window was measured (one write duration each) and nothing was allocated.
        Assert.Matches(@"^allocated 0 batches ([1-9][0-9]*) durations \1$", line);
    }
}
