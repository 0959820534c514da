using System.Text;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Support;

/// <summary>Waits and checks over several <see cref="ClusterNode"/>s, each bounded in time.</summary>
internal static class ClusterChecks
{
    /// <summary>The one node that leads, once every node given agrees on it.</summary>
    public static async Task<ClusterNode> LeaderAsync(TimeSpan timeout, params ClusterNode[] nodes)
    {
        using var limit = new CancellationTokenSource(timeout);
        while (true)
        {
            ClusterNode[] leaders = nodes.Where(n => n.IsLeader).ToArray();
            if (leaders.Length == 1 && nodes.All(n => n.Cluster.Leader?.EndPoint is System.Net.IPEndPoint ep && ep.Port == leaders[0].Port))
            {
                return leaders[0];
            }

            Assert.False(limit.IsCancellationRequested, $"No leader agreed by nodes {string.Join(", ", nodes.Select(n => n.Port))} within {timeout.TotalSeconds} s.");
            await Task.Delay(20);
        }
    }

    /// <summary>Replicates the commands <c>{prefix}{first}</c>.. through <paramref name="leader"/> from <paramref name="clients"/> concurrent clients; each has committed and is applied on the leader on return.</summary>
    public static async Task ReplicateAsync(ClusterNode leader, string prefix, int first, int count, int clients, TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        int next = first - 1;
        int end = first + count - 1;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            for (int n = Interlocked.Increment(ref next); n <= end; n = Interlocked.Increment(ref next))
            {
                var entry = new BinaryLogEntry { Term = leader.State.Term, Content = Encoding.UTF8.GetBytes($"{prefix}{n}") };
                await leader.Cluster.ReplicateAsync(entry, limit.Token);
            }
        })));
    }

    /// <summary>Waits until every node has applied up to <paramref name="index"/>.</summary>
    public static async Task AppliedAsync(long index, TimeSpan timeout, params ClusterNode[] nodes)
    {
        using var limit = new CancellationTokenSource(timeout);
        while (!nodes.All(n => n.State.LastAppliedIndex >= index))
        {
            Assert.False(
                limit.IsCancellationRequested,
                $"Not every node applied up to {index} within {timeout.TotalSeconds} s: {string.Join(", ", nodes.Select(n => $"{n.Port} at {n.State.LastAppliedIndex}"))}.");
            await Task.Delay(20);
        }
    }

    /// <summary>The node's log entries 1..<paramref name="last"/> as (term, text).</summary>
    public static async Task<(long Term, string Text)[]> LogAsync(ClusterNode node, long last) =>
        (await Entries.ReadAsync(node.State.AsPersistentState, 1, last)).Entries.Select(e => (e.Term, e.Text)).ToArray();
}
