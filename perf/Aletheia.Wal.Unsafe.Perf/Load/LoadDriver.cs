using System.Buffers.Binary;
using System.Diagnostics;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// Closed-loop durable-append load: <c>threads</c> dedicated threads each loop
/// "append one 64 B record, wait until durable" against one <see cref="IDurableLog"/>.
/// Only appends that start inside the measured window are counted and sampled.
/// </summary>
public static class LoadDriver
{
    /// <summary>Size of every appended record.</summary>
    public const int PayloadSize = 64;

    private const int MaxSamplesPerThread = 2_000_000;

    // 16M samples (128 MiB) across all threads at most, so 64+ threads do not preallocate gigabytes.
    private const long TotalSampleBudget = 16_000_000;

    private const int PhaseWarmup = 0;
    private const int PhaseMeasure = 1;
    private const int PhaseStop = 2;

    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(60);

    public static LoadResult Run(Func<string, IDurableLog> factory, string directory, int threads, TimeSpan warmup, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(warmup, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);

        IDurableLog log = factory(directory);
        bool disposeLog = true;
        try
        {
            using var state = new RunState(threads);
            int samplesPerThread = (int)Math.Min(MaxSamplesPerThread, TotalSampleBudget / threads);
            var workers = new Worker[threads];
            var threadObjects = new Thread[threads];
            for (int i = 0; i < threads; i++)
            {
                workers[i] = new Worker(i, log, state, samplesPerThread);
                threadObjects[i] = new Thread(workers[i].Loop)
                {
                    IsBackground = true,
                    Name = "load-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                };
            }

            foreach (Thread thread in threadObjects)
            {
                thread.Start();
            }

            state.WaitAllReady();
            state.ReleaseStart();

            long measureStart = 0;
            long allocatedBefore = 0;
            if (!state.WaitFailed(warmup))
            {
                allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                measureStart = Stopwatch.GetTimestamp();
                state.SetPhase(PhaseMeasure);
                state.WaitFailed(duration);
            }

            state.SetPhase(PhaseStop);
            long measureEnd = Stopwatch.GetTimestamp();
            long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

            int stuck = JoinAll(threadObjects);
            if (stuck > 0)
            {
                // Threads are still inside the log: disposing it under them would be unsafe.
                disposeLog = false;
                throw new TimeoutException(
                    $"{stuck} of {threads} load threads of peer '{log.Name}' did not stop within {s_stopTimeout.TotalSeconds:F0} s.");
            }

            if (state.Error is { } error)
            {
                throw new InvalidOperationException($"Peer '{log.Name}' failed under load with {threads} threads.", error);
            }

            LoadResult result = Summarize(log.Name, threads, workers, measureStart, measureEnd);
            return result with { BytesPerAppend = result.TotalRecords > 0 ? (double)allocated / result.TotalRecords : null };
        }
        finally
        {
            if (disposeLog)
            {
                log.Dispose();
            }
        }
    }

    private static int JoinAll(Thread[] threads)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(s_stopTimeout.TotalSeconds * Stopwatch.Frequency);
        int stuck = 0;
        foreach (Thread thread in threads)
        {
            long remainingTicks = Math.Max(0, deadline - Stopwatch.GetTimestamp());
            var remaining = TimeSpan.FromSeconds((double)remainingTicks / Stopwatch.Frequency);
            if (!thread.Join(remaining))
            {
                stuck++;
            }
        }

        return stuck;
    }

    private static LoadResult Summarize(string name, int threads, Worker[] workers, long measureStart, long measureEnd)
    {
        long total = 0;
        long recorded = 0;
        foreach (Worker worker in workers)
        {
            total += worker.Completed;
            recorded += worker.Recorded;
        }

        // Outside the measured loop: merge every thread's samples and sort once.
        long[] all = new long[recorded];
        int at = 0;
        foreach (Worker worker in workers)
        {
            Array.Copy(worker.Samples, 0, all, at, worker.Recorded);
            at += worker.Recorded;
        }

        Array.Sort(all);
        double seconds = (double)(measureEnd - measureStart) / Stopwatch.Frequency;
        double perSecond = seconds > 0 ? total / seconds : 0;
        return new LoadResult(name, threads, perSecond, PercentileMicros(all, 0.50), PercentileMicros(all, 0.99), total);
    }

    // Nearest-rank percentile of sorted Stopwatch tick samples, in microseconds.
    private static double PercentileMicros(long[] sorted, double quantile)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        long rank = (long)Math.Ceiling(quantile * sorted.Length);
        long index = Math.Clamp(rank - 1, 0, sorted.Length - 1);
        return sorted[index] * 1_000_000.0 / Stopwatch.Frequency;
    }

    private sealed class RunState : IDisposable
    {
        private readonly CountdownEvent _ready;
        private readonly ManualResetEventSlim _start = new(false);
        private readonly ManualResetEventSlim _failed = new(false);
        private int _phase = PhaseWarmup;
        private Exception? _error;

        public RunState(int threads)
        {
            _ready = new CountdownEvent(threads);
        }

        public int Phase => Volatile.Read(ref _phase);

        public Exception? Error => Volatile.Read(ref _error);

        public void SetPhase(int phase)
        {
            Volatile.Write(ref _phase, phase);
        }

        public void SignalReadyAndWaitStart()
        {
            _ready.Signal();
            _start.Wait();
        }

        public void WaitAllReady()
        {
            _ready.Wait();
        }

        public void ReleaseStart()
        {
            _start.Set();
        }

        // True when a worker failed before the timeout elapsed.
        public bool WaitFailed(TimeSpan timeout)
        {
            return _failed.Wait(timeout);
        }

        public void Fail(Exception error)
        {
            Interlocked.CompareExchange(ref _error, error, null);
            SetPhase(PhaseStop);
            _failed.Set();
        }

        public void Dispose()
        {
            _ready.Dispose();
            _start.Dispose();
            _failed.Dispose();
        }
    }

    private sealed class Worker
    {
        private readonly int _id;
        private readonly IDurableLog _log;
        private readonly RunState _state;
        private readonly byte[] _payload = new byte[PayloadSize];
        private readonly long[] _samples;
        private long _completed;
        private int _recorded;

        public Worker(int id, IDurableLog log, RunState state, int sampleCapacity)
        {
            _id = id;
            _log = log;
            _state = state;
            _samples = new long[sampleCapacity];

            // Touch every page now so the measured loop never page-faults on first use.
            _samples.AsSpan().Fill(-1);
            for (int i = 0; i < _payload.Length; i++)
            {
                _payload[i] = (byte)((id * 31) + i);
            }
        }

        public long Completed => _completed;

        public int Recorded => _recorded;

        public long[] Samples => _samples;

        public void Loop()
        {
            try
            {
                _state.SignalReadyAndWaitStart();
                byte[] payload = _payload;
                long[] samples = _samples;
                IDurableLog log = _log;
                BinaryPrimitives.WriteInt32LittleEndian(payload, _id);
                long sequence = 0;
                long completed = 0;
                int recorded = 0;
                while (true)
                {
                    int phase = _state.Phase;
                    if (phase == PhaseStop)
                    {
                        break;
                    }

                    BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(4), sequence++);
                    long started = Stopwatch.GetTimestamp();
                    log.AppendDurable(payload);
                    long finished = Stopwatch.GetTimestamp();
                    if (phase == PhaseMeasure)
                    {
                        completed++;
                        if (recorded < samples.Length)
                        {
                            samples[recorded++] = finished - started;
                        }
                    }
                }

                _completed = completed;
                _recorded = recorded;
            }
            catch (Exception ex)
            {
                _state.Fail(ex);
            }
        }
    }
}
