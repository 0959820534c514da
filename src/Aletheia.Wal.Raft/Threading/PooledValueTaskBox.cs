using System.Threading.Tasks.Sources;

namespace Aletheia.Wal.Raft.Threading;

/// <summary>
/// What a <see cref="PooledValueTaskMethodBuilder{TResult}"/> returns its <see cref="ValueTask{TResult}"/> over: the
/// completion of one call of an async method, given back to its pool once the result was read (a
/// <see cref="ValueTask"/> is awaited once; its version then moves on, so a stale awaiter fails instead of reading another
/// call's result).
/// </summary>
internal abstract class PooledValueTaskBox<TResult> : IValueTaskSource<TResult>, IValueTaskSource
{
    // Continuations run where the method completes, as with the runtime's builders: the awaiting method goes on at once.
    private ManualResetValueTaskSourceCore<TResult> _core; // mutable struct: do not make this readonly

    public short Version => _core.Version;

    public void SetResult(TResult result) => _core.SetResult(result);

    public void SetException(Exception exception) => _core.SetException(exception);

    public TResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Reset first: whoever rents the box next gets a new version.
            _core.Reset();
            Return();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Clears what the call left and gives the box back to its pool.</summary>
    private protected abstract void Return();
}
