using System.Net;
using System.Net.Sockets;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace Aletheia.Wal.Raft.Tests.Support;

/// <summary>
/// One Raft node for the tests (and the worker process): an <see cref="AletheiaPersistentState"/> in its directory, a
/// DotNext <see cref="RaftCluster"/> over TCP on 127.0.0.1 that knows every member's port from the start.
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    private ClusterNode(int port, AletheiaPersistentState state, RaftCluster cluster, IReplicatedStateMachine machine)
    {
        Port = port;
        State = state;
        Cluster = cluster;
        Machine = machine;
    }

    public int Port { get; }

    public AletheiaPersistentState State { get; }

    public RaftCluster Cluster { get; }

    public IReplicatedStateMachine Machine { get; }

    public bool IsLeader => !Cluster.LeadershipToken.IsCancellationRequested;

    /// <summary>Ports free now on 127.0.0.1 (each bound once to port 0, then released).</summary>
    public static int[] FreePorts(int count)
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

    /// <summary>Opens the node's state in <paramref name="directory"/> and starts its cluster member on <paramref name="port"/>.</summary>
    public static async Task<ClusterNode> StartAsync(
        string directory, int port, int[] members, IReplicatedStateMachine machine, int lowerElectionTimeout = 150, int upperElectionTimeout = 300,
        CancellationToken token = default)
    {
        AletheiaPersistentState state = AletheiaPersistentState.Open(
            new AletheiaRaftOptions { Directory = directory, LogOptions = dir => new WalOptions { Directory = dir, StripeCount = 4, SegmentSizeBytes = 8 << 20 } },
            machine);
        var configuration = new RaftCluster.TcpConfiguration(new IPEndPoint(IPAddress.Loopback, port))
        {
            LowerElectionTimeout = lowerElectionTimeout,
            UpperElectionTimeout = upperElectionTimeout,
            RequestTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromMilliseconds(200),
            ConfigurationStorage = null!, // the in-memory storage, with every member below
        };
        var storage = (InMemoryClusterConfigurationStorage<EndPoint>)configuration.ConfigurationStorage;
        InMemoryClusterConfigurationStorage<EndPoint>.Builder builder = storage.CreateInitialConfigurationBuilder();
        foreach (int member in members)
        {
            builder.Add(new IPEndPoint(IPAddress.Loopback, member));
        }

        builder.Build();
        var cluster = new RaftCluster(configuration) { AuditTrail = state.AsPersistentState };
        try
        {
            await cluster.StartAsync(token);
        }
        catch
        {
            await cluster.DisposeAsync();
            await state.DisposeAsync();
            throw;
        }

        return new ClusterNode(port, state, cluster, machine);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Cluster.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await Cluster.DisposeAsync();
        await State.DisposeAsync();
    }
}
