namespace Aletheia.Wal.Worker;

/// <summary>
/// A separate process for the tests that need one.
/// <list type="bullet">
/// <item><c>hold-lock DIR</c>: opens the log in DIR, prints "open" and keeps it open until its standard input closes or
/// gets a line; exits 3 if Open throws a WalException (the lock is taken).</item>
/// <item><c>crash-append DIR THREADS</c>: opens (and so recovers) the log, prints "open LASTLSN", then THREADS threads
/// append self-validating records with AppendDurable and print "ack LSN KEY" for each acknowledged one, until killed.</item>
/// <item><c>alloc-flush DIR</c> / <c>alloc-async DIR</c>: measures, in a process where nothing else runs, the bytes the
/// whole process allocates (flush thread and thread pool included) while records are appended and written, or awaited
/// with AppendDurableAsync, after warm-up; prints "allocated N". <c>alloc-flush-metered DIR</c>: alloc-flush with a
/// <see cref="CountingMeterListener"/> enabled for every instrument of the library's meter; prints "allocated N batches B
/// durations D" (D: write-latency measurements in the window). <c>alloc-async-inflight DIR</c>: the same for 4,096 async
/// loops awaiting AppendDurableAsync of 64 B at once (the perf probe's shape, where the releaser completes the waits
/// inline in batches); prints "allocated N appends A" for the best of five one-second windows after warm-up.</item>
/// <item><c>protocol-stress DIR THREADS MILLISECONDS [pipelined]</c>: see <see cref="ProtocolStress"/>.</item>
/// <item><c>async-stress DIR TASKS MILLISECONDS</c>: see <see cref="AsyncWaitStress"/>.</item>
/// <item><c>tail-write DIR POSFILE MILLISECONDS</c>: see <see cref="TailWrite"/>.</item>
/// <item><c>alloc-tail DIR</c>: a live reader follows a writer thread's appends with WaitToReadAsync and TryRead; prints
/// "allocated N records R waits W" for the whole process in the best of five windows after warm-up.</item>
/// <item><c>reader-gc DIR</c>: writes one record, takes its payload from a reader that is then dropped undisposed, lets
/// the GC collect the reader and run finalizers, churns native memory, and prints "intact" if the payload still reads
/// back as written ("changed" otherwise; a read of freed memory may also kill the process).</item>
/// </list>
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["protocol-stress" or "async-stress", ..])
        {
            // Before any type of the library is used: the switch is read once, when ProtocolDelays is initialized.
            AppContext.SetSwitch(Diagnostics.ProtocolDelays.SwitchName, true);
        }

        switch (args)
        {
            case ["hold-lock", string directory]:
                return HoldLock(directory);
            case ["crash-append", string directory, string threads]:
                return CrashAppend(directory, int.Parse(threads, System.Globalization.CultureInfo.InvariantCulture));
            case ["crash-append", string directory, string threads, "burst"]:
                return CrashBurst(directory, int.Parse(threads, System.Globalization.CultureInfo.InvariantCulture));
            case ["alloc-flush", string directory]:
                return AllocFlush(directory, metered: false);
            case ["alloc-flush-metered", string directory]:
                return AllocFlush(directory, metered: true);
            case ["alloc-async", string directory]:
                return await AllocAsync(directory);
            case ["alloc-async-inflight", string directory]:
                return AllocAsyncInFlight(directory);
            case ["alloc-tail", string directory]:
                return await AllocTail(directory);
            case ["tail-write", string directory, string positionFile, string milliseconds]:
                return TailWrite.Run(directory, positionFile, int.Parse(milliseconds, System.Globalization.CultureInfo.InvariantCulture));
            case ["reader-gc", string directory]:
                return ReaderGc(directory);
            case ["async-stress", string directory, string tasks, string milliseconds]:
                return AsyncWaitStress.Run(
                    directory, int.Parse(tasks, System.Globalization.CultureInfo.InvariantCulture), int.Parse(milliseconds, System.Globalization.CultureInfo.InvariantCulture));
            case ["protocol-stress", string directory, string threads, string milliseconds, .. var mode] when mode is [] or ["pipelined"]:
                return ProtocolStress.Run(
                    directory, int.Parse(threads, System.Globalization.CultureInfo.InvariantCulture), int.Parse(milliseconds, System.Globalization.CultureInfo.InvariantCulture), pipelined: mode is ["pipelined"]);
            default:
                Console.Error.WriteLine("usage: hold-lock DIR | crash-append DIR THREADS | alloc-flush DIR | alloc-flush-metered DIR | alloc-async DIR | alloc-async-inflight DIR | reader-gc DIR | protocol-stress DIR THREADS MILLISECONDS [pipelined] | async-stress DIR TASKS MILLISECONDS | tail-write DIR POSFILE MILLISECONDS | alloc-tail DIR");
                return 2;
        }
    }

    /// <summary>Options the crash test's worker and checker share: small segments, so kills land around rotations too.</summary>
    public static WalOptions CrashOptions(string directory) =>
        new() { Directory = directory, SegmentSizeBytes = 256 * 1024, StripeCount = 2, MaxEntryBytes = 4096 };

    /// <summary>A record whose content derives from the key it carries in its first 8 bytes; 16 to 15 + <paramref name="spread"/> bytes long.</summary>
    public static byte[] CrashPayload(ulong key, int spread = 700)
    {
        byte[] payload = new byte[16 + (int)(key % (ulong)spread)];
        BitConverter.TryWriteBytes(payload, key);
        ulong state = key;
        for (int i = 8; i < payload.Length; i++)
        {
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            payload[i] = (byte)(state >> 56);
        }

        return payload;
    }

    private static int CrashAppend(string directory, int threads)
    {
        WriteAheadLog log = WriteAheadLog.Open(CrashOptions(directory));
        Console.WriteLine($"open {log.LastLsn}");
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int seed = Environment.ProcessId * 31 + t;
            workers[t] = new Thread(() =>
            {
                var random = new Random(seed);
                while (true)
                {
                    ulong key = (ulong)random.NextInt64();
                    Lsn lsn = log.AppendDurable(CrashPayload(key));
                    Console.WriteLine($"ack {lsn} {key}"); // printed only once durable: what the test holds the log to
                }
            }) { IsBackground = true };
            workers[t].Start();
        }

        Thread.Sleep(Timeout.Infinite); // until killed
        return 0;
    }

    /// <summary>
    /// Options of the burst crash: segments of 1 MiB and a 128 KiB write buffer, so that batches past the 64 KiB
    /// hand-over go to the writer thread and rotations reserve the segment after the next.
    /// </summary>
    public static WalOptions CrashBurstOptions(string directory) =>
        new() { Directory = directory, SegmentSizeBytes = 1 << 20, WriteBufferBytes = 128 << 10, StripeCount = 2, MaxEntryBytes = 4096, ReserveSegmentsDuringBursts = true };

    /// <summary>
    /// As <see cref="CrashAppend"/>, in bursts: each thread appends rounds of 100 records, then Flush, and only then
    /// prints the round's acknowledgements.
    /// </summary>
    private static int CrashBurst(string directory, int threads)
    {
        WriteAheadLog log = WriteAheadLog.Open(CrashBurstOptions(directory));
        Console.WriteLine($"open {log.LastLsn}");
        for (int t = 0; t < threads; t++)
        {
            int seed = Environment.ProcessId * 31 + t;
            new Thread(() =>
            {
                var random = new Random(seed);
                var round = new (Lsn Lsn, ulong Key)[100];
                while (true)
                {
                    for (int i = 0; i < round.Length; i++)
                    {
                        ulong key = (ulong)random.NextInt64();
                        round[i] = (log.Append(CrashPayload(key)), key);
                    }

                    log.Flush();
                    foreach ((Lsn lsn, ulong key) in round)
                    {
                        Console.WriteLine($"ack {lsn} {key}"); // durable: Flush returned
                    }
                }
            }) { IsBackground = true }.Start();
        }

        Thread.Sleep(Timeout.Infinite); // until killed
        return 0;
    }

    private static WriteAheadLog OpenForAllocation(string directory)
    {
        // Segments large enough that the measured window never rotates (opening a file allocates).
        var log = WriteAheadLog.Open(new WalOptions { Directory = directory, StripeCount = 2, SegmentSizeBytes = 256L << 20 });
        log.TestHookWaitForPreparedSegment();
        return log;
    }

    private static int AllocFlush(string directory, bool metered)
    {
        using CountingMeterListener? listener = metered ? new CountingMeterListener() : null;
        using WriteAheadLog log = OpenForAllocation(directory);
        byte[] payload = new byte[64];
        void Run(int count)
        {
            for (int i = 0; i < count; i++)
            {
                log.Append(payload);
                if ((i & 4095) == 0)
                {
                    log.Flush();
                }
            }

            log.Flush();
        }

        Run(20_000);
        listener?.Collect(); // the observable instruments' callbacks once, outside the windows (they may allocate)
        long least = long.MaxValue;
        long batches = 0;
        long durations = 0;
        for (int window = 0; window < 3; window++)
        {
            long batchesBefore = log.TestHookBatches;
            long durationsBefore = listener?.WriteDurations ?? 0;
            long before = GC.GetTotalAllocatedBytes(precise: true);
            Run(100_000);
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            if (allocated < least)
            {
                least = allocated;
                batches = log.TestHookBatches - batchesBefore;
                durations = (listener?.WriteDurations ?? 0) - durationsBefore;
            }
        }

        // The least of three windows: an allocation per record or per batch shows in every window; the runtime's one-off
        // work (a thread-pool thread started, tiering) in at most one.
        Console.WriteLine(metered ? $"allocated {least} batches {batches} durations {durations}" : $"allocated {least} batches {batches}");
        return 0;
    }

    private static async Task<int> AllocAsync(string directory)
    {
        await using WriteAheadLog log = OpenForAllocation(directory);
        ReadOnlyMemory<byte> payload = new byte[64];
        for (int i = 0; i < 3_000; i++)
        {
            await log.AppendDurableAsync(payload);
        }

        long least = long.MaxValue;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 2_000; i++)
            {
                await log.AppendDurableAsync(payload);
            }

            least = Math.Min(least, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        // The least of three windows, as in AllocFlush.
        Console.WriteLine($"allocated {least}");
        return 0;
    }

    private static int AllocAsyncInFlight(string directory)
    {
        const int Loops = 4_096;
        using WriteAheadLog log = OpenForAllocation(directory);
        var appends = new long[Loops]; // one counter per loop: a shared one would be the contended cache line measured
        int stop = 0;
        Task[] loops = new Task[Loops];
        for (int i = 0; i < Loops; i++)
        {
            int loop = i;
            loops[i] = Task.Run(async () =>
            {
                ReadOnlyMemory<byte> payload = new byte[64];
                while (Volatile.Read(ref stop) == 0) // acquire: a fresh read of the stop flag each append
                {
                    await log.AppendDurableAsync(payload).ConfigureAwait(false);
                    appends[loop]++;
                }
            });
        }

        Thread.Sleep(2_000); // warm-up: every loop's state machine boxed, pools and queues at their size
        (long Allocated, long Appends) best = (long.MaxValue, 0);
        for (int window = 0; window < 5; window++)
        {
            long appendsBefore = appends.Sum();
            long before = GC.GetTotalAllocatedBytes(precise: true);
            Thread.Sleep(1_000);
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            if (allocated < best.Allocated)
            {
                best = (allocated, appends.Sum() - appendsBefore);
            }
        }

        Volatile.Write(ref stop, 1); // release: the loops see it at their next append
        if (!Task.WaitAll(loops, TimeSpan.FromSeconds(60)))
        {
            Console.WriteLine(
                $"{loops.Count(t => !t.IsCompleted)} loops did not end: LastLsn {log.LastLsn}, durable {log.DurableLsn}, registered {log.TestHookRegisteredWaiters}, batches in flight {log.Watermark.TestHookCompletions.TestHookInFlight}");
            return 1;
        }

        // The best of five windows, as in AllocTail: an allocation per append shows in every window.
        Console.WriteLine($"allocated {best.Allocated} appends {best.Appends}");
        return 0;
    }

    private static async Task<int> AllocTail(string directory)
    {
        await using WriteAheadLog log = OpenForAllocation(directory);
        byte[] payload = new byte[64];
        using var stop = new CancellationTokenSource();
        var writer = new Thread(() =>
        {
            // Small durable bursts: the reader catches up between them and waits (asynchronously) for the next.
            while (!stop.IsCancellationRequested)
            {
                for (int i = 0; i < 16; i++)
                {
                    log.Append(payload);
                }

                log.Flush();
            }
        });
        writer.Start();
        await using WalReader reader = log.ReadFrom(Lsn.None);
        long records = 0;
        long waits = 0;
        // Pooled, like the reader's own wait: the harness's state machine must not be what the window counts.
        [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
        async ValueTask Follow(long count)
        {
            long until = records + count;
            while (records < until)
            {
                while (records < until && reader.TryRead(out WalRecord record))
                {
                    records += record.Payload.Length == 64 ? 1 : 1_000_000_000; // a wrong record ends the count badly
                }

                if (records < until)
                {
                    waits++;
                    await reader.WaitToReadAsync().ConfigureAwait(false);
                }
            }
        }

        await Follow(100_000); // warm-up: tiering, the pools of the reader's and the harness's waits filled on every core
        (long Allocated, long Records, long Waits) best = (long.MaxValue, 0, 0);
        // Five windows: an allocation per record or per wait shows in every one; the runtime's occasional one-off (a pool's
        // cache refilled on another thread) in a few at most.
        for (int window = 0; window < 5; window++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long recordsBefore = records;
            long waitsBefore = waits;
            await Follow(100_000);
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            if (allocated < best.Allocated)
            {
                best = (allocated, records - recordsBefore, waits - waitsBefore);
            }
        }

        stop.Cancel();
        writer.Join();
        Console.WriteLine($"allocated {best.Allocated} records {best.Records} waits {best.Waits}");
        return 0;
    }

    private static byte[] ReaderGcPayload()
    {
        byte[] payload = new byte[200_000];
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((i * 31) + 7);
        }

        return payload;
    }

    private static int ReaderGc(string directory)
    {
        using (var log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20, MaxEntryBytes = 250_000 }))
        {
            log.AppendDurable(ReaderGcPayload());
        }

        ReadOnlySpan<byte> payload = FirstPayloadOfAnUndisposedReader(directory);
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        // Native memory churn: a block freed under the span is likely handed out again and overwritten.
        var blocks = new List<IntPtr>();
        for (int i = 0; i < 64; i++)
        {
            unsafe
            {
                void* block = System.Runtime.InteropServices.NativeMemory.AlignedAlloc(1 << 20, 4096);
                new Span<byte>(block, 1 << 20).Fill(0xEE);
                blocks.Add((IntPtr)block);
            }
        }

        Console.WriteLine(payload.SequenceEqual(ReaderGcPayload()) ? "intact" : "changed");
        return 0;
    }

    /// <summary>The reader is a local here: unreachable once this returns, though its record's payload is not.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static ReadOnlySpan<byte> FirstPayloadOfAnUndisposedReader(string directory)
    {
        WalReader reader = WalReader.Open(directory);
        return reader.TryRead(out WalRecord record) ? record.Payload : throw new InvalidOperationException("The log holds no record.");
    }

    private static int HoldLock(string directory)
    {
        try
        {
            using var log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentSizeBytes = 1 << 20 });
            Console.WriteLine("open");
            Console.Out.Flush();
            Console.In.ReadLine();
            return 0;
        }
        catch (WalException e)
        {
            Console.WriteLine($"locked: {e.Message}");
            return 3;
        }
    }
}
