using System.Diagnostics;
using System.Threading.Tasks.Sources;
using Aletheia.Wal.Native;

namespace Aletheia.Wal.Flush;

/// <summary>
/// A pooled wait for "LSN n is durable": one object serves a sync wait (parked on its own monitor) or an async one (an
/// <see cref="IValueTaskSource{TResult}"/>), then goes back to the pool.
/// Async completions run on the thread pool, never on the flush thread: the async releaser completes the waiters it
/// takes in batches, continuations inline (<see cref="AsyncCompletions"/>); the rare others (cancelled, dropped,
/// released by a fault or a disposal) are queued one by one (this object is the work item, so queueing allocates nothing).
/// </summary>
/// <remarks>
/// Either kind may carry a cancellation token. Its callback removes the waiter from the registry under the watermark's
/// lock and completes it only if it found it there, so a cancellation that races a release or a timed-out sync wait's
/// own removal completes nothing: exactly one party (a release, the callback, or the timed-out waiter) owns each
/// completion. The registration is disposed (which waits for a running callback) before the waiter is reset, so no
/// callback touches it once it is back in the pool.
/// </remarks>
internal sealed unsafe class DurableWaiter : IValueTaskSource<Lsn>, IValueTaskSource, IThreadPoolWorkItem
{
    private readonly DurableWatermark _owner;

    // The sync park. On Linux a futex on word 0 of a pinned array (the rest pads it to its own false-sharing range, as
    // the waker writes it while other waiters read theirs); the waiter object owns it, so its address stays valid
    // while anyone can still wake it. Elsewhere a monitor on an object made here, not lazily (ManualResetEventSlim
    // creates its lock object on the first blocking wait, an allocation in steady state). 1 = signaled.
    // The watermark already spun before parking.
    private readonly int[] _parkWord = GC.AllocateArray<int>(Futex.IsSupported ? CacheLine.FalseSharingRange / sizeof(int) : 1, pinned: true);
    private readonly object _parkGate = new();
    private ManualResetValueTaskSourceCore<Lsn> _core; // mutable struct: do not make this readonly
    private CancellationTokenRegistration _cancellation;
    private Exception? _error;

    public DurableWaiter(DurableWatermark owner)
    {
        _owner = owner;

        // Continuations run inline in Execute, which always runs on a thread-pool thread.
        _core.RunContinuationsAsynchronously = false;
    }

    /// <summary>The LSN this wait is for. Written before registration; read by the notifier under the watermark's lock.</summary>
    public ulong Target { get; private set; }

    public bool IsAsync { get; private set; }

    /// <summary>In the watermark's queue of its kind, or not; guarded by the watermark's lock.</summary>
    public bool IsRegistered { get; set; }

    /// <summary>
    /// Cancellation arrived while the waiter was not registered (before its registration, or after a release or its own
    /// timeout removed it; then it changes nothing); guarded by the watermark's lock.
    /// </summary>
    public bool CancelRequested { get; set; }

    public short Version => _core.Version;

    public CancellationToken CancellationToken { get; private set; }

    /// <summary>
    /// Prepares a sync wait. With a token that can be cancelled, its callback may run at once (token cancelled already):
    /// it then marks the waiter, and the registration completes it cancelled. The waiting thread calls
    /// <see cref="UnregisterCancellation"/> before it returns the waiter.
    /// </summary>
    public void PrepareSync(ulong target, CancellationToken cancellationToken = default, int epoch = -1)
    {
        Target = target;
        Epoch = epoch;
        IsAsync = false;
        RegisterCancellation(cancellationToken);
    }

    public void PrepareAsync(ulong target, CancellationToken cancellationToken, int epoch = -1)
    {
        Target = target;
        Epoch = epoch;
        IsAsync = true;
        RegisterCancellation(cancellationToken);
    }

    /// <summary>
    /// For the wait of a durable append: the TruncateAfter resets made before its record's LSN was taken (-1: a wait for an
    /// LSN, whoever's record it is). Written before registration, like <see cref="Target"/>.
    /// </summary>
    public int Epoch { get; private set; } = -1;

    /// <summary>
    /// Sync waits only, by the waiting thread once it owns the waiter again (signalled, or removed by itself): waits for a
    /// cancellation callback that is running to return, so that none touches the waiter after <see cref="Reset"/>. A
    /// no-op without a token.
    /// </summary>
    public void UnregisterCancellation() => _cancellation.Dispose();

    /// <summary>Called by whoever removed this waiter from the registry (it owns the completion). Touches nothing after.</summary>
    public void Complete(Exception? error)
    {
        _error = error;
        if (IsAsync)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else if (Futex.IsSupported)
        {
            // Release: the error stored above is visible to the waiter that acquires the word. The waiter may return,
            // and the waiter be reused, before the wake below: that only wakes its next wait spuriously, which
            // re-checks the word and sleeps again.
            Volatile.Write(ref _parkWord[0], 1);
            fixed (int* word = _parkWord)
            {
                Futex.WakeOne(word);
            }
        }
        else
        {
            lock (_parkGate)
            {
                Volatile.Write(ref _parkWord[0], 1); // release, as above, for the check WaitSignal makes outside the lock
                Monitor.Pulse(_parkGate);
            }
        }
    }

    /// <summary>Sync waits only: parks until completed or the timeout passes.</summary>
    public bool WaitSignal(int millisecondsTimeout)
    {
        // Acquire: pairs with the release in Complete (the volatile store, or the lock's release), so the error written
        // before it is visible.
        if (Volatile.Read(ref _parkWord[0]) != 0)
        {
            return true;
        }

        long deadline = millisecondsTimeout == Timeout.Infinite ? long.MaxValue : Environment.TickCount64 + millisecondsTimeout;
        if (Futex.IsSupported)
        {
            fixed (int* word = _parkWord)
            {
                while (Volatile.Read(ref *word) == 0) // acquire, as above
                {
                    if (!TryGetRemaining(deadline, millisecondsTimeout, out int remaining))
                    {
                        return false;
                    }

                    Futex.Wait(word, 0, remaining);
                }
            }

            return true;
        }

        lock (_parkGate)
        {
            while (_parkWord[0] == 0)
            {
                if (!TryGetRemaining(deadline, millisecondsTimeout, out int remaining))
                {
                    return false;
                }

                Monitor.Wait(_parkGate, remaining);
            }
        }

        return true;
    }

    private static bool TryGetRemaining(long deadline, int millisecondsTimeout, out int remaining)
    {
        if (millisecondsTimeout == Timeout.Infinite)
        {
            remaining = Timeout.Infinite;
            return true;
        }

        remaining = (int)Math.Max(0, deadline - Environment.TickCount64);
        return remaining > 0;
    }

    /// <summary>Sync waits only: after the signal, the completion's error, if any.</summary>
    public Exception? Error => _error;

    /// <summary>Clears the waiter for its next use; called by its last user before returning it to the pool.</summary>
    public void Reset()
    {
        _parkWord[0] = 0; // published to the next user by the pool and the registration lock
        _error = null;
        Epoch = -1;
        _cancellation = default;
        CancellationToken = default;
        CancelRequested = false;
        IsRegistered = false;
        if (IsAsync)
        {
            _core.Reset();
        }
    }

    /// <summary>
    /// Async waits released in a batch (<see cref="AsyncCompletionBatch"/>): the outcome, set by whoever removed the waiter
    /// from the registry; the batch's executor completes it (<see cref="RunCompletion"/>). The batch's queueing publishes it.
    /// </summary>
    public void SetOutcome(Exception? error)
    {
        Debug.Assert(IsAsync, "Only async waits are completed in batches.");
        _error = error;
    }

    void IThreadPoolWorkItem.Execute() => RunCompletion();

    /// <summary>Async waits, on a thread-pool thread: completes the ValueTask with the outcome set, its continuation inline.</summary>
    public void RunCompletion()
    {
        // Wait for a running cancellation callback to finish before the object can be reused (it does not touch
        // the waiter after losing the race for removal, but Dispose makes that explicit).
        _cancellation.Dispose();
        if (_error is null)
        {
            _core.SetResult(new Lsn(Target));
        }
        else
        {
            _core.SetException(_error);
        }
    }

    Lsn IValueTaskSource<Lsn>.GetResult(short token)
    {
        ThrowIfNotCompleted(token);
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _owner.ReturnWaiter(this);
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        ThrowIfNotCompleted(token);
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            _owner.ReturnWaiter(this);
        }
    }

    ValueTaskSourceStatus IValueTaskSource<Lsn>.GetStatus(short token) => _core.GetStatus(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<Lsn>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void RegisterCancellation(CancellationToken cancellationToken)
    {
        CancellationToken = cancellationToken;
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static state => ((DurableWaiter)state!).OnCanceled(), this);
        }
    }

    private void OnCanceled() => _owner.Cancel(this);

    /// <summary>
    /// A misused ValueTask (GetResult before completion, or twice) throws without recycling the waiter: it may still be
    /// registered, and returning it to the pool then would let two waits share it.
    /// </summary>
    private void ThrowIfNotCompleted(short token)
    {
        if (_core.GetStatus(token) == ValueTaskSourceStatus.Pending) // GetStatus throws for a stale token
        {
            throw new InvalidOperationException("The durable wait has not completed: await the ValueTask (once) instead of reading its result.");
        }
    }
}
