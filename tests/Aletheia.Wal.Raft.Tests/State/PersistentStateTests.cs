using System.Text;
using Aletheia.Wal.Raft.Storage;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.State;

/// <summary>Every member of DotNext's IPersistentState / IAuditTrail contract, against AletheiaPersistentState.</summary>
public sealed class PersistentStateTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private AletheiaPersistentState Open(RecordingStateMachine? machine = null, long snapshotThreshold = 0, long segmentBytes = 0) =>
        AletheiaPersistentState.Open(
            new AletheiaRaftOptions
            {
                Directory = _dir.Path,
                SnapshotThreshold = snapshotThreshold,
                LogOptions = segmentBytes == 0 ? null : dir => new WalOptions { Directory = dir, SegmentSizeBytes = segmentBytes, MaxEntryBytes = 1024, StripeCapacityBytes = 1 << 16 },
            },
            machine ?? new RecordingStateMachine());

    [Fact]
    public async Task The_object_is_DotNexts_IPersistentState_and_applies_configuration_entries_to_the_storage_RaftCluster_sets()
    {
        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        Assert.Same(state, raft);
        using var storage = new Entries.RecordingConfigurationStorage();

        // RaftCluster sets it through the interface's internal setter; reflection calls the same interface slot.
        typeof(IPersistentState).GetProperty(nameof(IPersistentState.ConfigurationStorage))!.SetValue(raft, storage);
        Assert.Same(storage, raft.ConfigurationStorage);
        Assert.True(raft.IsLogEntryLengthAlwaysPresented);

        await raft.AppendAsync(Entries.Of(1, "command"));
        await raft.AppendAsync(Entries.Configuration(1, [1, 2, 3]));
        await raft.CommitAsync(2);
        await raft.WaitForApplyAsync(2).AsTask().WaitAsync(Wait);
        Assert.Equal([1L], machine.Applied.Select(a => a.Index));
        Assert.Equal(2, Assert.Single(storage.Saved).Version);
        Assert.Equal([1, 2, 3], storage.Saved[0].Configuration);
    }

    [Fact]
    public async Task Without_a_configuration_storage_configuration_entries_are_skipped_and_never_reach_the_state_machine()
    {
        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        Assert.Null(raft.ConfigurationStorage);
        await raft.AppendAsync(Entries.Of(1, "before"));
        await raft.AppendAsync(Entries.Configuration(1, [9, 9, 9]));
        await raft.AppendAsync(Entries.Of(1, "after"));
        Assert.Equal(3, await raft.CommitAsync(3));
        await raft.WaitForApplyAsync(3).AsTask().WaitAsync(Wait);
        Assert.Equal(3, state.LastAppliedIndex);
        Assert.Equal([(1L, "before"), (3L, "after")], machine.Applied.Select(a => (a.Index, Encoding.UTF8.GetString(a.Payload))));
    }

    [Fact]
    public async Task Appends_at_the_end_get_indexes_1_2_3_and_read_back_with_term_command_id_and_payload()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        Assert.Equal(0, raft.LastEntryIndex);
        Assert.Equal(1, await raft.AppendAsync(Entries.Of(1, "a", commandId: 7)));
        Assert.Equal(2, await raft.AppendAsync(Entries.Of(1, "bb")));
        Assert.Equal(3, await raft.AppendAsync(Entries.Of(2, "ccc", commandId: -1)));
        Assert.Equal(3, raft.LastEntryIndex);

        Entries.ReadResult read = await Entries.ReadAsync(raft, 1, 3);
        Assert.Null(read.SnapshotIndex);
        Assert.Equal([(1L, "a", false, (int?)7), (1L, "bb", false, null), (2L, "ccc", false, -1)], read.Entries);

        // A metadata-only read (how Raft asks for a term) answers from memory with the right terms.
        Entries.ReadResult terms = await Entries.ReadAsync(raft, 2, 3, metadataOnly: true);
        Assert.Equal([1L, 2L], terms.Entries.Select(e => e.Term));

        // Index 0 is "before the log" (DotNext reads from 0 too): the same entries.
        Assert.Equal(3, (await Entries.ReadAsync(raft, 0, 3)).Entries.Count);
        Assert.Empty((await Entries.ReadAsync(raft, 3, 2)).Entries);
    }

    [Fact]
    public async Task A_streamed_entry_is_appended_as_one_that_lends_its_bytes()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        Assert.Equal(1, await raft.AppendAsync(Entries.Streamed(3, "streamed")));
        await raft.AppendAsync(Entries.Producer(Entries.Streamed(3, "next")), 2);
        Assert.Equal([(3L, "streamed", false, (int?)null), (3L, "next", false, null)], (await Entries.ReadAsync(raft, 1, 2)).Entries);
    }

    [Fact]
    public async Task Reading_past_the_last_entry_or_at_negative_indexes_is_refused()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Of(1, "a"));
        var past = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Entries.ReadAsync(raft, 1, 2).AsTask());
        Assert.Contains("from 0 to the last entry's index, 1", past.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Entries.ReadAsync(raft, -1, 1).AsTask());
    }

    [Fact]
    public async Task An_append_at_an_index_replaces_the_conflicting_suffix_through_TruncateAfter()
    {
        await using (AletheiaPersistentState state = Open())
        {
            IPersistentState raft = state.AsPersistentState;
            await raft.AppendAsync(Entries.Producer(Entries.Of(1, "1"), Entries.Of(1, "2"), Entries.Of(1, "3"), Entries.Of(1, "4"), Entries.Of(1, "5")), 1);
            Assert.Equal(5, raft.LastEntryIndex);

            // A new leader (term 2) sends entries from 3: index 3 conflicts (term 1 there), so 3..5 go and 3..4 come.
            await raft.AppendAsync(Entries.Producer(Entries.Of(2, "x3"), Entries.Of(2, "x4")), 3);
            Assert.Equal(4, raft.LastEntryIndex);
            Assert.Equal(
                [(1L, "1", false, (int?)null), (1L, "2", false, null), (2L, "x3", false, null), (2L, "x4", false, null)],
                (await Entries.ReadAsync(raft, 1, 4)).Entries);
            Assert.Equal(5, await raft.AppendAsync(Entries.Of(2, "5")));
        }

        // The cut is durable: the log reopens with the leader's entries.
        await using AletheiaPersistentState reopened = Open();
        Assert.Equal(5, reopened.LastEntryIndex);
        Assert.Equal(["1", "2", "x3", "x4", "5"], (await Entries.ReadAsync(reopened.AsPersistentState, 1, 5)).Entries.Select(e => e.Text));
    }

    [Fact]
    public async Task Entries_already_present_with_the_same_term_are_kept_and_so_is_what_follows_them()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "1"), Entries.Of(1, "2"), Entries.Of(2, "3"), Entries.Of(2, "4")), 1);

        // A late duplicate of an earlier AppendEntries (Raft, section 5.3): nothing conflicts, nothing is dropped.
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "2"), Entries.Of(2, "3")), 2);
        Assert.Equal(4, raft.LastEntryIndex);
        Assert.Equal(["1", "2", "3", "4"], (await Entries.ReadAsync(raft, 1, 4)).Entries.Select(e => e.Text));
    }

    [Fact]
    public async Task An_append_that_would_leave_a_gap_is_refused()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Of(1, "1"));
        var gap = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => raft.AppendAsync(Entries.Producer(Entries.Of(1, "3")), 3).AsTask());
        Assert.Contains("would leave a gap: the log's last entry is 1", gap.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => raft.AppendAsync(Entries.Of(1, "3"), 3).AsTask());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => raft.AppendAsync(Entries.Of(1, "0"), 0).AsTask());
        Assert.Equal(1, raft.LastEntryIndex);
    }

    [Fact]
    public async Task An_append_at_or_below_the_commit_index_is_refused_unless_committed_entries_are_skipped()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "1"), Entries.Of(1, "2"), Entries.Of(1, "3")), 1);
        Assert.Equal(2, await raft.CommitAsync(2));

        var below = await Assert.ThrowsAsync<InvalidOperationException>(() => raft.AppendAsync(Entries.Producer(Entries.Of(2, "x2")), 2).AsTask());
        Assert.Contains("at or below the commit index 2", below.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => raft.AppendAsync(Entries.Of(2, "x1"), 1).AsTask());
        Assert.Equal(["1", "2", "3"], (await Entries.ReadAsync(raft, 1, 3)).Entries.Select(e => e.Text));

        // skipCommitted: the committed entries of the range are passed over, the rest replaces the uncommitted suffix.
        await raft.AppendAsync(Entries.Producer(Entries.Of(1, "2"), Entries.Of(2, "y3"), Entries.Of(2, "y4")), 2, skipCommitted: true);
        Assert.Equal(["1", "2", "y3", "y4"], (await Entries.ReadAsync(raft, 1, 4)).Entries.Select(e => e.Text));
    }

    [Fact]
    public async Task Snapshots_cannot_be_appended_at_the_end_or_inside_a_range()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;
        await Assert.ThrowsAsync<InvalidOperationException>(() => raft.AppendAsync(Entries.Snapshot(1, [1])).AsTask());
        var inRange = await Assert.ThrowsAsync<InvalidOperationException>(
            () => raft.AppendAsync(new DotNext.IO.Log.LogEntryProducer<IRaftLogEntry>([Entries.Of(1, "1"), Entries.Snapshot(1, [1])]), 1).AsTask());
        Assert.Contains("Entry 2 of the range is a snapshot", inRange.Message);
    }

    [Fact]
    public async Task Commit_returns_how_many_entries_it_committed_refuses_an_index_past_the_end_and_survives_reopen()
    {
        var machine = new RecordingStateMachine();
        await using (AletheiaPersistentState state = Open(machine))
        {
            IPersistentState raft = state.AsPersistentState;
            for (int i = 1; i <= 5; i++)
            {
                await raft.AppendAsync(Entries.Of(1, $"e{i}"));
            }

            Assert.Equal(3, await raft.CommitAsync(3));
            Assert.Equal(0, await raft.CommitAsync(2));
            Assert.Equal(0, await raft.CommitAsync(3));
            Assert.Equal(3, raft.LastCommittedEntryIndex);
            var past = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => raft.CommitAsync(6).AsTask());
            Assert.Contains("from 0 to the last entry's index, 5", past.Message);

            // Sixteen concurrent committers: served in turn, the counts add up, the highest index wins.
            long[] counts = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => raft.CommitAsync(i % 2 == 0 ? 4 : 5).AsTask()));
            Assert.Equal(2, counts.Sum());
            Assert.Equal(5, raft.LastCommittedEntryIndex);
            await raft.WaitForApplyAsync(5).AsTask().WaitAsync(Wait);
            Assert.Equal(["e1", "e2", "e3", "e4", "e5"], machine.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
        }

        var fresh = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(fresh);
        Assert.Equal(5, reopened.LastCommittedEntryIndex);

        // InitializeAsync applies the committed entries again to the (in-memory, empty) state machine.
        await reopened.AsPersistentState.InitializeAsync().WaitAsync(Wait);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], fresh.Applied.Select(a => a.Index));
    }

    [Fact]
    public async Task A_commit_index_on_disk_beyond_the_log_kept_does_not_hold_back_later_commits()
    {
        await using (AletheiaPersistentState state = Open())
        {
            IPersistentState raft = state.AsPersistentState;
            await raft.AppendAsync(Entries.Producer(Entries.Of(1, "e1"), Entries.Of(1, "e2")), 1);
            Assert.Equal(2, await raft.CommitAsync(2));
        }

        // A follower's AppendAndCommitAsync writes the commit index while the log writes the entries: a crash then can
        // leave raft.state at 10 and the log at 2.
        using (NodeStateFile file = NodeStateFile.Open(_dir.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite))
        {
            file.Write(1, null, 10);
        }

        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(machine);
        IPersistentState r = reopened.AsPersistentState;
        Assert.Equal(2, r.LastCommittedEntryIndex);
        for (int i = 3; i <= 5; i++)
        {
            Assert.Equal(i, await r.AppendAsync(Entries.Of(2, $"e{i}")));
        }

        Assert.Equal(3, await r.CommitAsync(5));
        Assert.Equal(5, r.LastCommittedEntryIndex);
        await r.WaitForApplyAsync(5).AsTask().WaitAsync(Wait);
        Assert.Equal(["e1", "e2", "e3", "e4", "e5"], machine.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
    }

    [Fact]
    public async Task A_leaders_appends_are_readable_at_once_and_committed_only_once_durable_here()
    {
        await using AletheiaPersistentState state = Open();
        IPersistentState raft = state.AsPersistentState;

        // 256 concurrent appends: each returns with its index, before its write (a leader replicates meanwhile).
        long[] indexes = await Task.WhenAll(Enumerable.Range(0, 256).Select(i => raft.AppendAsync(Entries.Of(1, $"e{i}")).AsTask()));
        Assert.Equal(Enumerable.Range(1, 256).Select(i => (long)i), indexes.Order());
        Entries.ReadResult read = await Entries.ReadAsync(raft, 1, 256);
        Assert.Equal(256, read.Entries.Count);
        Assert.Equal(Enumerable.Range(0, 256).Select(i => $"e{i}").Order(), read.Entries.Select(e => e.Text).Order());

        Assert.Equal(256, await raft.CommitAsync(256));
        Assert.True(state.Log.DurableLsn.Value >= 256, $"CommitAsync returned with the log durable to {state.Log.DurableLsn}: a node commits only what its disk holds.");

        // Payloads above 2 KiB are not kept in memory: a read of one just appended waits for the log's write.
        string large = new('L', 5000);
        long[] more = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => raft.AppendAsync(Entries.Of(2, $"{i}{large}")).AsTask()));
        Entries.ReadResult big = await Entries.ReadAsync(raft, 257, 264);
        Assert.Equal(Enumerable.Range(257, 8).Select(i => (long)i), more.Order());
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"{i}{large}").Order(), big.Entries.Select(e => e.Text).Order());
    }

    [Fact]
    public async Task Only_committed_entries_are_applied_in_index_order_and_WaitForApply_waits_for_them()
    {
        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        for (int i = 1; i <= 4; i++)
        {
            await raft.AppendAsync(Entries.Of(i, $"e{i}"));
        }

        Task waitFor3 = raft.WaitForApplyAsync(3).AsTask();
        Assert.False(waitFor3.IsCompleted, "Nothing is committed: nothing is applied.");
        await raft.CommitAsync(3);
        await waitFor3.WaitAsync(Wait);
        Assert.Equal(3, state.LastAppliedIndex);
        Assert.Equal([(1L, 1L), (2L, 2L), (3L, 3L)], machine.Applied.Select(a => (a.Index, a.Term)));

        // A wait cancelled before its entry is applied ends cancelled; one for the same entry without a token goes on.
        using (var cancel = new CancellationTokenSource())
        {
            Task cancelled = raft.WaitForApplyAsync(4, cancel.Token).AsTask();
            Task waiting = raft.WaitForApplyAsync(4).AsTask();
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Wait));
            Assert.False(waiting.IsCompleted, "Entry 4 is not committed: its wait goes on.");
            await raft.CommitAsync(4);
            await waiting.WaitAsync(Wait);
        }

        Task next = raft.WaitForApplyAsync().AsTask();
        await raft.AppendAsync(Entries.Of(5, "e5"));
        await raft.CommitAsync(5);
        await next.WaitAsync(Wait);
        await raft.WaitForApplyAsync(5).AsTask().WaitAsync(Wait);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], machine.Applied.Select(a => a.Index));
    }

    [Fact]
    public async Task Term_and_vote_are_durable_before_the_calls_return_and_survive_reopen()
    {
        var self = new ClusterMemberId(new Random(1));
        var other = new ClusterMemberId(new Random(2));
        await using (AletheiaPersistentState state = Open())
        {
            IPersistentState raft = state.AsPersistentState;
            Assert.Equal(0, raft.Term);
            Assert.True(raft.IsVotedFor(other), "No vote yet: a vote for anyone may be granted.");

            Assert.Equal(1, await raft.IncrementTermAsync(self));
            Assert.True(raft.IsVotedFor(self));
            Assert.False(raft.IsVotedFor(other), "One vote per term: the candidate voted for itself.");

            await raft.UpdateTermAsync(5, resetLastVote: false);
            Assert.Equal(5, raft.Term);
            Assert.False(raft.IsVotedFor(other));

            await raft.UpdateTermAsync(6, resetLastVote: true);
            Assert.True(raft.IsVotedFor(other));
            await raft.UpdateVotedForAsync(other);
            Assert.False(raft.IsVotedFor(self));
        }

        await using AletheiaPersistentState reopened = Open();
        IPersistentState again = reopened.AsPersistentState;
        Assert.Equal(6, again.Term);
        Assert.True(again.IsVotedFor(other));
        Assert.False(again.IsVotedFor(self));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => again.UpdateTermAsync(9, true, cancelled.Token).AsTask());
        Assert.Equal(6, again.Term);
    }

    [Fact]
    public async Task A_raft_state_missing_or_emptied_under_a_log_that_holds_entries_is_refused_at_open()
    {
        await using (AletheiaPersistentState state = Open())
        {
            IPersistentState raft = state.AsPersistentState;
            await raft.UpdateTermAsync(3, resetLastVote: true);
            await raft.UpdateVotedForAsync(new ClusterMemberId(new Random(1)));
            await raft.AppendAsync(Entries.Producer(Entries.Of(3, "e1"), Entries.Of(3, "e2")), 1);
        }

        string path = Path.Combine(_dir.Path, NodeStateFile.FileName);
        File.WriteAllBytes(path, []);
        var emptied = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains("raft.state' has no state written (it is empty or zeroed), but this node's log holds entries up to index 2", emptied.Message);
        Assert.Contains("term and vote are lost", emptied.Message);
        Assert.Equal(0, new FileInfo(path).Length);

        File.Delete(path);
        var missing = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains("raft.state' is missing, but this node's log holds entries up to index 2", missing.Message);
        Assert.False(File.Exists(path), "A refused open must not create the file it refused: the next open would take it.");
    }

    [Fact]
    public async Task A_raft_state_missing_or_emptied_under_a_node_that_voted_but_holds_no_entries_is_refused_at_open()
    {
        var me = new ClusterMemberId(new Random(7));
        await using (AletheiaPersistentState state = Open())
        {
            IPersistentState raft = state.AsPersistentState;
            await raft.UpdateTermAsync(7, resetLastVote: true);
            await raft.UpdateVotedForAsync(me);
            Assert.Equal(0, raft.LastEntryIndex);
        }

        string path = Path.Combine(_dir.Path, NodeStateFile.FileName);
        string walHead = Path.Combine(_dir.Path, "log", "wal.head");
        File.Delete(path);
        var missing = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains($"raft.state' is missing, but this node's log holds no entries but exists ('{walHead}')", missing.Message);
        Assert.Contains("term and vote are lost", missing.Message);
        Assert.False(File.Exists(path), "A refused open must not create the file it refused: the next open would take it.");

        File.WriteAllBytes(path, new byte[1024]);
        var zeroed = Assert.Throws<InvalidDataException>(() => Open());
        Assert.Contains($"raft.state' has no state written (it is empty or zeroed), but this node's log holds no entries but exists ('{walHead}')", zeroed.Message);
    }

    [Fact]
    public async Task A_new_node_creates_raft_state_before_its_log_and_opens_again_at_term_0()
    {
        await using (AletheiaPersistentState state = Open())
        {
            Assert.True(File.Exists(Path.Combine(_dir.Path, NodeStateFile.FileName)));
            Assert.True(File.Exists(Path.Combine(_dir.Path, "log", "wal.head")));
        }

        await using AletheiaPersistentState again = Open();
        Assert.Equal(0, again.Term);
        Assert.True(again.IsVotedFor(new ClusterMemberId(new Random(3))));
    }

    [Fact]
    public async Task A_new_node_writes_its_first_state_at_open_so_a_node_with_entries_never_has_a_blank_raft_state()
    {
        await using (AletheiaPersistentState state = Open())
        {
            await state.AsPersistentState.AppendAsync(Entries.Producer(Entries.Of(1, "e1")), 1);
        }

        string path = Path.Combine(_dir.Path, NodeStateFile.FileName);
        Assert.Equal(NodeStateFile.SlotSize, new FileInfo(path).Length);
        await using AletheiaPersistentState reopened = Open();
        Assert.Equal(0, reopened.Term);
        Assert.Equal(1, reopened.LastEntryIndex);
    }

    [Fact]
    public async Task Reads_across_a_compacted_head_start_with_the_snapshot_and_its_index()
    {
        var machine = new RecordingStateMachine();
        await using (AletheiaPersistentState state = Open(machine, segmentBytes: 64 * 1024))
        {
            IPersistentState raft = state.AsPersistentState;
            string payload = new('p', 900);
            for (int i = 1; i <= 300; i++)
            {
                await raft.AppendAsync(Entries.Of(1 + (i / 100), $"{i}:{payload}"));
            }

            await raft.CommitAsync(250);
            await raft.WaitForApplyAsync(250).AsTask().WaitAsync(Wait);
            Assert.Equal(250, await state.CompactAsync());
            Assert.Equal(250, state.SnapshotIndex);

            Entries.ReadResult read = await Entries.ReadAsync(raft, 1, 300);
            Assert.Equal(250, read.SnapshotIndex);
            Assert.True(read.Entries[0].IsSnapshot);
            Assert.Equal(3, read.Entries[0].Term); // the term of entry 250
            Assert.Equal(51, read.Entries.Count);  // the snapshot, then 251..300
            Assert.StartsWith("251:", read.Entries[1].Text);

            // Terms of compacted entries: the snapshot's term, as DotNext's own log answers.
            Assert.Equal(3, (await Entries.ReadAsync(raft, 10, 10, metadataOnly: true)).Entries[0].Term);
        }

        // Reopen: the state machine comes back from the snapshot, then the log's committed entries after it.
        var fresh = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(fresh, segmentBytes: 64 * 1024);
        Assert.Equal(250, reopened.SnapshotIndex);
        await reopened.AsPersistentState.InitializeAsync().WaitAsync(Wait);
        Assert.Equal(1, fresh.Restores);
        Assert.Equal(Enumerable.Range(1, 250).Select(i => (long)i), fresh.Applied.Select(a => a.Index));
    }

    [Fact]
    public async Task Reads_racing_compactions_that_remove_their_segments_serve_the_entries_or_the_snapshot_and_never_fail()
    {
        const int Rounds = 30;
        const int PerRound = 2000;
        string text = new('p', 200);
        await using AletheiaPersistentState state = Open(segmentBytes: 64 * 1024);
        IPersistentState raft = state.AsPersistentState;
        var entry = Entries.Of(1, text);
        int failures = 0;
        string? firstFailure = null;
        long entryReads = 0;
        long snapshotReads = 0;
        for (int round = 0; round < Rounds; round++)
        {
            long start = raft.LastEntryIndex + 1;
            for (int i = 0; i < PerRound; i++)
            {
                await raft.AppendAsync(entry);
            }

            await raft.CommitAsync(raft.LastEntryIndex);
            await raft.WaitForApplyAsync(raft.LastEntryIndex).AsTask().WaitAsync(Wait);
            long end = raft.LastEntryIndex;
            using var stop = new CancellationTokenSource();
            Task reader = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        Entries.ReadResult read = await Entries.ReadAsync(raft, start, start + 50);
                        if (read.SnapshotIndex is { } snapshotIndex)
                        {
                            // The snapshot first, then what follows it up to the end asked for (nothing: it covers the round).
                            Assert.Equal(end, snapshotIndex);
                            Assert.True(Assert.Single(read.Entries).IsSnapshot);
                            Interlocked.Increment(ref snapshotReads);
                        }
                        else
                        {
                            Assert.Equal(51, read.Entries.Count);
                            Assert.All(read.Entries, e => Assert.Equal(text, e.Text));
                            Interlocked.Increment(ref entryReads);
                        }
                    }
                    catch (Exception e)
                    {
                        Interlocked.Increment(ref failures);
                        firstFailure ??= $"{e.GetType().Name}: {e.Message}";
                    }
                }
            });
            await Task.Delay(5);
            Assert.Equal(end, await state.CompactAsync());
            await Task.Delay(5);
            stop.Cancel();
            await reader.WaitAsync(Wait);
        }

        Assert.True(failures == 0, $"{failures} reads failed; the first: {firstFailure}");
        Assert.True(entryReads > 0, "No read ran before a compaction.");
        Assert.True(snapshotReads > 0, "No read ran after a compaction.");
    }

    [Fact]
    public async Task A_snapshot_from_the_leader_is_installed_on_an_empty_follower_that_then_appends_after_it()
    {
        var leaderMachine = new RecordingStateMachine();
        for (int i = 1; i <= 3; i++)
        {
            leaderMachine.Apply(new ReplicatedCommand(i, 2, null, false, Encoding.UTF8.GetBytes($"s{i}")));
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        leaderMachine.WriteSnapshot(buffer);

        var machine = new RecordingStateMachine();
        await using (AletheiaPersistentState state = Open(machine))
        {
            IPersistentState raft = state.AsPersistentState;
            await raft.AppendAsync(Entries.Snapshot(2, buffer.WrittenSpan.ToArray()), 40);
            Assert.Equal(40, raft.LastEntryIndex);
            Assert.Equal(40, raft.LastCommittedEntryIndex);
            Assert.Equal(40, state.LastAppliedIndex);
            Assert.Equal(["s1", "s2", "s3"], machine.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
            Assert.Equal(2, (await Entries.ReadAsync(raft, 40, 40, metadataOnly: true)).Entries[0].Term);

            Assert.Equal(41, await raft.AppendAsync(Entries.Of(3, "after")));
            var again = await Assert.ThrowsAsync<InvalidOperationException>(() => raft.AppendAsync(Entries.Snapshot(2, [0, 0, 0, 0]), 30).AsTask());
            Assert.Contains("at or below the commit index 40", again.Message);
        }

        var fresh = new RecordingStateMachine();
        await using AletheiaPersistentState reopened = Open(fresh);
        Assert.Equal(41, reopened.LastEntryIndex);
        Assert.Equal(40, reopened.LastCommittedEntryIndex);
        Assert.Equal(["s1", "s2", "s3"], fresh.Applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
    }

    [Fact]
    public async Task A_snapshot_over_conflicting_uncommitted_entries_drops_what_follows_it_and_reads_as_the_snapshot()
    {
        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = Open(machine);
        IPersistentState raft = state.AsPersistentState;
        for (int i = 1; i <= 10; i++)
        {
            await raft.AppendAsync(Entries.Of(1, $"old{i}"));
        }

        await raft.CommitAsync(2);

        // The leader's snapshot covers 1..8 at term 3: this log's entry 8 (term 1) is not the leader's, so 9..10 go too.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        new RecordingStateMachine().WriteSnapshot(buffer);
        await raft.AppendAsync(Entries.Snapshot(3, buffer.WrittenSpan.ToArray()), 8);
        Assert.Equal(8, raft.LastEntryIndex);
        Assert.Equal(8, raft.LastCommittedEntryIndex);
        Assert.Equal(3, (await Entries.ReadAsync(raft, 8, 8, metadataOnly: true)).Entries[0].Term);

        // Entries the snapshot covers read as the snapshot, never as the old entries the log still holds.
        Entries.ReadResult read = await Entries.ReadAsync(raft, 5, 8);
        Assert.Equal(8, read.SnapshotIndex);
        Assert.True(Assert.Single(read.Entries).IsSnapshot);
        Assert.Equal(9, await raft.AppendAsync(Entries.Of(3, "new9")));
        Assert.Equal(["new9"], (await Entries.ReadAsync(raft, 9, 9)).Entries.Select(e => e.Text));
    }

    [Fact]
    public async Task Bad_options_are_refused_with_the_option_named()
    {
        var threshold = Assert.Throws<ArgumentException>(() => AletheiaPersistentState.Open(
            new AletheiaRaftOptions { Directory = _dir.Path, SnapshotThreshold = -1 }, new RecordingStateMachine()));
        Assert.Contains("AletheiaRaftOptions.SnapshotThreshold must be at least 0; it is -1.", threshold.Message);
        var moved = Assert.Throws<ArgumentException>(() => AletheiaPersistentState.Open(
            new AletheiaRaftOptions { Directory = _dir.Path, LogOptions = _ => new WalOptions { Directory = _dir.Log("elsewhere") } }, new RecordingStateMachine()));
        Assert.Contains("must keep the log's directory", moved.Message);
        await Task.CompletedTask;
    }
}
