using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Aletheia.Wal.Perf.Load;
using HdrHistogram;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>
/// Async durable appends with N in flight: N asynchronous loops on the thread pool (tasks, not a thread each), each looping
/// "append one record, await its durability". Only appends that start inside the measured window are counted; their latency,
/// from the call to the continuation running, goes to one HdrHistogram. Bytes allocated are the whole process's over the
/// window (the log, the thread pool and the loops, whose state machines are allocated once each before it).
/// </summary>
internal static class AsyncInFlightDriver
{
    private const int PhaseWarmup = 0;
    private const int PhaseMeasure = 1;
    private const int PhaseStop = 2;

    private static readonly TimeSpan s_drainTimeout = TimeSpan.FromSeconds(60);

    public static Measured Run<TResult>(IAsyncDurableLog<TResult> log, int inFlight, int payloadBytes, TimeSpan warmup, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFlight, 1);
        var histogram = new LongConcurrentHistogram(1, Stopwatch.Frequency * 60, 3);
        var phase = new StrongBox<int>(PhaseWarmup);
        var completed = new long[inFlight];
        var loops = new Task[inFlight];
        for (int i = 0; i < inFlight; i++)
        {
            int slot = i;
            loops[i] = Task.Run(() => LoopAsync(log, slot, payloadBytes, phase, histogram, completed));
        }

        Task failed = Task.WhenAny(loops);
        long allocatedBefore = 0;
        long measureStart = 0;
        if (!failed.Wait(warmup))
        {
            allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            measureStart = Stopwatch.GetTimestamp();

            // Release: loops that read the new phase before their next append count it; the histogram and counters need no
            // ordering with it beyond that (they are read only after every loop has ended).
            Volatile.Write(ref phase.Value, PhaseMeasure);
            failed.Wait(duration);
        }

        Volatile.Write(ref phase.Value, PhaseStop);
        long measureEnd = Stopwatch.GetTimestamp();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        if (!Task.WhenAll(loops).Wait(s_drainTimeout))
        {
            throw new TimeoutException($"{loops.Count(t => !t.IsCompleted)} of {inFlight} async loops of '{log.Name}' did not finish within {s_drainTimeout.TotalSeconds:F0} s of the stop.");
        }

        if (measureStart == 0)
        {
            throw new InvalidOperationException($"Peer '{log.Name}' failed during the warm-up.");
        }

        long total = completed.Sum();
        double seconds = (double)(measureEnd - measureStart) / Stopwatch.Frequency;
        double micros = 1_000_000.0 / Stopwatch.Frequency;
        return new Measured(
            total / seconds,
            total * (double)payloadBytes / seconds / 1e6,
            histogram.TotalCount > 0 ? histogram.GetValueAtPercentile(50) * micros : null,
            histogram.TotalCount > 0 ? histogram.GetValueAtPercentile(99) * micros : null,
            total > 0 ? (double)allocated / total : null,
            total,
            seconds,
            Note: null);
    }

    private static async Task LoopAsync<TResult>(
        IAsyncDurableLog<TResult> log, int slot, int payloadBytes, StrongBox<int> phase, LongConcurrentHistogram histogram, long[] completed)
    {
        byte[] payload = new byte[payloadBytes];
        ReadOnlyMemory<byte> memory = payload;
        BinaryPrimitives.WriteInt32LittleEndian(payload, slot);
        long sequence = 0;
        long count = 0;
        long highest = histogram.HighestTrackableValue;
        while (true)
        {
            // Acquire: pairs with the driver's phase stores; a loop that sees the stop issues nothing more.
            int current = Volatile.Read(ref phase.Value);
            if (current == PhaseStop)
            {
                break;
            }

            // The buffer is rewritten only once the last append completed: the log has it (or a copy of it) by then.
            BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(4), sequence++);
            long started = Stopwatch.GetTimestamp();
            await log.AppendDurableAsync(memory).ConfigureAwait(false);
            long elapsed = Stopwatch.GetTimestamp() - started;
            if (current == PhaseMeasure)
            {
                histogram.RecordValue(Math.Min(elapsed, highest));
                count++;
            }
        }

        // Read by the driver after Task.WhenAll, which orders it.
        completed[slot] = count;
    }
}
