using System.Buffers;
using System.Text;
using Aletheia.Wal.Raft.Storage;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.State;

/// <summary>
/// Disposal with work in progress: it waits for a snapshot's installation past its point of no return, cancels one still
/// receiving the snapshot, never waits for a read, and gives up after <see cref="AletheiaRaftOptions.DisposeTimeout"/>.
/// </summary>
public sealed class DisposalTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private AletheiaPersistentState Open(IReplicatedStateMachine? machine = null, TimeSpan? disposeTimeout = null) =>
        AletheiaPersistentState.Open(
            new AletheiaRaftOptions { Directory = _dir.Path, DisposeTimeout = disposeTimeout ?? TimeSpan.FromSeconds(30) },
            machine ?? new RecordingStateMachine());

    private static byte[] SnapshotOf(params string[] texts) => Entries.SnapshotOf(texts);

    /// <summary>Entries 1..3 of term 1 ("1", "2", "3"), none committed.</summary>
    private Task AppendThreeEntriesAndCloseAsync() => Entries.AppendAndCloseAsync(_dir.Path, "1", "2", "3");

    [Fact]
    public async Task Dispose_waits_for_an_installation_held_in_the_state_machines_restore_which_finishes_and_is_kept()
    {
        await AppendThreeEntriesAndCloseAsync();
        using var held = new HeldRestore();

        AletheiaPersistentState state = Open(held.Machine);
        Task install = Task.Run(() => state.AsPersistentState.AppendAsync(Entries.Snapshot(2, SnapshotOf("a")), 50).AsTask());
        await held.InRestore.WaitAsync(Wait);
        Task dispose = Task.Run(() => state.DisposeAsync().AsTask());

        // Past its point of no return the installation owns the log and raft.state: the disposal waits for it.
        Assert.NotSame(dispose, await Task.WhenAny(dispose, Task.Delay(300)));
        held.Go();
        await install.WaitAsync(Wait); // no ObjectDisposedException from the log, raft.state or a lock
        await dispose.WaitAsync(Wait);

        var reopenedMachine = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(reopenedMachine);
        IPersistentState raft = reopened.AsPersistentState;
        Assert.Equal(50, reopened.SnapshotIndex);
        Assert.Equal(50, raft.LastCommittedEntryIndex);
        Assert.Equal(50, raft.LastEntryIndex);
        Assert.Equal(50, reopened.LastAppliedIndex);
        Assert.Equal(1, reopenedMachine.Restores);
        Assert.Equal([(1L, "a")], reopenedMachine.Applied.Select(a => (a.Index, Encoding.UTF8.GetString(a.Payload))));

        // Entries 1..3 of term 1 are covered by the snapshot of term 2: a read of them is the snapshot alone.
        Entries.ReadResult read = await Entries.ReadAsync(raft, 1, 50);
        Assert.Equal(50, read.SnapshotIndex);
        (long term, _, bool isSnapshot, _) = Assert.Single(read.Entries);
        Assert.Equal((2L, true), (term, isSnapshot));
        Assert.Equal(51, await raft.AppendAsync(Entries.Of(2, "fifty-one")));
    }

    [Fact]
    public async Task Dispose_cancels_an_installation_still_receiving_the_snapshot_and_the_log_stays_as_it_was()
    {
        await AppendThreeEntriesAndCloseAsync();
        var snapshot = new HeldSnapshotEntry(2, SnapshotOf("a"));
        AletheiaPersistentState state = Open();
        Task install = Task.Run(() => state.AsPersistentState.AppendAsync(snapshot, 50).AsTask());
        await snapshot.Streaming.WaitAsync(Wait);

        // Before its point of no return the installation observes the disposal: the disposal does not wait for the stream.
        await state.DisposeAsync().AsTask().WaitAsync(Wait);
        snapshot.Release();
        var e = await Assert.ThrowsAsync<OperationCanceledException>(() => install.WaitAsync(Wait));
        Assert.Equal($"The snapshot's installation at index 50 was cancelled: the persistent state in '{_dir.Path}' was disposed before it held the state machine, and nothing of it was kept.", e.Message);

        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(machine);
        IPersistentState raft = reopened.AsPersistentState;
        Assert.False(File.Exists(Path.Combine(_dir.Path, SnapshotFile.FileName)), "Nothing of the cancelled installation reaches the disk.");
        Assert.Equal(0, reopened.SnapshotIndex);
        Assert.Equal(3, raft.LastEntryIndex);
        Assert.Equal(0, raft.LastCommittedEntryIndex);
        Assert.Equal(0, machine.Restores);
        Entries.ReadResult read = await Entries.ReadAsync(raft, 1, 3);
        Assert.Null(read.SnapshotIndex);
        Assert.Equal([(1L, "1"), (1L, "2"), (1L, "3")], read.Entries.Select(x => (x.Term, x.Text)));
    }

    [Fact]
    public async Task Dispose_does_not_wait_for_a_read_and_the_read_then_ends_with_its_entries()
    {
        await AppendThreeEntriesAndCloseAsync();
        AletheiaPersistentState state = Open();
        var consumer = new HeldConsumer();
        ValueTask<string[]> read = state.AsPersistentState.ReadAsync(consumer, 1, 3);
        await consumer.Reading.WaitAsync(Wait);

        // The read holds the append lock's read side (DotNext's replication holds it across a network round trip).
        await state.DisposeAsync().AsTask().WaitAsync(Wait);
        consumer.Release();
        Assert.Equal(["1", "2", "3"], await read.AsTask().WaitAsync(Wait));
        Assert.Equal(0, state.AppendLock.CurrentReadCount);
    }

    [Fact]
    public async Task An_applier_cancelled_while_it_waits_for_the_state_machine_gives_the_append_lock_back()
    {
        await AppendThreeEntriesAndCloseAsync();
        AletheiaPersistentState state = Open();

        // The test holds the state machine: the applier, woken by the commit, takes the read lock and waits for the gate.
        Assert.True(state.MachineGate.Wait(Wait));
        Assert.Equal(3, await state.AsPersistentState.CommitAsync(3));
        Assert.True(SpinWait.SpinUntil(() => state.AppendLock.CurrentReadCount == 1, Wait), "The applier never took the read lock.");

        await state.DisposeAsync().AsTask().WaitAsync(Wait);
        state.MachineGate.Release();
        Assert.Equal(0, state.AppendLock.CurrentReadCount);
        Assert.Equal(0, state.LastAppliedIndex);
    }

    [Fact]
    public async Task DisposeAsync_gives_up_after_the_dispose_timeout_and_the_installation_closes_the_log_when_it_ends()
    {
        await AppendThreeEntriesAndCloseAsync();
        using var held = new HeldRestore();

        AletheiaPersistentState state = Open(held.Machine, disposeTimeout: TimeSpan.FromMilliseconds(200));
        Task install = Task.Run(() => state.AsPersistentState.AppendAsync(Entries.Snapshot(2, SnapshotOf("a")), 50).AsTask());
        await held.InRestore.WaitAsync(Wait);

        var e = await Assert.ThrowsAsync<TimeoutException>(() => state.DisposeAsync().AsTask().WaitAsync(Wait));
        Assert.Equal(
            $"The persistent state in '{_dir.Path}' was not closed within its DisposeTimeout (200 ms): 1 operation that changes the log " +
            "(an append, a snapshot's installation, a commit, a compaction or a term update) has not ended. A snapshot's installation " +
            "runs to its end once it holds the state machine (IReplicatedStateMachine.RestoreSnapshot may be what it waits for). " +
            "The log and raft.state are closed when the last one ends; DisposeAsync waits for that again.",
            e.Message);
        Assert.Throws<ObjectDisposedException>(() => state.AsPersistentState.AppendAsync(Entries.Of(2, "refused")).AsTask().GetAwaiter().GetResult());

        held.Go();
        await install.WaitAsync(Wait);
        await state.DisposeAsync().AsTask().WaitAsync(Wait);

        await using AletheiaPersistentState reopened = Open();
        Assert.Equal(50, reopened.SnapshotIndex);
        Assert.Equal(50, reopened.LastCommittedEntryIndex);
        Assert.Equal(51, await reopened.AsPersistentState.AppendAsync(Entries.Of(2, "fifty-one")));
    }

    [Fact]
    public async Task A_disposal_from_inside_a_read_cancels_a_followers_append_waiting_for_the_append_lock_and_does_not_wait_for_the_read()
    {
        await AppendThreeEntriesAndCloseAsync();
        AletheiaPersistentState state = Open();
        var consumer = new DisposingConsumer(state);
        string[] read = await state.AsPersistentState.ReadAsync(consumer, 1, 3).AsTask().WaitAsync(Wait);

        // The read held the append lock's read side; the append waited for its write side; the disposal, from inside the
        // read (as a cluster may dispose its log from inside a replication), cancelled the append and returned.
        Assert.Equal(["1", "2", "3"], read);
        var e = await Assert.ThrowsAsync<OperationCanceledException>(() => consumer.Append!.WaitAsync(Wait));
        Assert.Equal(
            $"The append at index 4 was cancelled: the persistent state in '{_dir.Path}' was disposed while it waited for the append lock, " +
            "the entries' bytes or their write; what it appended stays in the log, unacknowledged.",
            e.Message);

        await using AletheiaPersistentState reopened = Open();
        Assert.Equal(3, reopened.LastEntryIndex);
        Assert.Equal(["1", "2", "3"], (await Entries.ReadAsync(reopened.AsPersistentState, 1, 3)).Entries.Select(x => x.Text));
    }

    [Fact]
    public void Open_refuses_a_dispose_timeout_that_is_not_positive()
    {
        var e = Assert.Throws<ArgumentException>(() => Open(disposeTimeout: TimeSpan.Zero));
        Assert.StartsWith(
            $"AletheiaRaftOptions.DisposeTimeout must be positive and at most {TimeSpan.FromMilliseconds(int.MaxValue)}, or Timeout.InfiniteTimeSpan; it is 00:00:00.",
            e.Message,
            StringComparison.Ordinal);
    }

    /// <summary>A state machine whose restore, once reached (<see cref="InRestore"/>), waits for <see cref="Go"/> (at most <see cref="Wait"/>).</summary>
    private sealed class HeldRestore : IDisposable
    {
        private readonly TaskCompletionSource _inRestore = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _go = new();

        public HeldRestore() => Machine = new HookedStateMachine
        {
            OnRestore = () =>
            {
                _inRestore.TrySetResult();
                Assert.True(_go.Wait(Wait), "The test never let the restore go on.");
            },
        };

        public HookedStateMachine Machine { get; }

        public Task InRestore => _inRestore.Task;

        public void Go() => _go.Set();

        public void Dispose() => _go.Dispose();
    }

    /// <summary>A snapshot entry streamed from the leader whose stream stops mid-way until released (or cancelled).</summary>
    private sealed class HeldSnapshotEntry(long term, byte[] payload) : IRaftLogEntry
    {
        private readonly TaskCompletionSource _streaming = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Streaming => _streaming.Task;

        public long Term => term;

        public bool IsSnapshot => true;

        public bool IsReusable => false;

        public long? Length => payload.Length;

        public void Release() => _release.TrySetResult();

        public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
        {
            memory = default;
            return false;
        }

        public async ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
            where TWriter : IAsyncBinaryWriter
        {
            await writer.Invoke(payload.AsMemory(0, payload.Length / 2), token);
            _streaming.TrySetResult();
            await _release.Task.WaitAsync(Wait, token);
            await writer.Invoke(payload.AsMemory(payload.Length / 2), token);
        }
    }

    /// <summary>
    /// A consumer that copies the entries' texts, starts a follower's append at index 4 (which waits for the lock the read
    /// holds), and disposes the state before it returns.
    /// </summary>
    private sealed class DisposingConsumer(AletheiaPersistentState state) : ILogEntryConsumer<IRaftLogEntry, string[]>
    {
        public Task? Append { get; private set; }

        public async ValueTask<string[]> ReadAsync<TEntry, TList>(TList entries, long? snapshotIndex, CancellationToken token)
            where TEntry : IRaftLogEntry
            where TList : IReadOnlyList<TEntry>
        {
            string[] texts = entries.Select(e => e.TryGetMemory(out ReadOnlyMemory<byte> m) ? Encoding.UTF8.GetString(m.Span) : "?").ToArray();
            Append = state.AsPersistentState.AppendAsync(Entries.Producer(Entries.Of(1, "four")), 4).AsTask();
            Assert.True(SpinWait.SpinUntil(() => state.OperationsInProgress == 1, Wait), "The append never entered.");
            Assert.False(Append.IsCompleted, "The append waits for the lock this read holds.");
            await state.DisposeAsync().AsTask().WaitAsync(Wait, token);
            return texts;
        }
    }

    /// <summary>A consumer that copies the entries' texts, then holds the read until released.</summary>
    private sealed class HeldConsumer : ILogEntryConsumer<IRaftLogEntry, string[]>
    {
        private readonly TaskCompletionSource _reading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Reading => _reading.Task;

        public void Release() => _release.TrySetResult();

        public async ValueTask<string[]> ReadAsync<TEntry, TList>(TList entries, long? snapshotIndex, CancellationToken token)
            where TEntry : IRaftLogEntry
            where TList : IReadOnlyList<TEntry>
        {
            string[] texts = entries.Select(e => e.TryGetMemory(out ReadOnlyMemory<byte> m) ? Encoding.UTF8.GetString(m.Span) : "?").ToArray();
            _reading.TrySetResult();
            await _release.Task.WaitAsync(Wait, token);
            return texts;
        }
    }
}
