using System.Diagnostics;
using System.Runtime.CompilerServices;
using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Native;
using Microsoft.Extensions.ObjectPool;

namespace Aletheia.Wal.Flush;

/// <summary>
/// Completion by watermark: the flush thread advances one durable LSN; a wait for LSN n compares against it, and only
/// parks (on a pooled <see cref="DurableWaiter"/>) when it has to. Nothing is allocated per record or per wait.
/// </summary>
/// <remarks>
/// Waking is a cascade: after an advance the flush thread wakes at most <see cref="RootWakes"/> parked sync waiters,
/// and every sync waiter woken wakes <see cref="WakesPerStep"/> more before returning. Sixty-four parked threads are
/// woken in three steps spread over the threads that must run anyway, while the flush thread goes back to writing the
/// next batch. The async waiters are not the flush thread's to complete at all: it queues one work item
/// (<see cref="AsyncReleaser"/>) that takes the ready ones from their queue and completes them itself, their
/// continuations inline (<see cref="AsyncCompletions"/>, which keeps a blocking continuation from stalling the others),
/// so that thousands of async waits in flight cost the flush thread one queueing per write, not one per waiter.
/// </remarks>
internal sealed class DurableWatermark : IDisposable
{
    /// <summary>Sync waiters one release step wakes; each woken waiter takes the next step.</summary>
    public const int WakesPerStep = 4;

    /// <summary>Sync waiters the flush thread itself wakes after an advance: few, so that its next write starts soon.</summary>
    public const int RootWakes = 2;

    private const int SpinChecksBeforePark = 2;
    private const int MaxPooledWaiters = 1024;

    /// <summary>Waiters made at construction: enough for every thread of a large machine parking at once.</summary>
    private static readonly int InitialPooledWaiters = Math.Clamp(Environment.ProcessorCount * 8, 16, 256);

    /// <summary>How long the one spinning waiter may spin (yielding) before it parks too: about a few writes.</summary>
    private static readonly long s_spinnerBudgetTicks = System.Diagnostics.Stopwatch.Frequency / 2000; // 500 us

    private readonly object _gate = new();
    private readonly WaiterQueue _syncWaiters = new(initialCapacity: 64);   // parked threads; guarded by _gate
    private readonly WaiterQueue _asyncWaiters = new(initialCapacity: 256); // pending ValueTasks; guarded by _gate
    private readonly ObjectPool<DurableWaiter> _pool;
    private readonly Stripes.LsnSequence? _lsns;
    private readonly AsyncReleaser _asyncReleaser;
    private readonly AsyncCompletions _completions;
    private PaddedInt64 _durable; // mutable struct: do not make this readonly
    private int _syncWaiterCount;  // _syncWaiters.Count, readable without the lock
    private int _asyncWaiterCount; // _asyncWaiters.Count, readable without the lock
    private int _asyncRelease;     // AsyncReleaser: 0 idle, 1 queued or running, 2 asked to look again
    private int _spinner;         // 1 while one waiter spins through a write instead of parking
    private Exception? _fault;
    private bool _stopping;       // guarded by _gate

    /// <param name="durable">The durable LSN to start from.</param>
    /// <param name="lsns">The log's LSN sequence: it knows which records TruncateAfter dropped, for the waits of durable
    /// appends (an epoch given); null: no such waits.</param>
    public DurableWatermark(Lsn durable, Stripes.LsnSequence? lsns = null)
    {
        _lsns = lsns;
        _asyncReleaser = new AsyncReleaser(this);
        _completions = new AsyncCompletions(_asyncReleaser);
        _durable.Value = (long)durable.Value;
        _pool = new DefaultObjectPool<DurableWaiter>(new WaiterPolicy(this), maximumRetained: MaxPooledWaiters);

        // Fill the pool now (and with it the pool's internal queue), so that the first parks of steady state take
        // waiters instead of allocating them.
        var initial = new DurableWaiter[InitialPooledWaiters];
        for (int i = 0; i < initial.Length; i++)
        {
            initial[i] = _pool.Get();
        }

        foreach (DurableWaiter waiter in initial)
        {
            _pool.Return(waiter);
        }
    }

    /// <summary>Every record with an LSN at or below this is durable.</summary>
    // Acquire: pairs with Advance's release store, so a caller that sees n also sees what became durable with it.
    public Lsn Durable => new((ulong)Volatile.Read(ref _durable.Value));

    /// <summary>The cause of the fault, once the log is faulted; null before.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>True when <paramref name="lsn"/> is durable or the log is faulted (a wait would return or throw at once).</summary>
    public bool IsComplete(Lsn lsn) => Durable >= lsn || Fault is not null;

    /// <summary>Flush thread: every record up to <paramref name="durable"/> returned from a write-through write.</summary>
    public void Advance(Lsn durable)
    {
        // Release: waiters that acquire the new value are ordered after the write that made it durable.
        Volatile.Write(ref _durable.Value, (long)durable.Value);
        ProtocolDelays.Step(); // waiters register between the store and the count check

        // Full fence (store-load): Register increments its kind's count (full fence) and then re-reads _durable; we
        // store _durable and then read the counts. One side sees the other, so no waiter sleeps through its completion.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _syncWaiterCount) != 0)
        {
            ReleaseReady(RootWakes, includeAsync: false);
        }

        if (Volatile.Read(ref _asyncWaiterCount) != 0)
        {
            ScheduleAsyncRelease();
        }
    }

    /// <summary>Faults the watermark: every current and later wait throws a <see cref="WalException"/> holding <paramref name="cause"/>.</summary>
    public void SetFaulted(Exception cause)
    {
        // Full fence; first fault wins, so every waiter reports the same cause.
        Interlocked.CompareExchange(ref _fault, cause, null);
        ReleaseReady(int.MaxValue, includeAsync: true);
    }

    /// <summary>
    /// The cut of <c>TruncateAfter(<paramref name="lsn"/>)</c>, with the flush thread held and no append in progress: the
    /// durable LSN falls back to <paramref name="lsn"/> (records above it are gone, and the LSNs will be handed out
    /// again), and every registered wait above it fails with <see cref="WalTruncatedException"/>.
    /// </summary>
    public void Rewind(Lsn lsn)
    {
        var dropped = new List<DurableWaiter>();
        lock (_gate)
        {
            // Release: a waiter that registers after this (under the lock) and reads the lowered value waits for the LSN
            // as handed out again; one registered before is taken out here, before the lock is let go.
            Volatile.Write(ref _durable.Value, (long)lsn.Value);
            _syncWaiters.RemoveAbove(lsn.Value, dropped);
            _asyncWaiters.RemoveAbove(lsn.Value, dropped);
            foreach (DurableWaiter waiter in dropped)
            {
                MarkRemovedUnderLock(waiter);
            }
        }

        foreach (DurableWaiter waiter in dropped)
        {
            waiter.Complete(new WalTruncatedException(
                new Lsn(waiter.Target), $"LSN {waiter.Target} was dropped by TruncateAfter({lsn}) before this wait saw it durable: it is not acknowledged, and the LSN will be handed out again."));
        }
    }

    /// <summary>Waits until <paramref name="lsn"/> is durable: a few checks, then parks on a pooled waiter.</summary>
    /// <remarks>
    /// A wait that ends early (timeout or cancellation) leaves nothing registered: it takes its waiter out of the registry
    /// itself, or, when a release or the cancellation callback took it first, waits for that party's completion (which
    /// is imminent: it was taken, only its signal is pending) and reports it. Either way the waiter goes back to the pool
    /// once, from this thread, after its last signal; no wake-up is lost and no release can touch it afterwards.
    /// A record already durable is reported as such even with a cancelled token or a zero timeout.
    /// </remarks>
    /// <returns>False if <paramref name="millisecondsTimeout"/> passed first (0: a check only, never parks).</returns>
    /// <exception cref="WalException">The log is faulted.</exception>
    /// <exception cref="ObjectDisposedException">The watermark was disposed before <paramref name="lsn"/> became durable.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <param name="lsn">The LSN to wait for.</param>
    /// <param name="millisecondsTimeout">How long at most.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <param name="epoch">For a durable append's own record: the resets made before its LSN was taken
    /// (<see cref="Stripes.LsnSequence.ResetsAtLastTake"/>); the wait throws <see cref="WalTruncatedException"/> if a
    /// TruncateAfter dropped that record, even when its LSN is durable again (another record's). -1: any record.</param>
    public bool Wait(Lsn lsn, int millisecondsTimeout = Timeout.Infinite, CancellationToken cancellationToken = default, int epoch = -1)
    {
        for (int i = 0; i < SpinChecksBeforePark; i++)
        {
            if (CheckComplete(lsn, epoch))
            {
                return true;
            }

            Thread.SpinWait(8);
        }

        if (millisecondsTimeout == 0)
        {
            return CheckComplete(lsn, epoch);
        }

        cancellationToken.ThrowIfCancellationRequested();
        long started = millisecondsTimeout == Timeout.Infinite ? 0 : Environment.TickCount64;

        // One waiter at a time may spin through a whole write: at low concurrency that saves the two thread wake-ups
        // (about 30 us each on a VM) that would otherwise double a durable append's latency. It yields the core on
        // every step, so it only uses CPU nobody else wants, and the others park at once. Not when as many waiters as
        // cores are parked already: then the cores are busy waking them, and a spinner would only take turns from them
        // and jump the queue (at 64 threads it doubled the p99 latency). Its budget (500 us) is below the smallest
        // timeout but zero, and a cancellation during it is seen by the registration below.
        // Interlocked: claims the single spinner slot; no ordering needed beyond atomicity.
        if (Volatile.Read(ref _syncWaiterCount) < Environment.ProcessorCount && Interlocked.CompareExchange(ref _spinner, 1, 0) == 0)
        {
            try
            {
                long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + s_spinnerBudgetTicks;
                SpinWait spinner = default;
                while (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
                {
                    if (CheckComplete(lsn, epoch))
                    {
                        return true;
                    }

                    spinner.SpinOnce(sleep1Threshold: -1);
                }
            }
            finally
            {
                Volatile.Write(ref _spinner, 0);
            }
        }

        int parkTimeout = RemainingMilliseconds(started, millisecondsTimeout);
        if (parkTimeout == 0)
        {
            return CheckComplete(lsn, epoch); // the spin used the whole (millisecond-granular) timeout
        }

        DurableWaiter waiter = _pool.Get();
        waiter.PrepareSync(lsn.Value, cancellationToken, epoch);
        try
        {
            if (!Register(waiter))
            {
                // Durable (or faulted) when it registered, and taken back by this thread: durable then, whatever a later
                // TruncateAfter did (found by review: a rewind between the two could make an infinite wait return false).
                return CompletedAtRegistration(lsn, epoch);
            }

            if (!waiter.WaitSignal(parkTimeout))
            {
                TestHookTimedOut?.Invoke(); // timed out, still to take itself out: a release or a cancellation races
                if (TryRemove(waiter))
                {
                    // Removed by this thread: no release or cancellation callback has it, or will. Durable meanwhile (a
                    // release pass of the wake cascade had not reached it yet)? Then it is not a timeout (found by review).
                    return CheckComplete(lsn, epoch);
                }

                // A release (or the cancellation callback) removed it first and owns its completion: that party is
                // about to signal. Wait for the signal, so the waiter is not reused while it may still be completed,
                // and report what it says; a release counted it as one of its wakes, so it takes its cascade step.
                waiter.WaitSignal(Timeout.Infinite);
            }

            // Take the next step of the wake cascade for the waiters still parked.
            if (Volatile.Read(ref _syncWaiterCount) != 0)
            {
                ReleaseReady(WakesPerStep, includeAsync: false);
            }

            if (waiter.Error is { } error)
            {
                throw error; // a fresh exception made for this waiter
            }

            return true;
        }
        finally
        {
            waiter.UnregisterCancellation(); // a callback still running ends first: it must not see the waiter reset
            ReturnWaiter(waiter);
        }
    }

    /// <summary>Completes when <paramref name="lsn"/> is durable; faults with <see cref="WalException"/> if the log faults.</summary>
    public ValueTask<Lsn> WaitAsync(Lsn lsn, CancellationToken cancellationToken, int epoch = -1)
    {
        if (Durable >= lsn)
        {
            // Durable, then dropped? Read in this order: a cut resets the sequence before it lowers the durable LSN, and
            // the LSN becomes durable again only after that, so a durable LSN of another record shows its reset here.
            return DroppedError(lsn.Value, epoch) is { } dropped ? ValueTask.FromException<Lsn>(dropped) : new ValueTask<Lsn>(lsn);
        }

        if (Fault is { } fault)
        {
            return ValueTask.FromException<Lsn>(Faulted(fault));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<Lsn>(cancellationToken);
        }

        DurableWaiter waiter = StartAsyncWait(lsn, cancellationToken, epoch);
        return new ValueTask<Lsn>(waiter, waiter.Version);
    }

    /// <summary>As <see cref="WaitAsync"/>, without a result.</summary>
    public ValueTask WaitWithoutResultAsync(Lsn lsn, CancellationToken cancellationToken, int epoch = -1)
    {
        if (Durable >= lsn)
        {
            return DroppedError(lsn.Value, epoch) is { } dropped ? ValueTask.FromException(dropped) : default; // as in WaitAsync
        }

        if (Fault is { } fault)
        {
            return ValueTask.FromException(Faulted(fault));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        DurableWaiter waiter = StartAsyncWait(lsn, cancellationToken, epoch);
        return new ValueTask(waiter, waiter.Version);
    }

    /// <summary>Releases every wait: durable ones succeed; the others, and later ones, fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            // Under the lock: a Register either comes before (and is released below) or sees it.
            _stopping = true;
        }

        ReleaseReady(int.MaxValue, includeAsync: true);
    }

    internal void ReturnWaiter(DurableWaiter waiter)
    {
        waiter.Reset();
        _pool.Return(waiter);
    }

    /// <summary>
    /// Called from the waiter's cancellation callback, sync or async. Completes the waiter (cancelled) only when it takes
    /// it out of the registry itself; one a release or its own timeout took out first is theirs to finish.
    /// </summary>
    internal void Cancel(DurableWaiter waiter)
    {
        bool owned;
        bool durable;
        lock (_gate)
        {
            owned = RemoveUnderLock(waiter);
            if (!owned && !waiter.IsRegistered)
            {
                waiter.CancelRequested = true; // Register sees it and completes the wait as cancelled
            }

            // Under the lock, as the release passes read it: durable before the cancellation took it out (a release pass
            // had not reached it yet) is durable, not cancelled (found by review).
            durable = owned && (ulong)Volatile.Read(ref _durable.Value) >= waiter.Target;
        }

        if (owned)
        {
            waiter.Complete(
                Fault is { } fault ? Faulted(fault)
                : durable ? DroppedError(waiter.Target, waiter.Epoch)
                : new OperationCanceledException(waiter.CancellationToken));
        }
    }

    private DurableWaiter StartAsyncWait(Lsn lsn, CancellationToken cancellationToken, int epoch = -1)
    {
        DurableWaiter waiter = _pool.Get();
        waiter.PrepareAsync(lsn.Value, cancellationToken, epoch);
        if (!Register(waiter))
        {
            // Durable or faulted between the caller's checks and the registration: complete through the pool anyway,
            // so that the cancellation registration is disposed on one path only.
            waiter.Complete(Fault is { } f ? Faulted(f) : DroppedError(lsn.Value, epoch));
        }

        return waiter;
    }

    /// <returns>False if the wait must not park because it is complete already; true if it must wait for its signal.</returns>
    private bool Register(DurableWaiter waiter)
    {
        lock (_gate)
        {
            if (DroppedError(waiter.Target, waiter.Epoch) is { } dropped)
            {
                // A durable append's record was dropped by a TruncateAfter before its wait registered: the LSN may be
                // durable again, or become so, with another record. Under the lock: a cut made after this check finds
                // the waiter registered and fails it (Rewind).
                waiter.Complete(dropped);
                return true;
            }

            if (waiter.CancelRequested || _stopping)
            {
                waiter.Complete(waiter.CancelRequested ? new OperationCanceledException(waiter.CancellationToken)
                    : (ulong)Volatile.Read(ref _durable.Value) >= waiter.Target ? null
                    : new ObjectDisposedException("WriteAheadLog", "The log was disposed."));
                return true; // completed already: the caller waits for that completion, never completes it again
            }

            AddUnderLock(waiter);
        }

        ProtocolDelays.Step(); // registered, not yet re-checked: the flush thread advances meanwhile
        if ((ulong)Volatile.Read(ref _durable.Value) < waiter.Target && Fault is null)
        {
            return true;
        }

        // Became durable (or faulted) meanwhile, maybe without anyone releasing it: take it back if nobody did.
        return !TryRemove(waiter);
    }

    /// <summary>Under <see cref="_gate"/>: puts <paramref name="waiter"/> in the registry, where releases find it.</summary>
    private void AddUnderLock(DurableWaiter waiter)
    {
        QueueOf(waiter).Add(waiter);
        waiter.IsRegistered = true;

        // Full fence: the count is visible before Register's re-check of _durable (pairs with Advance). On Arm64 the
        // JIT emits the increment as an acquire-release RMW, which does not order its store before a later
        // load-acquire (RCPC): the explicit barrier restores the store-load order there (a no-op branch on x64).
        Interlocked.Increment(ref CountOf(waiter));
        FullFenceOnArm();
    }

    private bool TryRemove(DurableWaiter waiter)
    {
        lock (_gate)
        {
            return RemoveUnderLock(waiter);
        }
    }

    /// <summary>Under <see cref="_gate"/>: takes <paramref name="waiter"/> out of the registry; false if it was not in it.</summary>
    private bool RemoveUnderLock(DurableWaiter waiter)
    {
        if (!waiter.IsRegistered)
        {
            return false;
        }

        bool removed = QueueOf(waiter).Remove(waiter);
        Debug.Assert(removed, "A registered waiter is in the queue of its kind.");
        MarkRemovedUnderLock(waiter);
        return true;
    }

    /// <summary>Under <see cref="_gate"/>: <paramref name="waiter"/>, just taken out of its queue, is no longer registered, nor counted.</summary>
    private void MarkRemovedUnderLock(DurableWaiter waiter)
    {
        waiter.IsRegistered = false;

        // Every write of the count holds _gate, so atomicity is not what this buys: it keeps the count's writes full
        // fences, as Register's increment is. A lock-free reader (Advance, Wait's cascade step) that still sees the
        // higher count runs one pass that finds nothing; one that sees the lower count misses only this waiter, which
        // is owned by whoever removed it and needs no release.
        Interlocked.Decrement(ref CountOf(waiter));
    }

    /// <summary>The queue of <paramref name="waiter"/>'s kind.</summary>
    private WaiterQueue QueueOf(DurableWaiter waiter) => waiter.IsAsync ? _asyncWaiters : _syncWaiters;

    /// <summary>The lock-free count of <paramref name="waiter"/>'s kind.</summary>
    private ref int CountOf(DurableWaiter waiter) => ref waiter.IsAsync ? ref _asyncWaiterCount : ref _syncWaiterCount;

    /// <summary>
    /// Queues <see cref="AsyncReleaser"/> unless it is queued or running already; then it looks again before it goes
    /// idle. Called after the durable LSN moved (or the log faulted): the pass that follows reads the durable LSN after
    /// this call, so it completes every async waiter this advance made ready.
    /// </summary>
    private void ScheduleAsyncRelease()
    {
        // Full fence: the durable LSN stored before this is read by the releaser's pass, which starts after it sees 2
        // (or is queued here). 0 before: nobody is queued or running, so queue it; 1 or 2: the running pass sees the 2
        // when it tries to go idle, and looks again.
        if (Interlocked.Exchange(ref _asyncRelease, 2) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_asyncReleaser, preferLocal: false);
        }
    }

    /// <summary>The async release, on a thread-pool thread: passes until no advance asked for another meanwhile.</summary>
    private void ReleaseAsyncWaiters()
    {
        AsyncCompletionBatch? batch = _completions.Start();
        try
        {
            do
            {
                // Full fence: "looking now" (1) is published before the pass reads the durable LSN; an advance after this
                // store sets 2 again, and the compare-exchange below fails, so that advance is never missed. Passes may
                // overlap (the watchdog queues this again when one stands still in a continuation): each one completes
                // what is ready when it looks, and the state ends at 0 only after a pass that began after the last 2.
                Interlocked.Exchange(ref _asyncRelease, 1);
                _completions.PassStarting(batch!); // after the store: a stall of this pass gets its own hand-off
                ReleaseReady(maxSyncWakes: 0, includeAsync: true, ref batch);
            }
            while (Interlocked.CompareExchange(ref _asyncRelease, 0, 1) != 1); // full fence; 2: an advance came meanwhile
        }
        finally
        {
            _completions.Finish(batch!);
        }
    }

    /// <summary>
    /// Completes the waits that are satisfied (or all, when faulted or stopping): every async one when
    /// <paramref name="includeAsync"/> (always when faulted or stopping), and at most <paramref name="maxSyncWakes"/> sync
    /// ones (each of which continues the cascade when it wakes).
    /// </summary>
    private void ReleaseReady(int maxSyncWakes, bool includeAsync)
    {
        AsyncCompletionBatch? handEachToThePool = null;
        ReleaseReady(maxSyncWakes, includeAsync, ref handEachToThePool);
    }

    /// <summary>
    /// As <see cref="ReleaseReady(int, bool)"/>; with a batch (<paramref name="inline"/>, the async releaser's), the async
    /// waiters released are completed here, their continuations inline, through that batch (which may be replaced by a
    /// new one: <see cref="AsyncCompletions.Next"/>); without one (null), each is handed to the thread pool.
    /// </summary>
    private void ReleaseReady(int maxSyncWakes, bool includeAsync, ref AsyncCompletionBatch? inline)
    {
        // Acquire: pairs with Advance's release store. A waiter completed below as durable is ordered after the write
        // that made its LSN durable (and, through Complete's release, so is the thread that wakes).
        Exception? fault = Fault;
        ReadyWaiters ready = default;
        while (true)
        {
            ReadyBatch batch;
            ulong durable;
            lock (_gate)
            {
                // Read under the lock, for each batch: Rewind lowers it under the lock, and a pass of the wake cascade may
                // run late on a woken waiter's thread (found by review: a value read before a TruncateAfter completed, as
                // durable, a wait for a record given a dropped LSN again, not yet written).
                durable = (ulong)Volatile.Read(ref _durable.Value);
                bool all = fault is not null || _stopping;
                batch = TakeReadyUnderLock(durable, all, maxSyncWakes, includeAsync || all, ready);
            }

            maxSyncWakes -= batch.SyncWakes; // only the sync waiters taken spend the budget
            ProtocolDelays.Step(); // removed from the registry, not yet completed: a timeout or cancellation races
            for (int i = 0; i < batch.Count; i++)
            {
                DurableWaiter waiter = ready[i];
                ready[i] = null!;
                // Durable first: a record whose write returned is durable even when the log faulted after it, before this
                // pass ran (found by review: the async releaser runs after the advance that made it ready, and a fault
                // in between failed waits for records on disk), as a wait made after the fault reports it.
                Exception? error = waiter.Target <= durable ? null
                    : fault is not null ? Faulted(fault)
                    : new ObjectDisposedException("WriteAheadLog", "The log was disposed before this record became durable.");
                if (inline is null || !waiter.IsAsync)
                {
                    waiter.Complete(error); // the waiter may be reused at once: nothing touches it after this
                }
                else
                {
                    waiter.SetOutcome(error);
                    inline.Add(waiter);
                }
            }

            if (inline is not null && inline.Count != 0)
            {
                inline.RunClaims(); // the continuations run here, after the registry's lock is let go
                inline = _completions.Next(inline);
            }

            if (!batch.More)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Under <see cref="_gate"/>: moves the next ready waiters (every waiter, when <paramref name="all"/>) out of the
    /// registry into <paramref name="batch"/>, until it is full: sync ones while fewer than <paramref name="syncWakesLeft"/>
    /// are taken, then every async one when <paramref name="includeAsync"/>, lowest targets first. A sync waiter counts against the budget only once it is
    /// taken, never when it is left for lack of room; a ready waiter left for lack of room sets <see cref="ReadyBatch.More"/>.
    /// Waiters that are not ready are never looked at: each kind's queue has its lowest target first.
    /// </summary>
    private ReadyBatch TakeReadyUnderLock(ulong durable, bool all, int syncWakesLeft, bool includeAsync, Span<DurableWaiter> batch)
    {
        int count = 0;
        int syncWakes = 0;
        while (syncWakes < syncWakesLeft && _syncWaiters.Count > 0 && (all || _syncWaiters.MinTarget <= durable))
        {
            if (count == batch.Length)
            {
                return new ReadyBatch(count, syncWakes, More: true); // no room: the next batch takes it
            }

            batch[count++] = TakeUnderLock(_syncWaiters);
            syncWakes++;
        }

        while (includeAsync && _asyncWaiters.Count > 0 && (all || _asyncWaiters.MinTarget <= durable))
        {
            if (count == batch.Length)
            {
                return new ReadyBatch(count, syncWakes, More: true);
            }

            batch[count++] = TakeUnderLock(_asyncWaiters);
        }

        return new ReadyBatch(count, syncWakes, More: false);
    }

    /// <summary>Under <see cref="_gate"/>: removes the first of <paramref name="queue"/>.</summary>
    private DurableWaiter TakeUnderLock(WaiterQueue queue)
    {
        DurableWaiter waiter = queue.RemoveMin();
        MarkRemovedUnderLock(waiter);
        return waiter;
    }

    /// <summary>A wait that found its LSN durable (or the log faulted) at registration and took itself back: true, or what a fault or a drop since says.</summary>
    private bool CompletedAtRegistration(Lsn lsn, int epoch)
    {
        if (Fault is { } fault)
        {
            throw Faulted(fault);
        }

        if (DroppedError(lsn.Value, epoch) is { } dropped)
        {
            throw dropped;
        }

        return true;
    }

    private bool CheckComplete(Lsn lsn, int epoch = -1)
    {
        if (Durable >= lsn)
        {
            if (DroppedError(lsn.Value, epoch) is { } dropped)
            {
                throw dropped;
            }

            return true;
        }

        if (Fault is { } fault)
        {
            throw Faulted(fault);
        }

        return false;
    }

    /// <summary>
    /// A full fence on Arm64 only: there, interlocked RMWs are acquire-release and a later Volatile.Read may be an RCPC
    /// load that passes the RMW's store (dotnet/runtime#45970). On x64 a locked RMW is already a full fence and
    /// <see cref="System.Runtime.Intrinsics.Arm.ArmBase.IsSupported"/> is a JIT-time constant, so this compiles away.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void FullFenceOnArm()
    {
        if (System.Runtime.Intrinsics.Arm.ArmBase.IsSupported)
        {
            Interlocked.MemoryBarrier();
        }
    }

    /// <summary>
    /// Test hook: a pooled waiter for <paramref name="target"/>, prepared (sync or async, without cancellation) and
    /// registered as a parked wait would be, but with no thread parked on it and without Register's re-check, so that a
    /// test decides alone when a release pass runs. Whoever completes it (a release pass, or <see cref="Dispose"/>)
    /// owns the completion; the test returns a sync one with <see cref="ReturnWaiter"/> and awaits an async one.
    /// </summary>
    internal DurableWaiter TestHookRegisterUnparked(Lsn target, bool isAsync)
    {
        DurableWaiter waiter = _pool.Get();
        if (isAsync)
        {
            waiter.PrepareAsync(target.Value, CancellationToken.None);
        }
        else
        {
            waiter.PrepareSync(target.Value);
        }

        lock (_gate)
        {
            AddUnderLock(waiter);
        }

        return waiter;
    }

    /// <summary>Test hook: one release pass on the calling thread, as Advance (budget <see cref="RootWakes"/>) or a woken waiter (<see cref="WakesPerStep"/>) runs it.</summary>
    internal void TestHookReleasePass(int maxSyncWakes) => ReleaseReady(maxSyncWakes, includeAsync: true);

    /// <summary>
    /// Test hook: runs on a sync waiter's thread when its park timed out, before it tries to take itself out of the
    /// registry, so that a test can release or cancel it exactly then. Off the fast path: only timed-out waits read it.
    /// </summary>
    internal Action? TestHookTimedOut { get; set; }

    /// <summary>Test hook: the registry's lock, for a test to hold a release pass or a cancellation at it.</summary>
    internal object TestHookGate => _gate;

    /// <summary>Test hook: where the async releaser completes its waiters (its watchdog's rescues, its batches in flight).</summary>
    internal AsyncCompletions TestHookCompletions => _completions;

    /// <summary>Test hook: the waiters registered now (parked sync ones and pending async ones).</summary>
    internal int TestHookRegisteredWaiters
    {
        get
        {
            lock (_gate)
            {
                return _syncWaiters.Count + _asyncWaiters.Count;
            }
        }
    }

    /// <summary>What is left of <paramref name="millisecondsTimeout"/> since <paramref name="started"/> (a TickCount64); infinite stays infinite.</summary>
    internal static int RemainingMilliseconds(long started, int millisecondsTimeout) =>
        millisecondsTimeout == Timeout.Infinite ? Timeout.Infinite
            : (int)Math.Max(0, millisecondsTimeout - (Environment.TickCount64 - started));

    /// <summary>The exception for a durable append whose record (LSN <paramref name="lsn"/>, taken after <paramref name="epoch"/> resets) a TruncateAfter dropped; null if none did, or for a plain wait (-1).</summary>
    private WalTruncatedException? DroppedError(ulong lsn, int epoch) =>
        epoch >= 0 && _lsns is not null && _lsns.DroppedSince(lsn, epoch)
            ? new WalTruncatedException(new Lsn(lsn), $"LSN {lsn} was dropped by TruncateAfter before this append saw it durable: it is not acknowledged, and the LSN is handed out again.")
            : null;

    /// <summary>A new exception per throw: one shared instance would have its stack trace rewritten by every thread.</summary>
    private static WalException Faulted(Exception cause) =>
        new($"The log is faulted and acknowledges nothing more: {cause.Message}", cause);

    /// <summary>What one <see cref="TakeReadyUnderLock"/> took: <paramref name="Count"/> waiters, <paramref name="SyncWakes"/> of them sync; <paramref name="More"/> if a ready waiter was left for lack of room.</summary>
    private readonly record struct ReadyBatch(int Count, int SyncWakes, bool More);

    [InlineArray(Length)]
    private struct ReadyWaiters
    {
        /// <summary>The async releaser puts every waiter of one take into one completion batch: the two sizes are one.</summary>
        public const int Length = AsyncCompletionBatch.Capacity;

        private DurableWaiter _element;
    }

    /// <summary>The work item that completes the ready async waiters off the flush thread (<see cref="ScheduleAsyncRelease"/>): one per watermark, so queueing it allocates nothing.</summary>
    private sealed class AsyncReleaser(DurableWatermark owner) : IThreadPoolWorkItem
    {
        public void Execute() => owner.ReleaseAsyncWaiters();
    }

    private sealed class WaiterPolicy(DurableWatermark owner) : IPooledObjectPolicy<DurableWaiter>
    {
        public DurableWaiter Create() => new(owner);

        public bool Return(DurableWaiter obj) => true;
    }
}
