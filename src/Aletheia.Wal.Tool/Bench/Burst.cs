using System.Diagnostics;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// A burst: the plan's producers (two) call <see cref="WriteAheadLog.Append(ReadOnlySpan{byte})"/> as fast as the log
/// takes records (it blocks a producer only while its stripe is full), for the duration or until they appended
/// <see cref="VolumeCapBytes"/> of payload; then one <see cref="WriteAheadLog.Flush()"/>. The rate is end to end: from
/// the first append to the Flush's return, so every record counted is on disk within it. No per-call latency is
/// reported (an append does not wait for the disk); the Flush's time is: from the last append's return to its own.
/// </summary>
internal static class Burst
{
    /// <summary>Payload bytes after which a burst stops even if its duration has not run out: keeps a long run on a fast disk within a few GiB.</summary>
    public const long VolumeCapBytes = 2L << 30;

    public static WorkloadResult Run(WriteAheadLog log, PlannedWorkload plan, TimeSpan duration, TourPacer pacer)
    {
        int producers = plan.Producers;
        long[] records = new long[producers];
        long[] allocated = new long[producers];
        long[] firstAppend = new long[producers];
        long[] lastAppend = new long[producers];
        long perProducerCap = VolumeCapBytes / producers / plan.PayloadBytes;
        int capped = 0;

        using var crew = new ThreadCrew(producers);
        long started = crew.Start("bench-burst", index =>
        {
            byte[] payload = new byte[plan.PayloadBytes];
            crew.WaitForStart(index);
            long sequence = 0;
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            firstAppend[index] = Stopwatch.GetTimestamp();
            while (!crew.StopRequested)
            {
                if (sequence == perProducerCap)
                {
                    Interlocked.Increment(ref capped); // read by the driver after Join, which orders it
                    break;
                }

                BenchRecord.Write(payload, plan.Id, index, sequence);
                log.Append(payload);
                sequence++;
            }

            lastAppend[index] = Stopwatch.GetTimestamp();
            allocated[index] = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            records[index] = sequence;
        });

        pacer.Wait(started, duration, crew.Ended);
        crew.Stop();
        crew.Join();
        log.Flush();
        long flushed = Stopwatch.GetTimestamp();

        long total = records.Sum();
        double seconds = Stopwatch.GetElapsedTime(firstAppend.Min(), flushed).TotalSeconds;
        return new WorkloadResult(plan, records, seconds, Latency: null, total > 0 ? (double)allocated.Sum() / total : 0, AllocationScope.AppendingThreads)
        {
            FlushMilliseconds = Stopwatch.GetElapsedTime(lastAppend.Max(), flushed).TotalMilliseconds,
            StoppedBy = capped > 0 ? "volume" : "duration",
        };
    }
}
