using Aletheia.Wal.Raft.Tests.Support;
using DotNext.Net.Cluster.Consensus.Raft;

namespace Aletheia.Wal.Perf.Raft;

/// <summary>Three RaftCluster nodes over TCP on 127.0.0.1 in this process, each with a log of the named kind in its own directory.</summary>
internal sealed class RaftBenchCluster : IAsyncDisposable
{
    private readonly List<(RaftCluster Cluster, IPersistentState Log, IAsyncDisposable Owner)> _nodes = [];

    public IReadOnlyList<RaftCluster> Nodes => _nodes.Select(n => n.Cluster).ToArray();

    public static async Task<RaftBenchCluster> StartAsync(string log, string root, CancellationToken token)
    {
        int[] ports = Loopback.FreePorts(3);
        var bench = new RaftBenchCluster();
        try
        {
            for (int i = 0; i < ports.Length; i++)
            {
                (IPersistentState state, IAsyncDisposable owner) = RaftLogs.Open(log, Path.Combine(root, $"node{i}"));
                RaftCluster.TcpConfiguration configuration = Loopback.Member(ports[i], ports, 300, 600, TimeSpan.FromSeconds(5));
                var cluster = new RaftCluster(configuration) { AuditTrail = state };
                bench._nodes.Add((cluster, state, owner));
                await cluster.StartAsync(token);
            }
        }
        catch
        {
            await bench.DisposeAsync();
            throw;
        }

        return bench;
    }

    /// <summary>The leader, once one is elected and its first entry (the barrier) is committed.</summary>
    public async Task<(RaftCluster Cluster, IPersistentState Log)> LeaderAsync(CancellationToken token)
    {
        while (true)
        {
            token.ThrowIfCancellationRequested();
            foreach ((RaftCluster cluster, IPersistentState log, _) in _nodes)
            {
                if (!cluster.LeadershipToken.IsCancellationRequested && log.LastCommittedEntryIndex > 0)
                {
                    return (cluster, log);
                }
            }

            await Task.Delay(20, token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach ((RaftCluster cluster, _, IAsyncDisposable owner) in _nodes)
        {
            try
            {
                using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await cluster.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
            }

            await cluster.DisposeAsync();
            await owner.DisposeAsync();
        }

        _nodes.Clear();
    }
}
