using System.Threading.Tasks.Sources;

namespace Aletheia.Wal.Flush;

/// <summary>
/// A pooled wait for "LSN n is durable": one object serves a sync wait (a <see cref="ManualResetEventSlim"/> that spins
/// briefly, then parks) or an async one (an <see cref="IValueTaskSource{TResult}"/>), then goes back to the pool.
/// Async completions run on the thread pool (this object is the work item, so queueing allocates nothing), never on
/// the flush or notifier thread.
/// </summary>
internal sealed class DurableWaiter : IValueTaskSource<Lsn>, IValueTaskSource, IThreadPoolWorkItem
{
    private const int SpinCountBeforePark = 1;

    private readonly DurableWatermark _owner;
    private readonly ManualResetEventSlim _signal = new(initialState: false, SpinCountBeforePark);
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

    /// <summary>Registered / removed, guarded by the watermark's lock.</summary>
    public bool IsRegistered { get; set; }

    /// <summary>Cancellation arrived before registration; guarded by the watermark's lock.</summary>
    public bool CancelRequested { get; set; }

    public short Version => _core.Version;

    public CancellationToken CancellationToken { get; private set; }

    public void PrepareSync(ulong target)
    {
        Target = target;
        IsAsync = false;
    }

    public void PrepareAsync(ulong target, CancellationToken cancellationToken)
    {
        Target = target;
        IsAsync = true;
        CancellationToken = cancellationToken;
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static state => ((DurableWaiter)state!).OnCanceled(), this);
        }
    }

    /// <summary>Called by whoever removed this waiter from the registry (it owns the completion). Touches nothing after.</summary>
    public void Complete(Exception? error)
    {
        _error = error;
        if (IsAsync)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else
        {
            _signal.Set();
        }
    }

    /// <summary>Sync waits only: parks until completed or the timeout passes.</summary>
    public bool WaitSignal(int millisecondsTimeout) => _signal.Wait(millisecondsTimeout);

    /// <summary>Sync waits only: after the signal, the completion's error, if any.</summary>
    public Exception? Error => _error;

    /// <summary>Clears the waiter for its next use; called by its last user before returning it to the pool.</summary>
    public void Reset()
    {
        _signal.Reset();
        _error = null;
        _cancellation = default;
        CancellationToken = default;
        CancelRequested = false;
        IsRegistered = false;
        if (IsAsync)
        {
            _core.Reset();
        }
    }

    void IThreadPoolWorkItem.Execute()
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
