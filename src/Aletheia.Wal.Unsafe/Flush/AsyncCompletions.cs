using System.Diagnostics;

namespace Aletheia.Wal.Flush;

/// <summary>
/// Where the async release (<see cref="DurableWatermark"/>'s releaser, on a thread-pool thread) completes the async
/// waiters it takes from the registry: inline, one continuation after the other, in batches of up to
/// <see cref="AsyncCompletionBatch.Capacity"/>, instead of handing each to the thread pool. At 4,096 async waits in
/// flight that hand-off (a global-queue entry, a dispatch, often a worker woken, and the waiters' cache lines moving to
/// that worker's core) was about a quarter of the CPU per append.
/// </summary>
/// <remarks>
/// <para>Running continuations inline has hazards that one work item per continuation does not: a continuation that
/// blocks stalls the releaser, and with it every async wait of the log. One that blocks until a later continuation of its
/// batch has run, or until another async wait of the log completes (sync-over-async), would wait forever. So a batch
/// never belongs to the thread running it: each waiter is claimed from it with an interlocked increment. A watchdog
/// timer, armed while batches are in flight, looks every <see cref="StallMilliseconds"/>: a batch whose claims stood
/// still for that long is queued to the thread pool again, so that another thread claims the rest, and the releaser is
/// queued again, so that the next release passes run on another thread (the releaser's state word allows passes to
/// overlap: each completes whatever is ready when it looks). Each once per stall: a second run of the batch is queued
/// only after the first one claimed (before, it would wait behind it), and a second release pass only after the stalled
/// pass began another (the one queued resets the state word, so later advances queue their own passes; found by
/// review: every stall period queued one more, 100 a second for as long as a continuation blocked, after disposal too).
/// A blocking continuation delays the others by 10 to 20 ms, never forever; if the thread pool is starved, its own
/// thread injection comes first, as for any work item (the watchdog's timer callback is a work item too).</para>
/// <para>A batch is handed to another thread only once its pass has filled it: until <see cref="AsyncCompletionBatch.RunClaims"/>
/// publishes the count, the batch has nothing to claim (found by review: a pass preempted between two adds lost the
/// waiter it added after a rescued run's last, failed claim had taken its index).</para>
/// <para>Between two continuations the thread's execution context and synchronization context, and its priority,
/// background flag and name, are put back as they were, as the thread pool does between two work items, so that nothing
/// one continuation set leaks into the next (found by review: the last three did).</para>
/// </remarks>
internal sealed class AsyncCompletions
{
    /// <summary>How long a batch's claims may stand still before the watchdog hands the rest, and the release, to other threads.</summary>
    public const int StallMilliseconds = 10;

    private static readonly long s_stallTicks = Stopwatch.Frequency * StallMilliseconds / 1000;

    private readonly object _lock = new();
    private readonly Stack<AsyncCompletionBatch> _free = new();   // guarded by _lock
    private readonly IThreadPoolWorkItem _releaser;
    private readonly Timer _watchdog;
    private AsyncCompletionBatch[] _inFlight = new AsyncCompletionBatch[4]; // [0, _inFlightCount): started, not yet done; guarded by _lock
    private int _inFlightCount;  // guarded by _lock
    private bool _watching;      // the watchdog is armed; guarded by _lock
    private long _rescues;       // guarded by _lock

    /// <param name="releaser">The work item of the release passes, queued again when a pass stands still in a continuation.</param>
    public AsyncCompletions(IThreadPoolWorkItem releaser)
    {
        _releaser = releaser;

        // The timer must not capture the creator's execution context (an engine's AsyncLocals would live on in it).
        bool suppress = !ExecutionContext.IsFlowSuppressed();
        AsyncFlowControl flow = suppress ? ExecutionContext.SuppressFlow() : default;
        try
        {
            _watchdog = new Timer(static state => ((AsyncCompletions)state!).Watch(), this, Timeout.Infinite, Timeout.Infinite);
        }
        finally
        {
            if (suppress)
            {
                flow.Undo();
            }
        }
    }

    /// <summary>Test hook: stalled batches the watchdog handed to other threads.</summary>
    internal long TestHookRescues
    {
        get
        {
            lock (_lock)
            {
                return _rescues;
            }
        }
    }

    /// <summary>Test hook: batches started and not yet done.</summary>
    internal int TestHookInFlight
    {
        get
        {
            lock (_lock)
            {
                return _inFlightCount;
            }
        }
    }

    /// <summary>A release pass starts: an empty batch, watched until <see cref="Finish"/>, with the pass as its one executor.</summary>
    public AsyncCompletionBatch Start()
    {
        lock (_lock)
        {
            AsyncCompletionBatch batch = _free.Count > 0 ? _free.Pop() : new AsyncCompletionBatch(this);
            batch.Executors = 1;
            batch.WatchedProgress = -1;
            batch.ReleaseHandedOff = false;
            if (_inFlightCount == _inFlight.Length)
            {
                Array.Resize(ref _inFlight, _inFlight.Length * 2); // grows only past the most batches in flight so far
            }

            batch.Slot = _inFlightCount;
            _inFlight[_inFlightCount++] = batch;
            if (!_watching)
            {
                _watching = true;
                _watchdog.Change(StallMilliseconds, StallMilliseconds);
            }

            return batch;
        }
    }

    /// <summary>
    /// The pass ran every waiter of <paramref name="batch"/>: the batch to fill next. The same one, emptied, unless the
    /// watchdog queued it meanwhile; then the pass leaves it to that executor and starts a new one.
    /// </summary>
    public AsyncCompletionBatch Next(AsyncCompletionBatch batch)
    {
        lock (_lock)
        {
            if (batch.Executors == 1)
            {
                batch.Reset();
                return batch;
            }
        }

        Finish(batch);
        return Start();
    }

    /// <summary>
    /// The async releaser begins a pass over the registry with <paramref name="batch"/>, after it published that it looks
    /// (its state word): a stall from now on is this pass's, and the watchdog may queue the releaser once for it.
    /// </summary>
    public void PassStarting(AsyncCompletionBatch batch)
    {
        // Under the lock, as the watchdog reads and sets the flag: if it set it before this, it queued a pass that may
        // have run before this one began, and this one's stall needs its own; if after, the pass it queued starts after
        // this one's state-word store, so its compare-exchange covers the advances that relied on this one.
        lock (_lock)
        {
            batch.ReleaseHandedOff = false;
        }
    }

    /// <summary>An executor of <paramref name="batch"/> (the pass that filled it, or a re-queued run) is done with it; the last one gives it back.</summary>
    public void Finish(AsyncCompletionBatch batch)
    {
        lock (_lock)
        {
            if (--batch.Executors != 0)
            {
                return; // another executor runs, or a queued one is still to come
            }

            AsyncCompletionBatch last = _inFlight[--_inFlightCount];
            _inFlight[batch.Slot] = last;
            last.Slot = batch.Slot;
            _inFlight[_inFlightCount] = null!;
            batch.Reset();
            _free.Push(batch);
        }
    }

    /// <summary>The watchdog: hands every batch that stood still for a stall period to other threads.</summary>
    private void Watch()
    {
        lock (_lock)
        {
            // Read under the lock: a tick that waited for it with an earlier time would date a progress it sees now to
            // before it was made, and take a batch that stood still for less than a period for stalled.
            long now = Stopwatch.GetTimestamp();
            if (_inFlightCount == 0)
            {
                _watching = false;
                _watchdog.Change(Timeout.Infinite, Timeout.Infinite);
                return;
            }

            for (int i = 0; i < _inFlightCount; i++)
            {
                AsyncCompletionBatch batch = _inFlight[i];
                long progress = batch.Progress;
                if (progress != batch.WatchedProgress)
                {
                    batch.WatchedProgress = progress;
                    batch.WatchedSince = now;
                    continue;
                }

                if (now - batch.WatchedSince < s_stallTicks)
                {
                    continue;
                }

                // A continuation of this batch has run for a whole stall period (or its run waits in a busy thread
                // pool's queue). Its other waiters go to another thread, and so do the next release passes: each once
                // per stall (see the remarks).
                batch.WatchedSince = now;
                bool handed = false;
                if (batch.HasUnclaimed && progress != batch.RunQueuedAt)
                {
                    batch.RunQueuedAt = progress; // the run moves the progress with its first claim
                    batch.Executors++;
                    ThreadPool.UnsafeQueueUserWorkItem(batch, preferLocal: false);
                    handed = true;
                }

                if (!batch.ReleaseHandedOff)
                {
                    batch.ReleaseHandedOff = true; // cleared when the pass begins another (PassStarting)
                    ThreadPool.UnsafeQueueUserWorkItem(_releaser, preferLocal: false);
                    handed = true;
                }

                if (handed)
                {
                    _rescues++;
                }
            }
        }
    }
}

/// <summary>
/// Up to <see cref="Capacity"/> released async waiters, each with its outcome set (<see cref="DurableWaiter.SetOutcome"/>),
/// completed by the release pass that filled it (<see cref="RunClaims"/>) and by any run the watchdog queued: each claims
/// the next waiter until none is left.
/// </summary>
internal sealed class AsyncCompletionBatch(AsyncCompletions owner) : IThreadPoolWorkItem
{
    /// <summary>Waiters per batch: the waiters one release pass takes from the registry under its lock at a time.</summary>
    public const int Capacity = 16;

    private readonly DurableWaiter?[] _waiters = new DurableWaiter?[Capacity];
    private int _filled; // waiters added; the filling pass's own until RunClaims publishes it
    private int _count;  // waiters to claim: 0 while the pass fills, then _filled (RunClaims); a re-queued run reads it after the lock and queue
    private int _claims; // the next index to claim; may run past _count (each executor's last, failed claim)
    private int _fills;  // times emptied for the next fill: with _claims, the watchdog's measure of progress

    /// <summary>Queued runs plus running executors; guarded by the owner's lock.</summary>
    internal int Executors { get; set; }

    /// <summary>This batch's index in the owner's in-flight list; guarded by the owner's lock.</summary>
    internal int Slot { get; set; }

    /// <summary>The watchdog's last view of <see cref="Progress"/>, and since when it stands; guarded by the owner's lock.</summary>
    internal long WatchedProgress { get; set; }

    internal long WatchedSince { get; set; }

    /// <summary>The progress at which the watchdog last queued a run of this batch (-1: none since the fill); guarded by the owner's lock.</summary>
    internal long RunQueuedAt { get; set; } = -1;

    /// <summary>The watchdog queued the releaser for a stall of the filling pass's current pass; guarded by the owner's lock.</summary>
    internal bool ReleaseHandedOff { get; set; }

    /// <summary>Grows with every claim and every fill; read by the watchdog under the owner's lock.</summary>
    // Acquire: pairs with the executors' interlocked claims; _fills is written under the owner's lock, which the reader holds.
    internal long Progress => ((long)_fills << 32) | (uint)Volatile.Read(ref _claims);

    // Acquire, as above; the count is 0 until the filling pass published it (RunClaims), so a batch being filled has
    // nothing unclaimed and is never queued.
    internal bool HasUnclaimed => Volatile.Read(ref _claims) < Volatile.Read(ref _count);

    public int Count => _filled;

    /// <summary>The filling pass: adds a waiter it took from the registry, its outcome set. Nobody else sees it until <see cref="RunClaims"/>.</summary>
    public void Add(DurableWaiter waiter) => _waiters[_filled++] = waiter;

    /// <summary>A run the watchdog queued: claims and completes what the stalled executor left.</summary>
    public void Execute()
    {
        Claim();
        owner.Finish(this);
    }

    /// <summary>The filling pass, once it added every waiter: publishes them, then claims and completes waiters, each continuation inline, until none is left to claim.</summary>
    public void RunClaims()
    {
        // Release: the waiters stored by Add are visible to whoever reads this count: the watchdog (under the owner's
        // lock), and through its queueing the run it queues. Before this store the count was 0 (Reset).
        Volatile.Write(ref _count, _filled);
        Claim();
    }

    /// <summary>Claims and completes waiters, each continuation inline, until none is left to claim.</summary>
    private void Claim()
    {
        // The contexts and thread state the thread pool gave this thread: put back after every continuation, as it does
        // between work items (ThreadPoolWorkQueue.Dispatch resets priority, background flag and name too).
        ExecutionContext? context = ExecutionContext.Capture();
        Thread thread = Thread.CurrentThread;
        ThreadPriority priority = thread.Priority;
        bool background = thread.IsBackground;
        string? name = thread.Name;
        while (true)
        {
            // Full fence; claims index i for this thread alone (a re-queued run may claim beside the filling pass).
            int i = Interlocked.Increment(ref _claims) - 1;
            if (i >= _count)
            {
                return;
            }

            DurableWaiter waiter = _waiters[i]!;
            _waiters[i] = null;
            waiter.RunCompletion(); // the continuation, inline; the waiter may be reused at once
            if (context is not null && ExecutionContext.Capture() != context)
            {
                ExecutionContext.Restore(context);
            }

            if (SynchronizationContext.Current is not null)
            {
                SynchronizationContext.SetSynchronizationContext(null);
            }

            PutBack(thread, priority, background, name);
        }
    }

    /// <summary>What a continuation may have changed on its thread and the thread pool puts back between work items: a few nanoseconds when nothing changed.</summary>
    private static void PutBack(Thread thread, ThreadPriority priority, bool background, string? name)
    {
        if (thread.Priority != priority)
        {
            thread.Priority = priority;
        }

        if (thread.IsBackground != background)
        {
            thread.IsBackground = background;
        }

        if (!ReferenceEquals(thread.Name, name))
        {
            thread.Name = name;
        }
    }

    /// <summary>Owner, under its lock, when the batch is emptied for the next fill or given back.</summary>
    internal void Reset()
    {
        _filled = 0;
        _count = 0;
        Volatile.Write(ref _claims, 0); // release: after the count, for a watchdog reading both (it holds the lock anyway)
        _fills++;
        RunQueuedAt = -1;
    }
}
