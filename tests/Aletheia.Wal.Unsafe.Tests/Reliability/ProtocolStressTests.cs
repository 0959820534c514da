using System.Diagnostics;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Reliability;

/// <summary>
/// The reserve, publish, scan, merge, release, write and wake protocol under random delays at every step, in the worker
/// process (the delays are switched on there before the library loads; in this process they compile away). The worker
/// checks LSN contiguity across stripes, per-producer order and every byte (see the worker's ProtocolStress).
/// </summary>
[Collection(SerialCollection.Name)] // eight producers and random sleeps: alone, so that its deadline means something
public sealed class ProtocolStressTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Random_delays_at_every_step_keep_lsns_contiguous_and_each_producer_in_order()
    {
        Assert.False(Aletheia.Wal.Diagnostics.ProtocolDelays.Enabled, "Delays are off in the test process.");
        using Process worker = WorkerProcess.Start("protocol-stress", _temp.Log(), "8", "3000");
        string result = WorkerProcess.ReadLine(worker, seconds: 120);
        output.WriteLine(result);
        Assert.StartsWith("ok ", result, StringComparison.Ordinal);
        Assert.True(worker.WaitForExit(30_000));
        Assert.Equal(0, worker.ExitCode);
    }

    /// <summary>
    /// The same with large batches: the writer thread writes them, two may be posted at once, small ones queue behind a
    /// busy writer (9b0a20a). The small stripes of the test above never let a batch reach the 64 KiB hand-over, so no
    /// random delay ever ran on the writer thread before this test.
    /// </summary>
    [Fact]
    public void Random_delays_at_every_step_with_batches_for_the_writer_thread_keep_lsns_contiguous_and_each_producer_in_order()
    {
        using Process worker = WorkerProcess.Start("protocol-stress", _temp.Log(), "6", "3000", "pipelined");
        string result = WorkerProcess.ReadLine(worker, seconds: 120);
        output.WriteLine(result);
        Assert.StartsWith("ok ", result, StringComparison.Ordinal);
        int writerWrites = int.Parse(result[(result.IndexOf("writer-thread-writes=", StringComparison.Ordinal) + "writer-thread-writes=".Length)..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(writerWrites > 0, $"The writer thread made writes under the random delays ({result}).");
        Assert.True(worker.WaitForExit(30_000));
        Assert.Equal(0, worker.ExitCode);
    }
}
