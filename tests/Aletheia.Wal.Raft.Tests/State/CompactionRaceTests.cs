using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.State;

/// <summary>Reads (a leader replicating to a lagging follower) racing compactions that remove the segments they read.</summary>
public sealed class CompactionRaceTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Reads_racing_compactions_serve_the_entries_or_the_snapshot_and_never_fail()
    {
        const int Rounds = 30;
        const int PerRound = 2000;
        string text = new('p', 200);
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(
            new AletheiaRaftOptions
            {
                Directory = _dir.Path,
                LogOptions = dir => new WalOptions { Directory = dir, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 1024, StripeCapacityBytes = 1 << 16 },
            },
            new RecordingStateMachine());
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
}
