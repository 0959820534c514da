using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Raft.Threading;

/// <summary>
/// The builder of an <c>async ValueTask</c> method on a per-command path
/// (<c>[AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]</c>): as <see cref="PooledValueTaskMethodBuilder{TResult}"/>.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct PooledValueTaskMethodBuilder
{
    private PooledValueTaskMethodBuilder<bool> _inner; // mutable struct: do not make this readonly

    public readonly ValueTask Task => _inner.Box is { } box ? new ValueTask(box, box.Version) : default;

    public static PooledValueTaskMethodBuilder Create() => default;

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine =>
        _inner.Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => _inner.SetStateMachine(stateMachine);

    public void SetResult() => _inner.SetResult(true);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);
}
