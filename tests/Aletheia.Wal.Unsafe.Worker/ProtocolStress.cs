using Aletheia.Wal.Diagnostics;

namespace Aletheia.Wal.Worker;

/// <summary>
/// <c>protocol-stress DIR THREADS MILLISECONDS</c>: with random delays injected at every protocol step
/// (<see cref="ProtocolDelays"/>), THREADS producers append with every form into three small stripes (so producers
/// share rings, wrap around and fill them) and 64 KiB segments; then the log is read back and checked: LSNs run
/// 1..n without a hole, every record is intact, each producer's records appear in the order it appended them, at the
/// LSNs it was given, and none is missing. Prints "ok ..." or "fail: ..." (exit code 1).
/// <c>protocol-stress DIR THREADS MILLISECONDS pipelined</c>: the same with records up to 6 KB, two 1 MiB stripes, a 128 KiB
/// write buffer, 1 MiB segments, and segment writes of at least a millisecond (<see cref="PipelineStorage"/>), so that batches grow past
/// the 64 KiB hand-over to the writer thread and queue behind its writes (the small stripes never let a batch reach it);
/// fails if two segment writes were ever in progress at once; prints the writer thread's writes too.
/// </summary>
internal static class ProtocolStress
{
    private const int SequenceBits = 40;

    public static int Run(string directory, int threads, int milliseconds, bool pipelined = false)
    {
        if (!ProtocolDelays.Enabled)
        {
            return Fail($"the switch {ProtocolDelays.SwitchName} was not set before the library was first used");
        }

        var options = pipelined
            ? new WalOptions { Directory = directory, StripeCount = 2, StripeCapacityBytes = 1 << 20, WriteBufferBytes = 128 << 10, SegmentSizeBytes = 1 << 20, MaxEntryBytes = 8192 }
            : new WalOptions { Directory = directory, StripeCount = 3, StripeCapacityBytes = 4096, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 1024 };
        long batches = 0;
        long bytes = 0;
        var storage = new PipelineStorage();
        var given = new List<ulong>[threads]; // producer -> the LSN each of its records got, by sequence
        using (WriteAheadLog log = pipelined ? WriteAheadLog.Open(options, storage) : WriteAheadLog.Open(options))
        {
            long deadline = Environment.TickCount64 + milliseconds;
            var workers = new Thread[threads];
            for (int p = 0; p < threads; p++)
            {
                int producer = p;
                given[p] = [];
                workers[p] = new Thread(() => Produce(log, producer, given[producer], deadline, pipelined));
                workers[p].Start();
            }

            foreach (Thread worker in workers)
            {
                if (!worker.Join(TimeSpan.FromMilliseconds(milliseconds + 60_000)))
                {
                    Fail("a producer did not finish within a minute of the deadline (deadlock or lost wake-up)");
                    Environment.Exit(1); // not through Dispose, which would wait for the stuck producers
                }
            }

            log.Flush();
            WalMetrics metrics = log.GetMetrics();
            batches = metrics.Batches;
            bytes = metrics.BytesWritten;
        }

        var next = new int[threads];
        ulong expected = 1;
        using (WalReader reader = WalReader.Open(directory))
        {
            while (reader.TryRead(out WalRecord record))
            {
                ulong key = BitConverter.ToUInt64(record.Payload);
                int producer = (int)(key >> SequenceBits);
                int sequence = (int)(key & ((1UL << SequenceBits) - 1));
                if (record.Lsn.Value != expected)
                {
                    return Fail($"LSN {record.Lsn} follows {expected - 1}: a hole");
                }

                if (producer >= threads || !record.Payload.SequenceEqual(Program.CrashPayload(key, Spread(pipelined))))
                {
                    return Fail($"record {record.Lsn} is damaged");
                }

                if (sequence != next[producer] || given[producer][sequence] != expected)
                {
                    return Fail($"record {record.Lsn} is producer {producer}'s #{sequence}; expected its #{next[producer]}, which it was given LSN {given[producer][next[producer]]}");
                }

                next[producer]++;
                expected++;
            }
        }

        for (int p = 0; p < threads; p++)
        {
            if (next[p] != given[p].Count)
            {
                return Fail($"producer {p} appended {given[p].Count} records but {next[p]} were read back");
            }
        }

        if (storage.Overlaps != 0)
        {
            return Fail($"{storage.Overlaps} segment writes started while another was in progress");
        }

        Console.WriteLine(pipelined
            ? $"ok records={expected - 1} producers={threads} batches={batches} average-batch-bytes={bytes / Math.Max(1, batches)} writer-thread-writes={storage.WriterWrites}"
            : $"ok records={expected - 1} producers={threads}");
        return 0;
    }

    /// <summary>
    /// Appends with a different form each time: Append, TryAppend, in-place Append, AppendDurable, AppendDurableAsync
    /// (<paramref name="pipelined"/>: Append 96 times in 100, so that batches grow while writes are in flight).
    /// </summary>
    private static void Produce(WriteAheadLog log, int producer, List<ulong> given, long deadline, bool pipelined)
    {
        var random = new Random(producer);
        for (int sequence = 0; Environment.TickCount64 < deadline; sequence++)
        {
            ulong key = ((ulong)producer << SequenceBits) | (uint)sequence;
            byte[] payload = Program.CrashPayload(key, Spread(pipelined));
            Lsn lsn;
            switch (random.Next(pipelined ? 100 : 5))
            {
                case 0 or >= 5:
                    lsn = log.Append(payload);
                    break;
                case 1:
                    while (!log.TryAppend(payload, out lsn))
                    {
                        Thread.Yield(); // the stripe is full: let the flush thread drain it
                    }

                    break;
                case 2:
                    lsn = log.Append(payload.Length, payload, static (destination, bytes) => bytes.CopyTo(destination));
                    break;
                case 3:
                    lsn = log.AppendDurable(payload);
                    break;
                default:
                    lsn = log.AppendDurableAsync(payload).AsTask().GetAwaiter().GetResult();
                    break;
            }

            given.Add(lsn.Value);
            if (random.Next(pipelined ? 256 : 16) == 0)
            {
                log.WaitForDurable(new Lsn(given[random.Next(given.Count)]));
            }
        }
    }

    /// <summary>Records up to 716 bytes; pipelined, up to 6,015, so that what accumulates during a write makes a large batch.</summary>
    private static int Spread(bool pipelined) => pipelined ? 6000 : 700;

    private static int Fail(string why)
    {
        Console.WriteLine($"fail: {why}");
        return 1;
    }
}
