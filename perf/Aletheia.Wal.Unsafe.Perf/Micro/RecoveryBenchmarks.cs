using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;

namespace Aletheia.Wal.Perf.Micro;

/// <summary>
/// Reads (and so verifies: every CRC-32C, LSN and header) a 256 MiB log of 1 KiB records with <see cref="WalReader"/>,
/// as recovery at open does, and opens the log as a writer (recovery, sealing its end, starting the flush thread) and
/// closes it. The files are in the page cache, so this measures verification and the writes of the seal, not reads from
/// the disk. Throughput = 256 MiB / Mean.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class RecoveryBenchmarks
{
    public const long LogBytes = 256L << 20;

    private string _directory = null!;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "aletheia-recovery-bench-" + Guid.NewGuid().ToString("N"));
        byte[] payload = new byte[1024];
        new Random(1).NextBytes(payload);
        using var log = WriteAheadLog.Open(new WalOptions { Directory = _directory, SegmentSizeBytes = 64L << 20 });
        for (long written = 0; written < LogBytes; written += payload.Length + 16)
        {
            log.Append(payload);
        }

        log.Flush();
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_directory, recursive: true);

    [Benchmark]
    public long OpenAndClose256MiB()
    {
        using var log = WriteAheadLog.Open(new WalOptions { Directory = _directory, SegmentSizeBytes = 64L << 20 });
        return (long)log.LastLsn.Value;
    }

    [Benchmark]
    public long ReadAndVerify256MiB()
    {
        long bytes = 0;
        using WalReader reader = WalReader.Open(_directory);
        while (reader.TryRead(out WalRecord record))
        {
            bytes += record.Payload.Length;
        }

        return bytes;
    }
}
