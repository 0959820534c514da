using DotNext.Net.Cluster.Consensus.Raft;

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

    /// <summary>Opens the node's state in <paramref name="directory"/> and starts its cluster member on <paramref name="port"/>.</summary>
    public static async Task<ClusterNode> StartAsync(
        string directory, int port, int[] members, IReplicatedStateMachine machine, int lowerElectionTimeout = 150, int upperElectionTimeout = 300,
        CancellationToken token = default)
    {
        AletheiaPersistentState state = AletheiaPersistentState.Open(
            new AletheiaRaftOptions { Directory = directory, LogOptions = dir => new WalOptions { Directory = dir, StripeCount = 4, SegmentSizeBytes = 8 << 20 } },
            machine);
        RaftCluster.TcpConfiguration configuration = Loopback.Member(port, members, lowerElectionTimeout, upperElectionTimeout, TimeSpan.FromSeconds(2));
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
