using System.Diagnostics.Tracing;
using Aletheia.Wal.Diagnostics;
using BenchmarkDotNet.Attributes;

namespace Aletheia.Wal.Perf.Micro;

/// <summary>
/// What the flush thread's diagnostics cost with nothing listening, per call (OperationsPerInvoke): no call at all (the
/// baseline: the loop and the LSN arithmetic every variant does), the guarded BatchWritten event with the source off,
/// and the whole per-batch hook (<see cref="WalTelemetry.BatchWritten"/>: two histograms' Enabled and the event's guard).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class EventSourceBenchmarks
{
    private const int Calls = 1024;

    private readonly string _directory = "/var/lib/engine/wal";
    private WalTelemetry _telemetry = null!;
    private ulong _lsn;

    [GlobalSetup]
    public void Setup()
    {
        _telemetry = new WalTelemetry(_directory, name: null);
        if (WalEventSource.Log.IsEnabled() || WalMeter.BatchRecords.Enabled || WalMeter.WriteDuration.Enabled)
        {
            throw new InvalidOperationException("Something listens to the library's event source or meter: the figures would not be those of 'off'.");
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public ulong NoCall()
    {
        ulong lsn = _lsn;
        for (int i = 0; i < Calls; i++)
        {
            lsn += 8;
        }

        _lsn = lsn;
        return lsn;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public ulong GuardedEventOff()
    {
        ulong lsn = _lsn;
        for (int i = 0; i < Calls; i++)
        {
            if (WalEventSource.Log.IsEnabled(EventLevel.Verbose, WalEventSource.Keywords.Flush))
            {
                WalEventSource.Log.BatchWritten(_directory, 8, 4096, lsn, lsn + 7, 12.5);
            }

            lsn += 8;
        }

        _lsn = lsn;
        return lsn;
    }

    [Benchmark(OperationsPerInvoke = Calls)]
    public ulong BatchHookOff()
    {
        ulong lsn = _lsn;
        for (int i = 0; i < Calls; i++)
        {
            _telemetry.BatchWritten(8, 4096, lsn, lsn + 7, 1000);
            lsn += 8;
        }

        _lsn = lsn;
        return lsn;
    }
}
