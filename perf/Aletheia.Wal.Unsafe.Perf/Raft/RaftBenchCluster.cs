using System.Net;
using System.Net.Sockets;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace Aletheia.Wal.Perf.Raft;

/// <summary>Three RaftCluster nodes over TCP on 127.0.0.1 in this process, each with a log of the named kind in its own directory.</summary>
internal sealed class RaftBenchCluster : IAsyncDisposable
{
    private readonly List<(RaftCluster Cluster, IPersistentState Log, IAsyncDisposable Owner)> _nodes = [];

    public IReadOnlyList<RaftCluster> Nodes => _nodes.Select(n => n.Cluster).ToArray();

    public static async Task<RaftBenchCluster> StartAsync(string log, string root, CancellationToken token)
    {
        int[] ports = FreePorts(3);
        var bench = new RaftBenchCluster();
        try
        {
            for (int i = 0; i < ports.Length; i++)
            {
                (IPersistentState state, IAsyncDisposable owner) = RaftLogs.Open(log, Path.Combine(root, $"node{i}"));
                var configuration = new RaftCluster.TcpConfiguration(new IPEndPoint(IPAddress.Loopback, ports[i]))
                {
                    LowerElectionTimeout = 300,
                    UpperElectionTimeout = 600,
                    RequestTimeout = TimeSpan.FromSeconds(5),
                    ConfigurationStorage = null!, // the in-memory storage, with the three members
                };
                InMemoryClusterConfigurationStorage<EndPoint>.Builder members =
                    ((InMemoryClusterConfigurationStorage<EndPoint>)configuration.ConfigurationStorage).CreateInitialConfigurationBuilder();
                foreach (int port in ports)
                {
                    members.Add(new IPEndPoint(IPAddress.Loopback, port));
                }

                members.Build();
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

    private static int[] FreePorts(int count)
    {
        var listeners = new TcpListener[count];
        for (int i = 0; i < count; i++)
        {
            listeners[i] = new TcpListener(IPAddress.Loopback, 0);
            listeners[i].Start();
        }

        int[] ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (TcpListener listener in listeners)
        {
            listener.Stop();
        }

        return ports;
    }
}
