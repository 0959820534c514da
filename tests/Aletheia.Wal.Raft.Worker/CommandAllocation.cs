using Aletheia.Wal.Perf.Raft;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft.Worker;

/// <summary>
/// <c>alloc &lt;directory&gt;</c>: the bytes the whole process allocates per command in steady state, over the per-command
/// paths of <see cref="AletheiaPersistentState"/>. Two loads: "one-client", the perf <c>raft</c> command's "log alone"
/// loop (append, read back, commit, wait for apply); and "eight-clients": eight loops that append, read back and wait for
/// apply, while one loop commits (Raft commits from one loop). The loops start and warm up first (the entries kept in
/// memory get their buffers, the pools their objects); then five windows are read while they run, so that nothing this
/// worker does itself falls in a window. Prints, per load, <c>&lt;load&gt; allocated a,b,c,d,e commands v,w,x,y,z</c>.
/// </summary>
internal static class CommandAllocation
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    public static async Task<int> RunAsync(string directory)
    {
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = directory }, new NoOpMachine());
        IPersistentState raft = state.AsPersistentState;
        Console.WriteLine(await MeasureAsync("one-client", raft, clients: 1, warmup: 5_000, window: 1_000));
        Console.WriteLine(await MeasureAsync("eight-clients", raft, clients: 8, warmup: 20_000, window: 5_000));
        return 0;
    }

    private static async Task<string> MeasureAsync(string name, IPersistentState raft, int clients, long warmup, long window)
    {
        var load = new Load(raft);
        Task[] loops = clients == 1
            ? [Task.Run(() => load.ClientAsync(commits: true))]
            : [.. Enumerable.Range(0, clients).Select(_ => Task.Run(() => load.ClientAsync(commits: false)))];
        Task committer = clients == 1 ? Task.CompletedTask : Task.Run(load.CommitterAsync);
        long[] bytes = new long[5];
        long[] commands = new long[5];
        try
        {
            load.WaitFor(warmup, Limit);
            for (int w = 0; w < bytes.Length; w++)
            {
                long start = load.Commands;
                long before = GC.GetTotalAllocatedBytes(precise: true);
                load.WaitFor(start + window, Limit);
                bytes[w] = GC.GetTotalAllocatedBytes(precise: true) - before;
                commands[w] = load.Commands - start;
            }
        }
        finally
        {
            // The committer last: the clients' last commands wait for it.
            load.Stop();
            await Task.WhenAll(loops).WaitAsync(Limit);
            load.StopCommitter();
            await committer.WaitAsync(Limit);
        }

        return $"{name} allocated {string.Join(',', bytes)} commands {string.Join(',', commands)}";
    }

    /// <summary>The loops, and the count of commands they completed.</summary>
    private sealed class Load(IPersistentState raft)
    {
        private long _commands;
        private int _stopped;
        private int _committerStopped;

        public long Commands => Interlocked.Read(ref _commands);

        public void Stop() => Volatile.Write(ref _stopped, 1);

        public void StopCommitter() => Volatile.Write(ref _committerStopped, 1);

        /// <summary>Blocks (allocating nothing) until the loops completed <paramref name="count"/> commands.</summary>
        public void WaitFor(long count, TimeSpan limit)
        {
            long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
            while (Commands < count)
            {
                if (Environment.TickCount64 > deadline)
                {
                    throw new TimeoutException($"The loops completed {Commands} commands of {count} within {limit}.");
                }

                Thread.Sleep(5);
            }
        }

        public async Task ClientAsync(bool commits)
        {
            byte[] payload = new byte[64];
            var reader = new LengthReader();
            while (Volatile.Read(ref _stopped) == 0)
            {
                long index = await raft.AppendAsync(new BinaryLogEntry { Term = 1, Content = payload });
                if (await raft.ReadAsync(reader, index, index) != payload.Length)
                {
                    throw new InvalidDataException($"Entry {index} was read back with another length.");
                }

                if (commits)
                {
                    await raft.CommitAsync(index);
                }

                await raft.WaitForApplyAsync(index);
                Interlocked.Increment(ref _commands);
            }
        }

        public async Task CommitterAsync()
        {
            while (Volatile.Read(ref _committerStopped) == 0)
            {
                long last = raft.LastEntryIndex;
                if (last > raft.LastCommittedEntryIndex)
                {
                    await raft.CommitAsync(last);
                }
                else
                {
                    await Task.Yield();
                }
            }
        }
    }

    /// <summary>Applies nothing, snapshots nothing.</summary>
    internal sealed class NoOpMachine : IReplicatedStateMachine
    {
        public void Apply(ReplicatedCommand command)
        {
        }

        public void WriteSnapshot(System.Buffers.IBufferWriter<byte> output)
        {
        }

        public void RestoreSnapshot(ReadOnlySpan<byte> snapshot)
        {
        }
    }
}
