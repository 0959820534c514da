using Aletheia.Wal.Raft;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using DotNextLog = DotNext.Net.Cluster.Consensus.Raft.StateMachine.WriteAheadLog;

namespace Aletheia.Wal.Perf.Raft;

/// <summary>The two logs under the same cluster: DotNext's own WriteAheadLog and AletheiaPersistentState, each with a state machine that does nothing.</summary>
internal static class RaftLogs
{
    public static readonly string[] Names = ["dotnext", "aletheia"];

    /// <summary>
    /// Opens the named log in <paramref name="directory"/>; the second item disposes it. <paramref name="dotNextChunkBytes"/>
    /// sets DotNext's <c>ChunkSize</c> (its default is the system page size, one file per 4 KiB of entries); null keeps it.
    /// </summary>
    public static (IPersistentState Log, IAsyncDisposable Owner) Open(string name, string directory, int? dotNextChunkBytes = null) => name switch
    {
        // Default options: in 6.12 DotNext's log always flushes what it appended before CommitAsync returns (FlushOnCommit
        // is obsolete, "always true"); a follower's appended entries reach the disk at its next commit.
        "dotnext" => Own(new DotNextLog(
            dotNextChunkBytes is { } chunk ? new DotNextLog.Options { Location = directory, ChunkSize = chunk } : new DotNextLog.Options { Location = directory },
            new NoOpDotNextMachine())),
        "aletheia" => OwnAletheia(AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = directory }, new NoOpMachine())),
        _ => throw new ArgumentException($"Unknown log '{name}'. Known: dotnext, aletheia.", nameof(name)),
    };

    private static (IPersistentState, IAsyncDisposable) Own(DotNextLog log) => (log, log);

    private static (IPersistentState, IAsyncDisposable) OwnAletheia(AletheiaPersistentState state) => (state.AsPersistentState, state);

    /// <summary>Applies nothing, snapshots nothing.</summary>
    private sealed class NoOpMachine : IReplicatedStateMachine
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

    /// <summary>DotNext's side of the same: applies nothing, keeps no snapshot.</summary>
    private sealed class NoOpDotNextMachine : IStateMachine
    {
        public ISnapshot? Snapshot => null;

        public ValueTask<long> ApplyAsync(LogEntry entry, CancellationToken token) => new(entry.Index);

        public ValueTask ReclaimGarbageAsync(long watermark, CancellationToken token) => ValueTask.CompletedTask;
    }
}
