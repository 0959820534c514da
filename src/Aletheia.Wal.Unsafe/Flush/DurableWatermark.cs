using Aletheia.Wal.Native;
using Microsoft.Extensions.ObjectPool;

namespace Aletheia.Wal.Flush;

/// <summary>
/// Completion by watermark: the flush thread advances one durable LSN; a wait for LSN n compares against it, and only
/// parks (on a pooled <see cref="DurableWaiter"/>) when it has to. Nothing is allocated per record or per wait.
/// A dedicated notifier thread releases parked waiters, so the flush thread starts its next write instead of waking
/// dozens of threads one futex call at a time.
/// </summary>
internal sealed class DurableWatermark : IDisposable
{
    private const int SpinChecksBeforePark = 16;
    private const int NotifierSafetyWakeMilliseconds = 100;

    private readonly object _gate = new();
    private readonly List<DurableWaiter> _waiters = new(capacity: 256);   // guarded by _gate
    private readonly List<DurableWaiter> _ready = new(capacity: 256);     // notifier thread only
    private readonly ObjectPool<DurableWaiter> _pool;
    private readonly ManualResetEventSlim _notifierWake = new(initialState: false, spinCount: 0);
    private readonly Thread _notifier;
    private PaddedInt64 _durable; // mutable struct: do not make this readonly
    private int _waiterCount;     // _waiters.Count, readable without the lock
    private Exception? _fault;
    private volatile bool _stopping;

    public DurableWatermark(Lsn durable, string name = "wal")
    {
        _durable.Value = (long)durable.Value;
        _pool = new DefaultObjectPool<DurableWaiter>(new WaiterPolicy(this), maximumRetained: 1024);
        _notifier = new Thread(RunNotifier) { IsBackground = true, Name = $"{name}-notify" };
        _notifier.Start();
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

        // Full fence (store-load): Register increments _waiterCount (full fence) and then re-reads _durable; we store
        // _durable and then read _waiterCount. One side sees the other, so no waiter sleeps through its completion.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _waiterCount) != 0)
        {
            _notifierWake.Set();
        }
    }

    /// <summary>Faults the watermark: every current and later wait throws a <see cref="WalException"/> holding <paramref name="cause"/>.</summary>
    public void SetFaulted(Exception cause)
    {
        // Full fence; first fault wins, so every waiter reports the same cause.
        Interlocked.CompareExchange(ref _fault, cause, null);
        _notifierWake.Set();
    }

    /// <summary>
    /// Waits until <paramref name="lsn"/> is durable: a few checks, then parks on a pooled waiter.
    /// </summary>
    /// <returns>False if <paramref name="millisecondsTimeout"/> passed first.</returns>
    /// <exception cref="WalException">The log is faulted.</exception>
    public bool Wait(Lsn lsn, int millisecondsTimeout = Timeout.Infinite)
    {
        for (int i = 0; i < SpinChecksBeforePark; i++)
        {
            if (CheckComplete(lsn))
            {
                return true;
            }

            Thread.SpinWait(8);
        }

        DurableWaiter waiter = _pool.Get();
        waiter.PrepareSync(lsn.Value);
        try
        {
            if (!Register(waiter))
            {
                return CheckComplete(lsn); // already durable or faulted, never parked
            }

            if (!waiter.WaitSignal(millisecondsTimeout))
            {
                if (TryRemove(waiter))
                {
                    return false;
                }

                waiter.WaitSignal(Timeout.Infinite); // the notifier took it and is about to signal
            }

            if (waiter.Error is { } error)
            {
                throw error; // a fresh WalException (or ObjectDisposedException) made for this waiter
            }

            return true;
        }
        finally
        {
            ReturnWaiter(waiter);
        }
    }

    /// <summary>Completes when <paramref name="lsn"/> is durable; faults with <see cref="WalException"/> if the log faults.</summary>
    public ValueTask<Lsn> WaitAsync(Lsn lsn, CancellationToken cancellationToken)
    {
        if (Durable >= lsn)
        {
            return new ValueTask<Lsn>(lsn);
        }

        if (Fault is { } fault)
        {
            return ValueTask.FromException<Lsn>(Faulted(fault));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<Lsn>(cancellationToken);
        }

        DurableWaiter waiter = _pool.Get();
        waiter.PrepareAsync(lsn.Value, cancellationToken);
        if (!Register(waiter))
        {
            // Durable or faulted between the checks above and the registration: complete through the pool anyway,
            // so that the cancellation registration is disposed on one path only.
            waiter.Complete(Fault is { } f ? Faulted(f) : null);
        }

        return new ValueTask<Lsn>(waiter, waiter.Version);
    }

    /// <summary>Stops the notifier; waits still registered fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _stopping = true;
        _notifierWake.Set();
        _notifier.Join();
    }

    internal void ReturnWaiter(DurableWaiter waiter)
    {
        waiter.Reset();
        _pool.Return(waiter);
    }

    /// <summary>Called from the waiter's cancellation callback.</summary>
    internal void Cancel(DurableWaiter waiter)
    {
        bool owned;
        lock (_gate)
        {
            owned = RemoveUnderLock(waiter);
            if (!owned && !waiter.IsRegistered)
            {
                waiter.CancelRequested = true; // Register sees it and completes the wait as cancelled
            }
        }

        if (owned)
        {
            waiter.Complete(new OperationCanceledException(waiter.CancellationToken));
        }
    }

    /// <returns>False if the wait must not park: it is complete already, or was cancelled (then it is completed).</returns>
    private bool Register(DurableWaiter waiter)
    {
        lock (_gate)
        {
            if (waiter.CancelRequested)
            {
                waiter.Complete(new OperationCanceledException(waiter.CancellationToken));
                return true; // completed through the pool: the caller must not complete it again
            }

            _waiters.Add(waiter);
            waiter.IsRegistered = true;

            // Full fence: the count is visible before the re-check of _durable below (pairs with Advance).
            Interlocked.Increment(ref _waiterCount);
        }

        if (!CompleteOrFaulted(waiter.Target))
        {
            return true;
        }

        // Became durable (or faulted) meanwhile, maybe without a notification: take it back if the notifier did not.
        if (TryRemove(waiter))
        {
            return false;
        }

        return true;
    }

    private bool TryRemove(DurableWaiter waiter)
    {
        lock (_gate)
        {
            return RemoveUnderLock(waiter);
        }
    }

    private bool RemoveUnderLock(DurableWaiter waiter)
    {
        if (!waiter.IsRegistered)
        {
            return false;
        }

        int index = _waiters.IndexOf(waiter);
        int last = _waiters.Count - 1;
        _waiters[index] = _waiters[last];
        _waiters.RemoveAt(last);
        waiter.IsRegistered = false;
        Interlocked.Decrement(ref _waiterCount);
        return true;
    }

    private bool CompleteOrFaulted(ulong target) => (ulong)Volatile.Read(ref _durable.Value) >= target || Fault is not null;

    private bool CheckComplete(Lsn lsn)
    {
        if (Durable >= lsn)
        {
            return true;
        }

        if (Fault is { } fault)
        {
            throw Faulted(fault);
        }

        return false;
    }

    /// <summary>A new exception per throw: one shared instance would have its stack trace rewritten by every thread.</summary>
    private static WalException Faulted(Exception cause) =>
        new($"The log is faulted and acknowledges nothing more: {cause.Message}", cause);

    private void RunNotifier()
    {
        while (true)
        {
            _notifierWake.Wait(NotifierSafetyWakeMilliseconds);

            // Reset before reading the watermark: an Advance after this point sets the event again, one before it
            // is seen by the reads below. No advance is missed.
            _notifierWake.Reset();
            bool stopping = _stopping;
            ReleaseReady(stopping);
            if (stopping)
            {
                return;
            }
        }
    }

    private void ReleaseReady(bool stopping)
    {
        ulong durable = (ulong)Volatile.Read(ref _durable.Value);
        Exception? fault = Fault;
        lock (_gate)
        {
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                DurableWaiter waiter = _waiters[i];
                if (waiter.Target <= durable || fault is not null || stopping)
                {
                    _ready.Add(waiter);
                    RemoveUnderLock(waiter);
                }
            }
        }

        foreach (DurableWaiter waiter in _ready)
        {
            Exception? error = fault is not null ? Faulted(fault)
                : waiter.Target <= durable ? null
                : new ObjectDisposedException("WriteAheadLog", "The log was disposed before this record became durable.");
            waiter.Complete(error);
        }

        _ready.Clear();
    }

    private sealed class WaiterPolicy(DurableWatermark owner) : IPooledObjectPolicy<DurableWaiter>
    {
        public DurableWaiter Create() => new(owner);

        public bool Return(DurableWaiter obj) => true;
    }
}
