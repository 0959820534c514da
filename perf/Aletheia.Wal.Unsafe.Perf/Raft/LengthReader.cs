using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Perf.Raft;

/// <summary>
/// Reads entries as a leader's replication does, and keeps nothing: the sum of their lengths. The perf raft command's
/// log-alone loop, and the Raft tests' worker that measures the same loop's allocations (tests/Aletheia.Wal.Raft.Worker).
/// </summary>
internal sealed class LengthReader : ILogEntryConsumer<IRaftLogEntry, long>
{
    public ValueTask<long> ReadAsync<TEntry, TList>(TList entries, long? snapshotIndex, CancellationToken token)
        where TEntry : IRaftLogEntry
        where TList : IReadOnlyList<TEntry>
    {
        long length = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            length += entries[i].Length.GetValueOrDefault();
        }

        return new ValueTask<long>(length);
    }
}
