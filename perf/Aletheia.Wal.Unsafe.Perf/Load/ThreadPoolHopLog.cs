using System.Runtime.CompilerServices;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// Not a log: the "empty" peer of the async workload. Each append writes nothing and completes after one hop through the
/// thread pool (<c>await Task.Yield()</c>), from a pooled state machine. What the process allocates per append under it is
/// the async harness's and the thread pool's own, and its rate is the harness's ceiling on this machine.
/// </summary>
public sealed class ThreadPoolHopLog : IAsyncDurableLog<bool>
{
    public string Name => "empty";

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> AppendDurableAsync(ReadOnlyMemory<byte> payload)
    {
        await Task.Yield();
        return true;
    }

    public void Dispose()
    {
    }
}
