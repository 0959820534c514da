using Aletheia.Wal.Perf.Raft;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft.Worker;

/// <summary>
/// <c>alloc-paths &lt;directory&gt;</c> (third review): the bytes the whole process allocates per command on paths the
/// <c>alloc</c> mode does not take, each a loop inside one async method (the harness allocates nothing per command).
/// "large-leader": the <c>alloc</c> mode's loop (append, read back, commit, wait for apply) with a 3,000-byte command (above what memory keeps: read from the log). "follower": a
/// follower's append of one entry at the end, then commit and wait for apply. "follower-replace": a follower's entry
/// replaced by one of a later term (TruncateAfter), per command. "lagging-reads": two followers in turn reading, 64 at a
/// time, entries more than 4,096 behind the end (not in memory); a command is one entry read. Prints, per path,
/// <c>&lt;path&gt; allocated a,b,c commands n ms x,y,z</c> (three windows of n commands, after a warm-up of n).
/// No test runs it (it takes about a minute); the third review's report quotes its output.
/// </summary>
internal static class AllocationPaths
{
    public static async Task<int> RunAsync(string directory)
    {
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = directory }, new CommandAllocation.NoOpMachine());
        var paths = new Paths(state.AsPersistentState);
        Console.WriteLine(await MeasureAsync("large-leader", paths.LeaderAsync, small: false, 1_000));
        Console.WriteLine(await MeasureAsync("follower", paths.FollowerAsync, small: true, 1_000));
        await paths.PrepareLaggingAsync();
        Console.WriteLine(await MeasureAsync("lagging-reads", paths.LaggingReadsAsync, small: true, 4_096));
        Console.WriteLine(await MeasureAsync("follower-replace", paths.ReplaceAsync, small: true, 20));
        return 0;
    }

    private static async Task<string> MeasureAsync(string name, Func<bool, int, Task> loop, bool small, int window)
    {
        await loop(small, window); // warm-up
        long[] bytes = new long[3];
        long[] milliseconds = new long[3];
        for (int w = 0; w < bytes.Length; w++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long started = Environment.TickCount64;
            await loop(small, window);
            milliseconds[w] = Environment.TickCount64 - started;
            bytes[w] = GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        return $"{name} allocated {string.Join(',', bytes)} commands {window} ms {string.Join(',', milliseconds)}";
    }

    private sealed class Paths(IPersistentState raft)
    {
        private readonly byte[] _large = new byte[3000];
        private readonly byte[] _small = new byte[64];
        private readonly LengthReader _reader = new();
        private readonly OneEntryProducer _producer = new();
        private readonly long[] _next = new long[2];
        private long _term = 1;

        public async Task LeaderAsync(bool small, int count)
        {
            byte[] payload = small ? _small : _large;
            for (int i = 0; i < count; i++)
            {
                long index = await raft.AppendAsync(new BinaryLogEntry { Term = _term, Content = payload });
                if (await raft.ReadAsync(_reader, index, index) != payload.Length)
                {
                    throw new InvalidDataException($"Entry {index} was read back with another length.");
                }

                await raft.CommitAsync(index);
                await raft.WaitForApplyAsync(index);
            }
        }

        public async Task FollowerAsync(bool small, int count)
        {
            for (int i = 0; i < count; i++)
            {
                long index = raft.LastEntryIndex + 1;
                _producer.Reset(new BinaryLogEntry { Term = _term, Content = _small });
                await raft.AppendAsync(_producer, index);
                await raft.CommitAsync(index);
                await raft.WaitForApplyAsync(index);
            }
        }

        public async Task ReplaceAsync(bool small, int count)
        {
            for (int i = 0; i < count; i++)
            {
                long index = raft.LastEntryIndex + 1;
                _producer.Reset(new BinaryLogEntry { Term = _term, Content = _small });
                await raft.AppendAsync(_producer, index);
                _term++;
                _producer.Reset(new BinaryLogEntry { Term = _term, Content = _small });
                await raft.AppendAsync(_producer, index); // a later term: the entry is replaced
            }
        }

        public async Task PrepareLaggingAsync()
        {
            for (int i = 0; i < 40_000; i++)
            {
                await raft.AppendAsync(new BinaryLogEntry { Term = _term, Content = _small });
            }

            await raft.CommitAsync(raft.LastEntryIndex);
            _next[0] = raft.LastEntryIndex - 39_000;
            _next[1] = raft.LastEntryIndex - 30_000;
        }

        public async Task LaggingReadsAsync(bool small, int count)
        {
            for (int i = 0; i < count; i += 64)
            {
                int f = (i / 64) & 1;
                await raft.ReadAsync(_reader, _next[f], _next[f] + 63);
                _next[f] += 64;
            }
        }
    }

    /// <summary>A producer of one entry, reused (a follower's AppendEntries, without the producer's own allocation).</summary>
    private sealed class OneEntryProducer : ILogEntryProducer<BinaryLogEntry>
    {
        private BinaryLogEntry _entry;
        private bool _taken = true;

        public BinaryLogEntry Current => _entry;

        public long RemainingCount => _taken ? 0 : 1;

        public void Reset(BinaryLogEntry entry)
        {
            _entry = entry;
            _taken = false;
        }

        public ValueTask<bool> MoveNextAsync()
        {
            bool moved = !_taken;
            _taken = true;
            return new ValueTask<bool>(moved);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
