using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Review3;

/// <summary>
/// Third review, priority 4: two followers that lag (entries no longer in memory) read in turn. Reads of durable entries
/// complete synchronously, so the bytes allocated on this thread are exactly what the reads allocated.
/// </summary>
public sealed class LaggingReaderProbes : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// R3-D1: two lagging followers 10,000 entries apart each keep their own pooled reader. Before the fix each read
    /// disposed the other follower's (RentReader dropped every pooled reader more than 4,096 entries behind the read's
    /// start) and opened a new one: about 1,650 B per read, and a reader opened per read.
    /// </summary>
    [Fact]
    public Task R3_D1_two_lagging_followers_10000_entries_apart_evict_each_others_pooled_reader_on_every_read() =>
        ReadInTurnAllocatesNothingAsync(10_000);

    /// <summary>
    /// R3-D3: a lagging follower's reads from the log allocate nothing in steady state, with one follower or two whose
    /// readers stay pooled. The 448 B per window of 40 reads first seen here were the window's own <c>Assert.Equal</c>
    /// (xunit's comparer allocates 448 B per call once warm), not the reads: the count is now checked after the window.
    /// (With the default 64 MiB segments these reads never leave the first segment; a reader moving to the next segment
    /// allocates 472 B, its path among them, once per segment.)
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(2_000)]
    public Task R3_D3_lagging_reads_from_the_log_allocate_nothing_in_steady_state(long apart) => ReadInTurnAllocatesNothingAsync(apart);

    private async Task ReadInTurnAllocatesNothingAsync(long apart)
    {
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = _dir.Path }, new RecordingStateMachine());
        IPersistentState raft = state.AsPersistentState;
        byte[] payload = new byte[64];
        for (int i = 0; i < 20_000; i++)
        {
            await raft.AppendAsync(new BinaryLogEntry { Term = 1, Content = payload });
        }

        await raft.CommitAsync(raft.LastEntryIndex); // durable: the reads below complete synchronously

        var reader = new CountingReader();
        long[] next = [1, 1 + apart];
        int ReadInTurn(int reads)
        {
            int synchronous = 0;
            for (int k = 0; k < reads; k++)
            {
                int f = apart == 0 ? 0 : k & 1;
                ValueTask<long> read = raft.ReadAsync(reader, next[f], next[f] + 63);
                if (!read.IsCompletedSuccessfully || read.Result != 64)
                {
                    Assert.Fail($"A read of durable entries {next[f]}..{next[f] + 63} completes synchronously with 64 entries.");
                }

                next[f] += 64;
                synchronous++;
            }

            return synchronous;
        }

        ReadInTurn(20); // warm-up: the readers, the entry lists
        long[] windows = new long[3];
        for (int w = 0; w < windows.Length; w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            int synchronous = ReadInTurn(40);
            windows[w] = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(40, synchronous); // after the window: xunit's Assert.Equal allocates
        }

        // One-off work (a lock inflated, a reader's buffer grown) shows in one window; a per-read allocation in each.
        long allocated = windows.Min();
        Assert.True(allocated == 0, $"Windows of 40 reads of 64 entries by {(apart == 0 ? "one follower" : $"two followers {apart} entries apart")} allocated {string.Join(", ", windows)} bytes (the least: {allocated / 40} per read).");
    }

    private sealed class CountingReader : ILogEntryConsumer<IRaftLogEntry, long>
    {
        public ValueTask<long> ReadAsync<TEntry, TList>(TList entries, long? snapshotIndex, CancellationToken token)
            where TEntry : IRaftLogEntry
            where TList : IReadOnlyList<TEntry> => new(entries.Count);
    }
}
