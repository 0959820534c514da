using System.Buffers;
using System.Text;
using Aletheia.Wal.Raft.Storage;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.State;

/// <summary>A snapshot's installation from the leader: its on-disk order, what Open repairs after a crash in it, and cancellation.</summary>
public sealed class SnapshotInstallTests : IDisposable
{
    private const UnixFileMode CreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private AletheiaPersistentState Open(IReplicatedStateMachine? machine = null) =>
        AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = _dir.Path }, machine ?? new RecordingStateMachine());

    private static byte[] SnapshotOf(params string[] texts) => Entries.SnapshotOf(texts);

    private Task AppendThreeEntriesAndCloseAsync() => Entries.AppendAndCloseAsync(_dir.Path, "1", "2", "3");

    [Fact]
    public async Task The_fillers_are_durable_before_the_snapshot_file_names_the_index_and_the_state_machine_is_restored()
    {
        await AppendThreeEntriesAndCloseAsync();
        AletheiaPersistentState? state = null;
        long durableAtRestore = -1;
        long fileIndexAtRestore = -1;
        var machine = new HookedStateMachine
        {
            OnRestore = () =>
            {
                durableAtRestore = (long)state!.Log.DurableLsn.Value;
                fileIndexAtRestore = SnapshotFile.Read(_dir.Path)!.Value.Index;
            },
        };

        await using (state = Open(machine))
        {
            await state.AsPersistentState.AppendAsync(Entries.Snapshot(1, SnapshotOf("a", "b")), 10);
            Assert.Equal(10, durableAtRestore);
            Assert.Equal(10, fileIndexAtRestore);
            Assert.Equal(10, state.LastEntryIndex);
        }
    }

    [Fact]
    public async Task A_snapshot_file_ahead_of_the_log_is_filled_at_open_so_a_leaders_next_entry_gets_the_index_after_it()
    {
        await AppendThreeEntriesAndCloseAsync();

        // What an installation by an older version had made durable when the process died: raft.snapshot only.
        SnapshotFile.Write(_dir.Path, 10, 1, SnapshotOf("a"), CreateMode);

        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        Assert.Equal(10UL, state.Log.LastLsn.Value);
        Assert.Equal(10UL, state.Log.DurableLsn.Value);
        Assert.Equal(10, raft.LastEntryIndex);
        Assert.Equal(11, await raft.AppendAsync(Entries.Of(2, "eleven")));
        Assert.Equal(["eleven"], (await Entries.ReadAsync(raft, 11, 11)).Entries.Select(e => e.Text));
    }

    [Fact]
    public async Task After_the_repair_a_followers_entry_at_the_index_after_the_snapshot_is_stored_there_and_durable_on_return()
    {
        await AppendThreeEntriesAndCloseAsync();
        SnapshotFile.Write(_dir.Path, 10, 1, SnapshotOf("a"), CreateMode);

        await using (AletheiaPersistentState state = Open())
        {
            IPersistentState raft = state.AsPersistentState;
            await raft.AppendAsync(Entries.Producer(Entries.Of(2, "eleven")), 11).AsTask().WaitAsync(Wait);
            Assert.Equal(11UL, state.Log.LastLsn.Value);
            Assert.Equal(11UL, state.Log.DurableLsn.Value);
        }

        await using AletheiaPersistentState reopened = Open();
        Assert.Equal(11, reopened.LastEntryIndex);
        Assert.Equal(["eleven"], (await Entries.ReadAsync(reopened.AsPersistentState, 11, 11)).Entries.Select(e => e.Text));
    }

    [Fact]
    public async Task Fillers_above_the_snapshot_left_by_an_unfinished_installation_are_dropped_at_open()
    {
        await AppendThreeEntriesAndCloseAsync();

        // An installation at 10 (term 2) that made its fillers durable and died before writing raft.snapshot.
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = Path.Combine(_dir.Path, "log") }))
        {
            var filler = new byte[RaftFrame.HeaderSize];
            RaftFrame.WriteHeader(filler, 2, null, false, compacted: true);
            for (int i = 4; i <= 10; i++)
            {
                log.AppendDurable(filler);
            }
        }

        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        Assert.Equal(3, raft.LastEntryIndex);

        // Had the fillers stayed, the leader's entry 4 of term 2 would have matched one and been kept as a filler.
        await raft.AppendAsync(Entries.Producer(Entries.Of(2, "four")), 4);
        Assert.Equal(4, raft.LastEntryIndex);
        Assert.Equal(4, await raft.CommitAsync(4));
        await raft.WaitForApplyAsync(4).AsTask().WaitAsync(Wait);
        Assert.Equal(["1", "2", "3", "four"], machine.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
    }

    [Fact]
    public async Task A_lost_snapshot_file_under_committed_entries_is_refused_at_open_and_nothing_is_cut()
    {
        await using (AletheiaPersistentState state = Open())
        {
            IPersistentState raft = state.AsPersistentState;
            await raft.AppendAsync(Entries.Producer(Enumerable.Range(1, 5).Select(i => Entries.Of(1, $"{i}")).ToArray()), 1);
            await raft.AppendAsync(Entries.Snapshot(2, SnapshotOf("a")), 50);
            await raft.AppendAsync(Entries.Producer(Enumerable.Range(51, 5).Select(i => Entries.Of(2, $"{i}")).ToArray()), 51);
            Assert.Equal(5, await raft.CommitAsync(55));
        }

        string snapshotPath = Path.Combine(_dir.Path, SnapshotFile.FileName);
        byte[] snapshotBytes = File.ReadAllBytes(snapshotPath);
        File.Delete(snapshotPath);

        var e = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains($"'{snapshotPath}' is missing", e.Message);
        Assert.Contains(
            $"holds a snapshot's fillers from index 6, and '{Path.Combine(_dir.Path, NodeStateFile.FileName)}' commits up to index 55 " +
            "and an entry that is not a filler follows them at index 51", e.Message);
        Assert.Contains("Nothing was changed", e.Message);

        // Nothing was cut: with raft.snapshot back, the node is as it was.
        File.WriteAllBytes(snapshotPath, snapshotBytes);
        await using AletheiaPersistentState reopened = Open();
        Assert.Equal(50, reopened.SnapshotIndex);
        Assert.Equal(55, reopened.LastEntryIndex);
        Assert.Equal(55, reopened.LastCommittedEntryIndex);
        Assert.Equal(["51", "52", "53", "54", "55"], (await Entries.ReadAsync(reopened.AsPersistentState, 51, 55)).Entries.Select(x => x.Text));
    }

    [Fact]
    public async Task Fillers_above_the_snapshot_followed_by_an_entry_are_refused_at_open_and_the_log_is_left_as_it_is()
    {
        await AppendThreeEntriesAndCloseAsync();
        string logDirectory = Path.Combine(_dir.Path, "log");
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = logDirectory }))
        {
            var filler = new byte[RaftFrame.HeaderSize];
            RaftFrame.WriteHeader(filler, 2, null, false, compacted: true);
            for (int i = 4; i <= 10; i++)
            {
                log.AppendDurable(filler);
            }

            var entry = new byte[RaftFrame.HeaderSize];
            RaftFrame.WriteHeader(entry, 2, null, false, compacted: false);
            log.AppendDurable(entry);
        }

        var e = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains("holds a snapshot's fillers from index 4, and an entry that is not a filler follows them at index 11:", e.Message);

        using WriteAheadLog reopened = WriteAheadLog.Open(new WalOptions { Directory = logDirectory });
        Assert.Equal(11UL, reopened.LastLsn.Value);
    }

    [Fact]
    public async Task A_cancellation_while_the_fillers_are_written_does_not_stop_the_installation_half_way()
    {
        const long Index = 300_000;
        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "e1"), Entries.Of(1, "e2")), 1);
        Assert.Equal(2, await raft.CommitAsync(2));
        await raft.WaitForApplyAsync(2).AsTask().WaitAsync(Wait);

        // The RPC is cancelled once every filler is appended (under the installation's locks), while they are written.
        using var cts = new CancellationTokenSource();
        var canceller = new Thread(() =>
        {
            SpinWait.SpinUntil(() => (long)state.Log.LastLsn.Value == Index, Wait);
            cts.Cancel();
        });
        canceller.Start();
        await raft.AppendAsync(Entries.Snapshot(1, SnapshotOf("e1", "e2", "e3")), Index, cts.Token).AsTask().WaitAsync(Wait);
        Assert.True(canceller.Join(Wait));
        Assert.True(cts.IsCancellationRequested);

        Assert.Equal(Index, state.SnapshotIndex);
        Assert.Equal(Index, state.LastAppliedIndex);
        Assert.Equal(Index, raft.LastCommittedEntryIndex);
        Assert.Equal(Index, raft.LastEntryIndex);
        Assert.Equal([1L, 2L, 3L], machine.Applied.Select(a => a.Index));
        Entries.ReadResult read = await Entries.ReadAsync(raft, 3, 3);
        Assert.Equal(Index, read.SnapshotIndex);
        Assert.True(Assert.Single(read.Entries).IsSnapshot);
        Assert.Equal(Index + 1, await raft.AppendAsync(Entries.Of(2, "next")));
    }

    [Fact]
    public async Task An_installation_cancelled_while_it_waits_for_the_commit_lock_frees_the_state_machine_for_the_applier()
    {
        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "e1"), Entries.Of(1, "e2")), 1);

        // A commit writing raft.state holds the commit lock: the installation takes the state machine's gate, then waits.
        await state.CommitLock.AcquireAsync().AsTask().WaitAsync(Wait);
        using var cts = new CancellationTokenSource();
        Task install = raft.AppendAsync(Entries.Snapshot(1, SnapshotOf("s1")), 5, cts.Token).AsTask();
        Assert.True(SpinWait.SpinUntil(() => state.MachineGate.CurrentCount == 0, Wait));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => install.WaitAsync(Wait));
        state.CommitLock.Release();

        Assert.Equal(1, state.MachineGate.CurrentCount);
        Assert.Equal(0, state.SnapshotIndex);
        Assert.Equal(2, await raft.CommitAsync(2));
        await raft.WaitForApplyAsync(2).AsTask().WaitAsync(Wait);
        Assert.Equal(["e1", "e2"], machine.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
    }
}
