using System.Diagnostics;
using System.Runtime.CompilerServices;
using HdrHistogram;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>
/// <see cref="WriteAheadLog.AppendDurableAsync"/> with a fixed number of appends outstanding: each slot issues its next
/// append as soon as the last one completes, from the completion itself (a thread-pool thread), for the duration.
/// Latency is each append, from the call to its completion running.
/// </summary>
/// <remarks>
/// The slots are plain objects with one cached continuation each, not async methods: a slot allocates nothing per append.
/// The allocation figure is the whole process's (the log's and the thread pool's) less the driver thread's, measured on
/// it (it issues the first appends, waits, and draws the progress line, which allocates).
/// </remarks>
internal sealed class AsyncInFlight
{
    private readonly WriteAheadLog _log;
    private readonly PlannedWorkload _plan;
    private readonly LongConcurrentHistogram _latency = Latency.ForManyThreads();
    private readonly ManualResetEvent _drained = new(false);
    private readonly ManualResetEvent _failed = new(false);
    private readonly Slot[] _slots;
    private int _stop;
    private int _active;
    private long _lastCompletion;
    private Exception? _error;

    private AsyncInFlight(WriteAheadLog log, PlannedWorkload plan)
    {
        _log = log;
        _plan = plan;
        _slots = new Slot[plan.Producers];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot(this, i, plan.PayloadBytes);
        }
    }

    public static WorkloadResult Run(WriteAheadLog log, PlannedWorkload plan, TimeSpan duration, TourPacer pacer)
    {
        var workload = new AsyncInFlight(log, plan);
        try
        {
            return workload.Run(duration, pacer);
        }
        finally
        {
            // Only once drained (the last slot set the event; nothing touches either event after that): if the drain timed
            // out, late completions would set disposed events on pool threads. Undisposed, the GC closes them.
            if (workload._drained.WaitOne(0))
            {
                workload._drained.Dispose();
                workload._failed.Dispose();
            }
        }
    }

    private WorkloadResult Run(TimeSpan duration, TourPacer pacer)
    {
        _active = _slots.Length;
        long driverBefore = GC.GetAllocatedBytesForCurrentThread();
        long processBefore = GC.GetTotalAllocatedBytes(precise: true);
        long started = Stopwatch.GetTimestamp();
        foreach (Slot slot in _slots)
        {
            slot.IssueNext();
        }

        pacer.Wait(started, duration, _failed);

        // Volatile (pairs with StopRequested): a completion that reads the stop issues nothing more; every outstanding append
        // still completes, and its slot retires.
        Volatile.Write(ref _stop, 1);
        if (!_drained.WaitOne(TimeSpan.FromMinutes(1)))
        {
            throw new TimeoutException($"{Volatile.Read(ref _active)} of {_slots.Length} durable async appends did not complete within a minute.");
        }

        long processAllocated = GC.GetTotalAllocatedBytes(precise: true) - processBefore;
        long driverAllocated = GC.GetAllocatedBytesForCurrentThread() - driverBefore;

        // Acquire: pairs with the CAS in Fail.
        if (Volatile.Read(ref _error) is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }

        long[] records = _slots.Select(s => s.Completed).ToArray();
        long total = records.Sum();

        // Acquire: the last slot to retire wrote the time of the last completion before the decrement that drained.
        double seconds = Stopwatch.GetElapsedTime(started, Volatile.Read(ref _lastCompletion)).TotalSeconds;
        double perAppend = total > 0 ? (double)(processAllocated - driverAllocated) / total : 0;
        return new WorkloadResult(_plan, records, seconds, Latency.Summarize(_latency), perAppend, AllocationScope.Process)
        {
            HarnessBytesPerAppend = total > 0 ? (double)driverAllocated / total : 0,
        };
    }

    // Volatile: pairs with the stores in Run and Fail; completions on pool threads must see the stop promptly. It publishes
    // nothing else: the slots' figures reach the driver through the decrement that drains the workload.
    private bool StopRequested => Volatile.Read(ref _stop) != 0;

    private void Fail(Exception error)
    {
        // The first failure wins (published by the CAS); every slot then retires at its next completion.
        Interlocked.CompareExchange(ref _error, error, null);
        Volatile.Write(ref _stop, 1);
        _failed.Set();
    }

    private void Retire(long lastCompletion)
    {
        // Max over the slots of their last completion: a CAS loop, as slots retire on several pool threads at once.
        long seen = Volatile.Read(ref _lastCompletion);
        while (lastCompletion > seen)
        {
            long found = Interlocked.CompareExchange(ref _lastCompletion, lastCompletion, seen);
            if (found == seen)
            {
                break;
            }

            seen = found;
        }

        // Full fence: the last decrement happens after every slot's write above, so the driver woken by it reads the max.
        if (Interlocked.Decrement(ref _active) == 0)
        {
            _drained.Set();
        }
    }

    /// <summary>One outstanding append at a time: its payload buffer, its sequence, and the continuation it reuses.</summary>
    private sealed class Slot
    {
        private readonly AsyncInFlight _owner;
        private readonly int _index;
        private readonly byte[] _payload;
        private readonly Action _onCompleted;
        private ValueTaskAwaiter<Lsn> _awaiter;
        private long _issued;
        private long _completedAt;

        public Slot(AsyncInFlight owner, int index, int payloadBytes)
        {
            _owner = owner;
            _index = index;
            _payload = new byte[payloadBytes];
            _onCompleted = OnCompleted;
            _completedAt = Stopwatch.GetTimestamp();
        }

        /// <summary>Appends completed; read by the driver once the workload drained.</summary>
        public long Completed { get; private set; }

        /// <summary>Issues appends until one is pending (then its completion goes on from here) or the workload stops.</summary>
        public void IssueNext()
        {
            while (!_owner.StopRequested)
            {
                // The buffer is rewritten only once the last append completed: the log has copied it by then.
                BenchRecord.Write(_payload, _owner._plan.Id, _index, Completed);
                ValueTask<Lsn> append;
                _issued = Stopwatch.GetTimestamp();
                try
                {
                    append = _owner._log.AppendDurableAsync(_payload);
                }
                catch (Exception e)
                {
                    _owner.Fail(e);
                    break;
                }

                _awaiter = append.GetAwaiter();
                if (!_awaiter.IsCompleted)
                {
                    // No execution context is captured, and the log's waiter queues itself as the work item: nothing allocated.
                    _awaiter.UnsafeOnCompleted(_onCompleted);
                    return;
                }

                if (!Complete())
                {
                    break;
                }
            }

            _owner.Retire(_completedAt);
        }

        private void OnCompleted()
        {
            if (Complete())
            {
                IssueNext();
            }
            else
            {
                _owner.Retire(_completedAt);
            }
        }

        // Takes the result of the append just completed: false if it failed (the workload then stops).
        private bool Complete()
        {
            try
            {
                _awaiter.GetResult();
            }
            catch (Exception e)
            {
                _owner.Fail(e);
                return false;
            }

            _completedAt = Stopwatch.GetTimestamp();
            Latency.Record(_owner._latency, _completedAt - _issued);
            Completed++;
            return true;
        }
    }
}
