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
}
