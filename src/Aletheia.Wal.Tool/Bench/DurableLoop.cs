using System.Diagnostics;
using HdrHistogram;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// Closed-loop durable appends: each of the plan's threads loops "<see cref="WriteAheadLog.AppendDurable(ReadOnlySpan{byte})"/>
/// one record, which returns once it is on disk" for the duration. Latency is each call; allocation is what the
/// appending threads allocated, each measured on itself (nothing else runs on them).
/// </summary>
internal static class DurableLoop
{
    public static WorkloadResult Run(WriteAheadLog log, PlannedWorkload plan, TimeSpan duration, TourPacer pacer)
    {
        int threads = plan.Producers;
        var histograms = new LongHistogram[threads];
        long[] records = new long[threads];
        long[] allocated = new long[threads];
        long[] lastReturn = new long[threads];
        for (int i = 0; i < threads; i++)
        {
            histograms[i] = Latency.ForOneThread();
        }

        using var crew = new ThreadCrew(threads);
        long started = crew.Start("bench-durable", index =>
        {
            byte[] payload = new byte[plan.PayloadBytes];
            LongHistogram histogram = histograms[index];
            crew.WaitForStart(index);
            long sequence = 0;
            long returned = Stopwatch.GetTimestamp();
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            while (!crew.StopRequested)
            {
                BenchRecord.Write(payload, plan.Id, index, sequence);
                long called = Stopwatch.GetTimestamp();
                log.AppendDurable(payload);
                returned = Stopwatch.GetTimestamp();
                Latency.Record(histogram, returned - called);
                sequence++;
            }

            allocated[index] = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            records[index] = sequence;
            lastReturn[index] = returned;
        });

        pacer.Wait(started, duration, crew.Ended);
        crew.Stop();
        crew.Join();

        // Every counted append returned by the last thread's last return: the rate is over exactly that span.
        double seconds = Stopwatch.GetElapsedTime(started, lastReturn.Max()).TotalSeconds;
        long total = records.Sum();
        return new WorkloadResult(plan, records, seconds, Latency.Summarize(histograms), total > 0 ? (double)allocated.Sum() / total : 0, AllocationScope.AppendingThreads);
    }
}
