using System.Buffers.Binary;
using System.Diagnostics;
using Aletheia.Wal.Perf.Load;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>
/// A burst: two producer threads each append <c>recordsPerProducer</c> records as fast as the log takes them, without
/// waiting for the disk; then one durability call (<see cref="IBurstLog.Flush"/>) ends the burst. The rate is end to end,
/// from the start signal to the Flush's return, so every record counted is durable within it. The log then checks that it
/// holds exactly what was appended (<see cref="IBurstLog.Verify"/>), and a mismatch fails the run.
/// </summary>
internal static class BurstDriver
{
    public const int Producers = 2;

    public static Measured Run(IBurstLog log, int payloadBytes, long recordsPerProducer)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentOutOfRangeException.ThrowIfLessThan(recordsPerProducer, 1);
        using var ready = new CountdownEvent(Producers);
        using var start = new ManualResetEventSlim(false);
        var errors = new Exception?[Producers];
        var threads = new Thread[Producers];
        for (int p = 0; p < Producers; p++)
        {
            int producer = p;
            threads[p] = new Thread(() =>
            {
                byte[] payload = new byte[payloadBytes];
                payload.AsSpan().Fill((byte)(producer + 1));
                BinaryPrimitives.WriteInt32LittleEndian(payload, producer);
                ready.Signal();
                start.Wait();
                try
                {
                    for (long sequence = 0; sequence < recordsPerProducer; sequence++)
                    {
                        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(4), sequence);
                        log.Append(payload);
                    }
                }
                catch (Exception e)
                {
                    errors[producer] = e; // read after Join, which orders it
                }
            })
            {
                IsBackground = true,
                Name = "burst-" + producer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            threads[p].Start();
        }

        ready.Wait();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long started = Stopwatch.GetTimestamp();
        start.Set();
        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        if (errors.FirstOrDefault(e => e is not null) is { } error)
        {
            throw new InvalidOperationException($"A producer of '{log.Name}' failed.", error);
        }

        log.Flush();
        long ended = Stopwatch.GetTimestamp();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        long records = recordsPerProducer * Producers;
        double seconds = (double)(ended - started) / Stopwatch.Frequency;
        string note = log.Verify(records, payloadBytes);
        return new Measured(records / seconds, records * (double)payloadBytes / seconds / 1e6, null, null, (double)allocated / records, records, seconds, note);
    }
}
