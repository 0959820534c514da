using System.Diagnostics;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Ring;

[Collection(SerialCollection.Name)]
public sealed class ByteRingCpuTests
{
    [Fact]
    public void Blocking_append_on_a_full_ring_fails_when_closed_without_burning_cpu()
    {
        using var ring = new ByteRing(64);
        Assert.Equal(RingStatus.Success, ring.TryAppend(new byte[56]));
        RingStatus status = RingStatus.Success;
        var blocked = new Thread(() => status = ring.Append(new byte[8], millisecondsTimeout: 30_000));
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        blocked.Start();
        Thread.Sleep(1000);
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        ring.Close();
        Assert.True(blocked.Join(TimeSpan.FromSeconds(5)), "Close wakes a producer parked for space.");
        Assert.Equal(RingStatus.Closed, status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "The parked producer fails promptly once the ring is closed.");

        // A spinning producer would use a whole core, ~1000 ms of CPU in that second; a parked one a few ms. The bound
        // leaves room for what else the process does meanwhile (background JIT tiering, GC, the test runner: up to
        // ~300 ms seen here) while still failing a spinner.
        Assert.True(cpu < TimeSpan.FromMilliseconds(600), $"A producer waiting for space must park, not spin: the process used {cpu.TotalMilliseconds:F0} ms of CPU in 1000 ms.");
    }
}
