using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Reliability;

/// <summary>
/// Review of the async releaser under random protocol delays, in the worker process (see the worker's AsyncWaitStress):
/// 64 async loops awaiting durable appends (some cancelled) and durable waits beside two sync appenders; every await
/// completes and every acknowledged record reads back at its LSN. Short here; the review ran it for 5 x 20 s.
/// </summary>
[Collection(SerialCollection.Name)] // random sleeps and 64 loops: alone, so that its deadline means something
public sealed class AsyncWaitStressTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Async_waits_under_random_delays_all_complete_and_every_acknowledged_record_reads_back()
    {
        string result = WorkerProcess.RunForLine("async-stress", _temp.Log(), "64", "2500");
        output.WriteLine(result);
        Assert.StartsWith("ok ", result, StringComparison.Ordinal);
    }
}
