using System.Net;
using System.Text;
using Aletheia.Wal.Raft.Tests.Support;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Raft.Worker;

/// <summary>
/// <c>churn &lt;directory&gt;</c> (third review, crash probes): opens the node's state, prints
/// <c>open &lt;last&gt; &lt;commit&gt; &lt;term&gt; &lt;snapshot&gt;</c>, then forever appends eight entries (payload
/// <c>e&lt;index&gt;</c>), commits them and prints <c>committed &lt;index&gt;</c> once CommitAsync returned; every 40
/// entries increments the term (a candidate's vote for itself) and prints <c>term &lt;term&gt;</c>; every 200 compacts
/// (a snapshot, TruncateBefore) and prints <c>compacted &lt;index&gt;</c>. The test kills it with SIGKILL at any point.
/// </summary>
internal static class Churn
{
    public static async Task<int> RunAsync(string directory)
    {
        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(
            new AletheiaRaftOptions { Directory = directory, LogOptions = dir => new WalOptions { Directory = dir, SegmentSizeBytes = 1 << 17, MaxEntryBytes = 4096, StripeCapacityBytes = 1 << 16 } },
            machine);
        IPersistentState raft = state.AsPersistentState;
        var me = ClusterMemberId.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 1));
        Console.WriteLine($"open {raft.LastEntryIndex} {raft.LastCommittedEntryIndex} {raft.Term} {state.SnapshotIndex}");
        long term = Math.Max(1, raft.Term);
        while (true)
        {
            long index = 0;
            for (int i = 0; i < 8; i++)
            {
                long next = raft.LastEntryIndex + 1;
                index = await raft.AppendAsync(new BinaryLogEntry { Term = term, Content = Encoding.UTF8.GetBytes("e" + next) });
                if (index != next)
                {
                    throw new InvalidDataException($"Entry e{next} was given index {index}.");
                }
            }

            await raft.CommitAsync(index);
            Console.WriteLine($"committed {index}");
            if (index % 40 < 8)
            {
                term = await raft.IncrementTermAsync(me);
                Console.WriteLine($"term {term}");
            }

            if (index % 200 < 8)
            {
                await raft.WaitForApplyAsync(index);
                Console.WriteLine($"compacted {await state.CompactAsync()}");
            }
        }
    }
}
