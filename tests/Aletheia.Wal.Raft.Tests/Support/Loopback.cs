using System.Net;
using System.Net.Sockets;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace Aletheia.Wal.Raft.Tests.Support;

/// <summary>
/// A Raft cluster on 127.0.0.1: free ports, and a member's TCP configuration that knows every member from the start.
/// Shared by the tests, their worker process and the perf project's raft command.
/// </summary>
internal static class Loopback
{
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

    /// <summary>The configuration of the member on <paramref name="port"/> of a cluster of <paramref name="members"/>.</summary>
    public static RaftCluster.TcpConfiguration Member(int port, int[] members, int lowerElectionTimeout, int upperElectionTimeout, TimeSpan requestTimeout)
    {
        var configuration = new RaftCluster.TcpConfiguration(new IPEndPoint(IPAddress.Loopback, port))
        {
            LowerElectionTimeout = lowerElectionTimeout,
            UpperElectionTimeout = upperElectionTimeout,
            RequestTimeout = requestTimeout,
            ConnectTimeout = TimeSpan.FromMilliseconds(200),
            ConfigurationStorage = null!, // the in-memory storage, with every member below
        };
        InMemoryClusterConfigurationStorage<EndPoint>.Builder builder =
            ((InMemoryClusterConfigurationStorage<EndPoint>)configuration.ConfigurationStorage).CreateInitialConfigurationBuilder();
        foreach (int member in members)
        {
            builder.Add(new IPEndPoint(IPAddress.Loopback, member));
        }

        builder.Build();
        return configuration;
    }
}
