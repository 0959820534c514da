using System.Buffers;
using System.Diagnostics;
using System.Text;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Raft.Tests.Review3;

/// <summary>Third review, priority 2: disposal racing appends and commits, and disposal from inside the state machine's callbacks.</summary>
public sealed class DisposalProbes(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private AletheiaPersistentState Open(IReplicatedStateMachine machine, TimeSpan? disposeTimeout = null) =>
        AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = _dir.Path, DisposeTimeout = disposeTimeout ?? TimeSpan.FromSeconds(10) }, machine);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task A_disposal_racing_leader_appends_and_commits_keeps_every_acknowledged_commit_and_opens_again(int seed)
    {
        var machine = new RecordingStateMachine();
        AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        var appended = new System.Collections.Concurrent.ConcurrentDictionary<long, string>();
        long acknowledged = 0;
        using var stop = new CancellationTokenSource();
        Task[] appenders = [.. Enumerable.Range(0, 4).Select(c => Task.Run(async () =>
        {
            for (int i = 0; ; i++)
            {
                string text = $"c{c}-{i}";
                long index;
                try
                {
                    index = await raft.AppendAsync(Entries.Of(1, text));
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                appended[index] = text;
                if (i % 64 == 63)
                {
                    await Task.Delay(1); // leaves the committer a core (two are shared)
                }
            }
        }))];
        Task committer = Task.Run(async () =>
        {
            // Ends on ObjectDisposedException, or once the disposal returned with everything committed (nothing left to call).
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    long last = raft.LastEntryIndex;
                    if (last > raft.LastCommittedEntryIndex)
                    {
                        await raft.CommitAsync(last);

                        // Release: read after the appenders and this loop ended.
                        long seen;
                        while ((seen = Volatile.Read(ref acknowledged)) < last && Interlocked.CompareExchange(ref acknowledged, last, seen) != seen)
                        {
                        }
                    }
                    else
                    {
                        await Task.Yield();
                    }
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
            }
        });

        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref acknowledged) == 0 && deadline.Elapsed < Wait)
        {
            await Task.Delay(5);
        }

        await Task.Delay(seed * 37);
        await state.DisposeAsync().AsTask().WaitAsync(Wait);
        stop.Cancel();
        await Task.WhenAll([.. appenders, committer]).WaitAsync(Wait);
        Assert.True(Volatile.Read(ref acknowledged) > 0, "Commits were acknowledged before the disposal.");

        await using AletheiaPersistentState reopened = Open(new RecordingStateMachine());
        IPersistentState again = reopened.AsPersistentState;
        output.WriteLine($"acknowledged commit {acknowledged}, appended {appended.Count}; reopened: last {again.LastEntryIndex}, commit {again.LastCommittedEntryIndex}");
        Assert.True(again.LastCommittedEntryIndex >= acknowledged, $"commit {again.LastCommittedEntryIndex} after reopen, acknowledged {acknowledged}");
        Assert.Equal(appended.Count, (int)again.LastEntryIndex); // disposal makes every append durable
        Entries.ReadResult read = await Entries.ReadAsync(again, 1, again.LastEntryIndex).AsTask().WaitAsync(Wait);
        for (int i = 0; i < read.Entries.Count; i++)
        {
            Assert.Equal(appended[i + 1], read.Entries[i].Text);
        }
    }

    /// <summary>
    /// R3-D2: a disposal from inside the applier's call of the state machine does not wait for itself. Before the fix,
    /// Dispose called from inside IReplicatedStateMachine.Apply waited for the applier, which is the caller: it blocked
    /// for the whole DisposeTimeout, then threw TimeoutException out of Apply (which the applier then recorded as its
    /// failure).
    /// </summary>
    [Fact]
    public async Task R3_D2_a_disposal_from_inside_the_state_machines_apply_does_not_hang_until_the_dispose_timeout()
    {
        AletheiaPersistentState? state = null;
        var disposed = new TaskCompletionSource<(TimeSpan Took, Exception? Thrown)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var machine = new ApplyHook(() =>
        {
            var watch = Stopwatch.StartNew();
            try
            {
                state!.Dispose();
                disposed.TrySetResult((watch.Elapsed, null));
            }
            catch (Exception e)
            {
                disposed.TrySetResult((watch.Elapsed, e));
            }
        });
        state = Open(machine, TimeSpan.FromSeconds(3));
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Of(1, "stop"));
        await raft.CommitAsync(1);
        (TimeSpan took, Exception? thrown) = await disposed.Task.WaitAsync(Wait); // Apply was called, and its Dispose returned
        await state.DisposeAsync().AsTask().WaitAsync(Wait);
        output.WriteLine($"Dispose inside Apply took {took.TotalMilliseconds:0} ms and threw {thrown?.GetType().Name}: {thrown?.Message}");
        Assert.True(thrown is null && took < TimeSpan.FromSeconds(1), $"Dispose inside Apply took {took.TotalMilliseconds:0} ms and threw {thrown?.GetType().Name}: {thrown?.Message}");
    }

    /// <summary>R3-D2: the applier ends once the Apply that disposed returns; the batch's later entries are not applied.</summary>
    [Fact]
    public async Task R3_D2_the_applier_ends_after_the_apply_that_disposed_and_applies_no_later_entry()
    {
        AletheiaPersistentState? state = null;
        int applied = 0;
        var disposed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var machine = new ApplyHook(() =>
        {
            // Interlocked: the count is read on the test's thread once the closing (after the applier's end) completed.
            if (Interlocked.Increment(ref applied) == 1)
            {
                try
                {
                    state!.Dispose();
                    disposed.TrySetResult(null);
                }
                catch (Exception e)
                {
                    disposed.TrySetResult(e);
                }
            }
        });
        state = Open(machine, TimeSpan.FromSeconds(3));
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "a"), Entries.Of(1, "b"), Entries.Of(1, "c")), 1);
        await raft.CommitAsync(3);
        Exception? thrown = await disposed.Task.WaitAsync(Wait); // the first Apply was called, and its Dispose returned
        await state.DisposeAsync().AsTask().WaitAsync(Wait); // the closing, which follows the applier's end
        Assert.Null(thrown);
        Assert.Equal(1, Volatile.Read(ref applied));
    }

    [Fact]
    public async Task A_disposal_from_inside_a_snapshots_restore_leaves_a_state_that_opens_at_the_snapshot()
    {
        AletheiaPersistentState? state = null;
        Exception? thrown = null;
        var machine = new HookedStateMachine
        {
            OnRestore = () =>
            {
                try
                {
                    state!.Dispose();
                }
                catch (Exception e)
                {
                    thrown = e;
                }
            },
        };
        state = Open(machine, TimeSpan.FromSeconds(2));
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "a"), Entries.Of(1, "b")), 1);
        await raft.CommitAsync(1);
        Exception? install = await Record.ExceptionAsync(() => raft.AppendAsync(Entries.Snapshot(2, Entries.SnapshotOf("x", "y", "z", "w", "v")), 5).AsTask().WaitAsync(Wait));
        await state.DisposeAsync().AsTask().WaitAsync(Wait);
        output.WriteLine($"inside restore: {thrown?.GetType().Name}; install: {install?.GetType().Name ?? "returned"}");

        var after = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(after);
        IPersistentState again = reopened.AsPersistentState;
        output.WriteLine($"reopened: snapshot {reopened.SnapshotIndex} last {again.LastEntryIndex} commit {again.LastCommittedEntryIndex}");
        Assert.Equal(5, reopened.SnapshotIndex);
        Assert.Equal(5, again.LastEntryIndex);
        Assert.Equal(5, again.LastCommittedEntryIndex);
        Assert.Equal(["x", "y", "z", "w", "v"], after.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
    }

    [Fact]
    public async Task Open_while_a_timed_out_disposal_still_closes_is_refused_and_changes_nothing()
    {
        using var inRestore = new SemaphoreSlim(0);
        using var go = new ManualResetEventSlim();
        var machine = new HookedStateMachine
        {
            OnRestore = () =>
            {
                inRestore.Release();
                go.Wait(Wait);
            },
        };
        AletheiaPersistentState state = Open(machine, TimeSpan.FromMilliseconds(200));
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "a"), Entries.Of(1, "b")), 1);
        await raft.CommitAsync(1);
        Task install = Task.Run(() => raft.AppendAsync(Entries.Snapshot(2, Entries.SnapshotOf("x", "y", "z")), 3).AsTask());
        Assert.True(await inRestore.WaitAsync(Wait), "The installation reached RestoreSnapshot.");
        await Assert.ThrowsAsync<TimeoutException>(() => state.DisposeAsync().AsTask().WaitAsync(Wait));

        // The old state still holds the log: a second Open of the directory (a restart in the same process) is refused.
        WalException second = Assert.Throws<WalException>(() => Open(new RecordingStateMachine()).Dispose());
        output.WriteLine($"Open while closing: {second.Message}");
        Assert.Contains("is locked by another writer", second.Message, StringComparison.Ordinal);

        go.Set();
        await install.WaitAsync(Wait);
        await state.DisposeAsync().AsTask().WaitAsync(Wait);
        var after = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(after);
        Assert.Equal(3, reopened.SnapshotIndex);
        Assert.Equal(3, reopened.AsPersistentState.LastCommittedEntryIndex);
        Assert.Equal(["x", "y", "z"], after.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
    }

    private sealed class ApplyHook(Action onApply) : IReplicatedStateMachine
    {
        public void Apply(ReplicatedCommand command) => onApply();

        public void WriteSnapshot(IBufferWriter<byte> output)
        {
        }

        public void RestoreSnapshot(ReadOnlySpan<byte> snapshot)
        {
        }
    }
}
