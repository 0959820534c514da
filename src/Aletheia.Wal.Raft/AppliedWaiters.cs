using System.Threading.Tasks.Sources;

namespace Aletheia.Wal.Raft;

/// <summary>
/// Waits for the applied index to reach an index, without allocating: each wait is a pooled node (an
/// <see cref="IValueTaskSource"/>) queued under a lock and completed by the applier's <see cref="Release"/>. The check of
/// the applied index and the queuing happen under the lock that <see cref="Release"/> takes after the applier published
/// the index, so no wakeup is lost: a waiter either sees the new index or is queued before the release looks.
/// </summary>
internal sealed class AppliedWaiters
{
    private readonly Lock _gate = new();
    private readonly List<Waiter> _waiting = [];
    private readonly Stack<Waiter> _pool = new();
    private Exception? _failure; // guarded by _gate

    /// <summary>Completes once <paramref name="applied"/>() reaches <paramref name="index"/>, or fails with the failure given to <see cref="Fail"/>.</summary>
    public ValueTask WaitAsync(long index, Func<long> applied, CancellationToken token)
    {
        Waiter waiter;
        lock (_gate)
        {
            if (_failure is { } failure)
            {
                return ValueTask.FromException(failure);
            }

            if (applied() >= index)
            {
                return ValueTask.CompletedTask;
            }

            if (token.IsCancellationRequested)
            {
                return ValueTask.FromCanceled(token);
            }

            waiter = _pool.TryPop(out Waiter? pooled) ? pooled : new Waiter(this);
            waiter.Index = index;
            _waiting.Add(waiter);
        }

        return waiter.Start(token);
    }

    /// <summary>Completes every wait for an index at or below <paramref name="applied"/>; the applier calls it after publishing the index.</summary>
    public void Release(long applied)
    {
        lock (_gate)
        {
            for (int i = _waiting.Count - 1; i >= 0; i--)
            {
                Waiter waiter = _waiting[i];
                if (waiter.Index <= applied)
                {
                    _waiting.RemoveAt(i);
                    waiter.Complete(null);
                }
            }
        }
    }

    /// <summary>Fails every wait, now and later, with <paramref name="failure"/> (the applier failed, or the state is disposed).</summary>
    public void Fail(Exception failure)
    {
        lock (_gate)
        {
            _failure ??= failure;
            foreach (Waiter waiter in _waiting)
            {
                waiter.Complete(failure);
            }

            _waiting.Clear();
        }
    }

    private void Cancel(Waiter waiter, CancellationToken token)
    {
        lock (_gate)
        {
            if (_waiting.Remove(waiter))
            {
                waiter.Complete(new OperationCanceledException(token));
            }
        }
    }

    private void Return(Waiter waiter)
    {
        lock (_gate)
        {
            _pool.Push(waiter);
        }
    }

    private sealed class Waiter(AppliedWaiters owner) : IValueTaskSource
    {
        // Continuations run on the pool: Release runs on the applier, which must not run its waiters' code.
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true }; // mutable struct: do not make this readonly
        private CancellationTokenRegistration _registration;
        private CancellationToken _token;

        public long Index { get; set; }

        public ValueTask Start(CancellationToken token)
        {
            short version = _core.Version;
            _token = token;
            if (token.CanBeCanceled)
            {
                _registration = token.UnsafeRegister(static (state, t) => ((Waiter)state!).Cancel(t), this);
            }

            return new ValueTask(this, version);
        }

        /// <summary>Under the owner's lock, once: from Release, Fail or a cancellation.</summary>
        public void Complete(Exception? failure)
        {
            if (failure is null)
            {
                _core.SetResult(true);
            }
            else
            {
                _core.SetException(failure);
            }
        }

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                _registration.Dispose();
                _registration = default;
                _core.Reset();
                owner.Return(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        private void Cancel(CancellationToken token) => owner.Cancel(this, token);
    }
}
