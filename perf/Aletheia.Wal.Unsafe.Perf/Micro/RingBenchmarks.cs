using Aletheia.Wal.Ring;
using Aletheia.Wal.Stripes;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Aletheia.Wal.Perf.Micro;

/// <summary>
/// Single thread: append a batch of records, then drain them. Reported per record (OperationsPerInvoke).
/// "Ring" is the bare byte ring (reserve, copy, publish; read in place, zero, release); "Stripe" adds the WAL frame
/// (LSN from the shared counter, CRC-32C over the payload) and the stripe's dispose guard.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class RingBenchmarks
{
    private const int Batch = 1024;

    private Stripe _stripe = null!;
    private LsnSequence _lsns = null!;
    private byte[] _payload = null!;

    [Params(64, 1024)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _stripe = new Stripe(0, 4 << 20);
        _lsns = new LsnSequence();
        _payload = new byte[PayloadBytes];
        new Random(1).NextBytes(_payload);
    }

    [GlobalCleanup]
    public void Cleanup() => _stripe.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    [BenchmarkCategory("AppendDrain")]
    public int Ring()
    {
        ByteRing ring = _stripe.Ring;
        for (int i = 0; i < Batch; i++)
        {
            ring.TryAppend(_payload);
        }

        var sink = new Sink();
        return ring.Drain(ref sink);
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    [BenchmarkCategory("AppendDrain")]
    public int Stripe()
    {
        for (int i = 0; i < Batch; i++)
        {
            _stripe.TryAppend(_payload, _lsns, out _);
        }

        var sink = new Sink();
        return _stripe.Drain(ref sink);
    }

    private struct Sink : IRingRecordHandler, IFrameHandler
    {
        public void OnRecord(ReadOnlySpan<byte> body)
        {
        }

        public void OnFrame(Lsn lsn, ReadOnlySpan<byte> payload)
        {
        }
    }
}
