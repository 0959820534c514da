using System.Runtime.CompilerServices;
using Microsoft.Extensions.ObjectPool;

namespace Aletheia.Wal.Raft.Threading;

/// <summary>
/// The heap home of an async method's state machine from its first suspension on, pooled per state machine type in a
/// pool every thread shares (<see cref="DefaultObjectPool{T}"/>: allocation-free once warm).
/// </summary>
/// <remarks>
/// Why not the runtime's <see cref="PoolingAsyncValueTaskMethodBuilder{TResult}"/>: it caches one box per thread and one
/// per core, so a call that starts on one thread and is completed on another (a network thread, the log's completions
/// on the pool) often finds both empty, and allocates. Here a box is dropped (and a new one made) only when more calls of
/// one method are suspended at once than the pool keeps.
/// </remarks>
internal sealed class PooledStateMachineBox<TResult, TStateMachine> : PooledValueTaskBox<TResult>
    where TStateMachine : IAsyncStateMachine
{
    private const int MaxPooled = 256;

    private static readonly ObjectPool<PooledStateMachineBox<TResult, TStateMachine>> s_pool =
        new DefaultObjectPool<PooledStateMachineBox<TResult, TStateMachine>>(new DefaultPooledObjectPolicy<PooledStateMachineBox<TResult, TStateMachine>>(), MaxPooled);

    private static readonly ContextCallback s_moveNext = static box => ((PooledStateMachineBox<TResult, TStateMachine>)box!).StateMachine.MoveNext();

    private ExecutionContext? _context;
    private Action? _moveNextAction;

    /// <summary>The method's state machine, moved here at its first suspension (a mutable struct: run in place, never copied out).</summary>
    public TStateMachine StateMachine = default!;

    /// <summary>The continuation handed to awaiters (made once per box): runs the state machine in the context captured at the await.</summary>
    public Action MoveNextAction => _moveNextAction ??= MoveNext;

    public static PooledStateMachineBox<TResult, TStateMachine> Rent() => s_pool.Get();

    /// <summary>Remembers the execution context at an await about to suspend: AsyncLocal values flow across it.</summary>
    public void CaptureContext() => _context = ExecutionContext.Capture();

    private protected override void Return()
    {
        StateMachine = default!;
        _context = null;
        s_pool.Return(this);
    }

    private void MoveNext()
    {
        ExecutionContext? context = _context;
        if (context is null)
        {
            StateMachine.MoveNext(); // the flow was suppressed at the await: run in this thread's context
        }
        else
        {
            ExecutionContext.Run(context, s_moveNext, this); // restores this thread's contexts afterwards
        }
    }
}
