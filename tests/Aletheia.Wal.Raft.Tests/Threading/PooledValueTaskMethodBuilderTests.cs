using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Aletheia.Wal.Raft.Threading;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Threading;

/// <summary>The builder of the per-command async methods: results, contexts, exceptions, and its boxes reused.</summary>
public sealed class PooledValueTaskMethodBuilderTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly AsyncLocal<string?> s_flowed = new();

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AddAfterAsync<TAwaitable>(TAwaitable gate, int a, int b)
        where TAwaitable : IGate
    {
        await gate.WaitAsync().ConfigureAwait(false);
        return a + b;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder<>))]
    private static async ValueTask<string?> FlowedAfterAsync(Task gate)
    {
        await gate.ConfigureAwait(false);
        return s_flowed.Value;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskMethodBuilder))]
    private static async ValueTask ThrowAfterAsync(Task gate, Exception exception)
    {
        await gate.ConfigureAwait(false);
        throw exception;
    }

    [Fact]
    public void A_call_that_does_not_suspend_returns_its_result_and_allocates_nothing()
    {
        var done = new DoneGate();
        Assert.Equal(5, Completed(AddAfterAsync(done, 2, 3)));
        long before = GC.GetAllocatedBytesForCurrentThread();
        long sum = 0;
        for (int i = 0; i < 1_000; i++)
        {
            ValueTask<int> call = AddAfterAsync(done, i, 1);
            sum += Completed(call);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(Enumerable.Range(1, 1_000).Sum(), sum);
    }

    [Fact]
    public void Calls_that_suspend_reuse_their_box_once_their_result_was_read()
    {
        var gate = new ManualGate();
        for (int i = 0; i < 100; i++)
        {
            ValueTask<int> warm = AddAfterAsync(gate, i, 1);
            gate.Open();
            Assert.Equal(i + 1, Completed(warm));
        }

        // The gate runs the continuation inline: each call suspends, resumes and completes on this thread.
        long before = GC.GetAllocatedBytesForCurrentThread();
        long sum = 0;
        for (int i = 0; i < 1_000; i++)
        {
            ValueTask<int> call = AddAfterAsync(gate, i, 1);
            Assert.False(call.IsCompleted, "The call is suspended until the gate opens.");
            gate.Open();
            sum += Completed(call);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(Enumerable.Range(1, 1_000).Sum(), sum);
    }

    [Fact]
    public async Task A_call_resumed_on_another_thread_sees_the_AsyncLocal_values_of_its_caller()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        s_flowed.Value = "the caller's";
        ValueTask<string?> call = FlowedAfterAsync(gate.Task);
        s_flowed.Value = null;
        await Task.Run(gate.SetResult);
        Assert.Equal("the caller's", await call.AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task An_OperationCanceledException_without_a_suspension_cancels_the_task_and_is_the_exception_awaited()
    {
        var thrown = new OperationCanceledException("cancelled by the test");
        ValueTask call = ThrowAfterAsync(Task.CompletedTask, thrown);
        Assert.True(call.IsCanceled);
        Assert.Same(thrown, await Assert.ThrowsAsync<OperationCanceledException>(() => call.AsTask()));
    }

    [Fact]
    public async Task An_exception_after_a_suspension_faults_the_task_with_that_exception()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thrown = new InvalidDataException("thrown by the test");
        ValueTask call = ThrowAfterAsync(gate.Task, thrown);
        Assert.False(call.IsCompleted);
        gate.SetResult();
        Assert.Same(thrown, await Assert.ThrowsAsync<InvalidDataException>(() => call.AsTask().WaitAsync(Wait)));
    }

    [Fact]
    public void A_result_read_twice_is_refused_the_second_time()
    {
        var gate = new ManualGate();
        ValueTask<int> call = AddAfterAsync(gate, 20, 22);
        gate.Open();
        Assert.Equal(42, Completed(call));

        // The box went back to its pool and its version moved on: a stale reader fails instead of reading another call's.
        Assert.Throws<InvalidOperationException>(() => Completed(call));
    }

    /// <summary>The result of a call that has completed (these tests complete them inline: nothing blocks).</summary>
    private static int Completed(ValueTask<int> call)
    {
        Assert.True(call.IsCompleted, "The call has completed.");
        return call.GetAwaiter().GetResult();
    }

    internal interface IGate
    {
        ValueTask WaitAsync();
    }

    private sealed class DoneGate : IGate
    {
        public ValueTask WaitAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A reusable gate: each wait suspends until <see cref="Open"/>, which runs the waiter's continuation inline.</summary>
    private sealed class ManualGate : IGate, IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core; // mutable struct: do not make this readonly

        public ValueTask WaitAsync() => new(this, _core.Version);

        public void Open() => _core.SetResult(true);

        public void GetResult(short token)
        {
            _core.GetResult(token);
            _core.Reset();
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
