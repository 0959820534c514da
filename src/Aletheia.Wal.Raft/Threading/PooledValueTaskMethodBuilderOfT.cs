using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Raft.Threading;

/// <summary>
/// The builder of an <c>async ValueTask&lt;TResult&gt;</c> method on a per-command path
/// (<c>[AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder&lt;&gt;))]</c>): a call that completes without suspending
/// allocates nothing; one that suspends moves its state machine into a <see cref="PooledStateMachineBox{TResult, TStateMachine}"/>,
/// which goes back to its pool once the result was read.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct PooledValueTaskMethodBuilder<TResult>
{
    private PooledValueTaskBox<TResult>? _box; // null until the method first suspends (or fails)
    private TResult _result;

    public readonly ValueTask<TResult> Task => _box is { } box ? new ValueTask<TResult>(box, box.Version) : new ValueTask<TResult>(_result);

    /// <summary>The box the method completes through; null when it completed with a result without suspending.</summary>
    internal readonly PooledValueTaskBox<TResult>? Box => _box;

    public static PooledValueTaskMethodBuilder<TResult> Create() => default;

    // The runtime's Start: runs the first MoveNext, restoring the caller's execution and synchronization contexts after.
    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine =>
        default(AsyncValueTaskMethodBuilder<TResult>).Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
        // Unused by the compiler for struct state machines moved into a box by the builder itself.
    }

    public void SetResult(TResult result)
    {
        if (_box is { } box)
        {
            box.SetResult(result);
        }
        else
        {
            _result = result;
        }
    }

    public void SetException(Exception exception)
    {
        // Without a suspension too, through a box: an OperationCanceledException then makes the task canceled and is the
        // very exception the awaiter gets, as with the runtime's builders.
        _box ??= PooledStateMachineBox<TResult, NoStateMachine>.Rent();
        _box.SetException(exception);
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.OnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.UnsafeOnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    /// <summary>The box that holds the state machine (rented at the first suspension), with the await's context captured.</summary>
    private PooledStateMachineBox<TResult, TStateMachine> BoxFor<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        if (_box is not PooledStateMachineBox<TResult, TStateMachine> box)
        {
            box = PooledStateMachineBox<TResult, TStateMachine>.Rent();

            // The builder lives inside the state machine: the box is set first, so that the copy moved into it carries it.
            _box = box;
            box.StateMachine = stateMachine;
        }

        box.CaptureContext();
        return box;
    }

    /// <summary>The state machine type of the boxes of calls that failed without suspending (they hold none).</summary>
    private struct NoStateMachine : IAsyncStateMachine
    {
        public readonly void MoveNext()
        {
        }

        public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
        {
        }
    }
}
