using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Raft.Tests.Cluster;

/// <summary>
/// A node in a process of its own (tests/Aletheia.Wal.Raft.Worker) killed with SIGKILL while commands commit, then
/// restarted on its directory: no committed entry is lost or reordered on any node. The node killed is a follower (the
/// clients in this process), or the leader (the clients' commands sent to its process, which acknowledges them).
/// </summary>
public sealed class NodeCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Kills = 3;
    private const int AcknowledgedBeforeKill = 300;
    private const int InFlight = 32;

    // A longer election timeout than the in-process nodes': the worker follows, and the test's clients reach the leader.
    private const int WorkerElectionTimeout = 1500;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new();
    private readonly List<ClusterNode> _nodes = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ClusterNode node in _nodes)
        {
            await node.DisposeAsync();
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task A_node_killed_while_commands_commit_restarts_with_every_committed_entry_in_place()
    {
        int[] ports = Loopback.FreePorts(3);
        for (int i = 0; i < 2; i++)
        {
            _nodes.Add(await ClusterNode.StartAsync(_dir.Log($"node{i}"), ports[i], ports, new RecordingStateMachine()));
        }

        string workerDirectory = _dir.Log("node2");
        var worker = new NodeProcess(workerDirectory, ports[2], ports, Limit);
        try
        {
            await worker.StartAsync(WorkerElectionTimeout, 2 * WorkerElectionTimeout);
            ClusterNode leader = await ClusterChecks.LeaderAsync(TimeSpan.FromSeconds(10), _nodes.ToArray());

            // Eight clients commit commands through the leader until told to stop; each acknowledged command is committed.
            var acknowledged = new ConcurrentQueue<string>();
            using var stop = new CancellationTokenSource();
            int next = 0;
            Task committers = Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    string command = $"k{Interlocked.Increment(ref next)}";
                    var entry = new DotNext.Net.Cluster.Consensus.Raft.BinaryLogEntry { Term = leader.State.Term, Content = System.Text.Encoding.UTF8.GetBytes(command) };
                    await leader.Cluster.ReplicateAsync(entry, CancellationToken.None).AsTask().WaitAsync(Limit);
                    acknowledged.Enqueue(command);
                }
            })));

            for (int kill = 0; kill < Kills; kill++)
            {
                // Let the node apply some of the stream, then kill it in the middle of it.
                await worker.AppliedAsync(leader.State.LastCommittedEntryIndex / 2 + 50, Limit);
                worker.Kill();
                output.WriteLine($"kill {kill + 1}: leader committed {leader.State.LastCommittedEntryIndex}, {acknowledged.Count} commands acknowledged");
                long before = acknowledged.Count;
                using (var moved = new CancellationTokenSource(Limit))
                {
                    while (acknowledged.Count < before + 200)
                    {
                        Assert.False(moved.IsCancellationRequested, "The two live nodes commit without the killed one.");
                        await Task.Delay(10);
                    }
                }

                await worker.StartAsync(WorkerElectionTimeout, 2 * WorkerElectionTimeout);
            }

            await stop.CancelAsync();
            await committers.WaitAsync(Limit);
            long committed = leader.State.LastCommittedEntryIndex;
            await worker.AppliedAsync(committed, Limit);
            await ClusterChecks.AppliedAsync(committed, Limit, _nodes.ToArray());
            await worker.QuitAsync();
            output.WriteLine($"after {Kills} kills: {committed} entries committed, {acknowledged.Count} commands acknowledged; the killed node applied them all");

            // Every node's log, the killed one's read from its directory, holds the same entries at the same indexes.
            (long, string)[] reference = await ClusterChecks.LogAsync(leader, committed);
            foreach (ClusterNode node in _nodes)
            {
                Assert.Equal(reference, await ClusterChecks.LogAsync(node, committed));
            }

            var machine = new RecordingStateMachine();
            await using (AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = workerDirectory }, machine))
            {
                Assert.True(state.LastCommittedEntryIndex >= committed, $"The killed node's durable commit index {state.LastCommittedEntryIndex} covers {committed}.");
                Assert.Equal(reference, (await Entries.ReadAsync(state.AsPersistentState, 1, committed)).Entries.Select(e => (e.Term, e.Text)));
                await state.AsPersistentState.InitializeAsync().WaitAsync(Limit);
                Assert.Equal(
                    reference.Select(e => e.Item2),
                    machine.Applied.Where(a => a.Index <= committed).Select(a => System.Text.Encoding.UTF8.GetString(a.Payload)));
            }

            // Every acknowledged command is committed exactly once.
            string[] commands = reference.Select(e => e.Item2).Where(t => t.Length > 0).ToArray();
            Assert.Equal(commands.Length, commands.Distinct().Count());
            Assert.Empty(acknowledged.Except(commands));
            Assert.True(acknowledged.Count >= Kills * 200, $"{acknowledged.Count} commands acknowledged.");
        }
        finally
        {
            worker.Dispose();
        }
    }

    [Fact]
    public async Task A_leader_killed_while_commands_commit_loses_no_acknowledged_command_on_the_majority_or_on_restart()
    {
        int[] ports = Loopback.FreePorts(3);
        string leaderDirectory = _dir.Log("node2");
        using var worker = new NodeProcess(leaderDirectory, ports[2], ports, Limit);

        // The worker's election timeout is ten times shorter than the in-process nodes': it becomes the leader.
        await worker.StartAsync(150, 300);
        for (int i = 0; i < 2; i++)
        {
            _nodes.Add(await ClusterNode.StartAsync(_dir.Log($"node{i}"), ports[i], ports, new RecordingStateMachine(), 1500, 3000));
        }

        await FollowAsync(ports[2]);

        // Commands go to the leader process, at most 32 unanswered at a time; once it acknowledged 300 it is killed, with
        // commands in flight.
        long sent = 0;
        using var killed = new CancellationTokenSource();
        Task sender = Task.Run(async () =>
        {
            while (!killed.IsCancellationRequested)
            {
                if (sent - worker.Committed.Count - worker.Failed >= InFlight)
                {
                    await Task.Delay(1);
                }
                else if (await worker.TryReplicateAsync($"k{sent + 1}"))
                {
                    sent++;
                }
                else
                {
                    return; // killed: its standard input is closed
                }
            }
        });
        using (var limit = new CancellationTokenSource(Limit))
        {
            while (worker.Committed.Count < AcknowledgedBeforeKill)
            {
                Assert.False(limit.IsCancellationRequested, $"The leader process acknowledged {worker.Committed.Count} commands, not {AcknowledgedBeforeKill}, within {Limit.TotalSeconds} s ({worker.Failed} failed).");
                await Task.Delay(5);
            }
        }

        worker.Kill();
        await killed.CancelAsync();
        await sender.WaitAsync(Limit);
        string[] acknowledged = worker.Committed.ToArray();
        output.WriteLine($"leader killed: {sent} commands sent, {acknowledged.Length} acknowledged, {worker.Failed} failed, {sent - acknowledged.Length - worker.Failed} unanswered");

        // The two others elect a leader, which commits a command of its own term (and with it everything before).
        ClusterNode leader = await ClusterChecks.LeaderAsync(Limit, _nodes.ToArray());
        await ClusterChecks.ReplicateAsync(leader, "after", 1, 20, 2, Limit);
        long committed = leader.State.LastCommittedEntryIndex;
        await ClusterChecks.AppliedAsync(committed, Limit, _nodes.ToArray());
        (long, string)[] reference = await ClusterChecks.LogAsync(leader, committed);
        string[] commands = reference.Select(e => e.Item2).Where(t => t.Length > 0).ToArray();
        Assert.Equal(commands.Length, commands.Distinct().Count());
        Assert.Empty(acknowledged.Except(commands));
        foreach (ClusterNode node in _nodes)
        {
            Assert.Equal(reference, await ClusterChecks.LogAsync(node, committed));
            string[] applied = ((RecordingStateMachine)node.Machine).Applied.Where(a => a.Index <= committed).Select(a => Encoding.UTF8.GetString(a.Payload)).ToArray();
            Assert.Empty(acknowledged.Except(applied));
        }

        // The old leader restarts as a follower (a long election timeout): its uncommitted tail gives way to the new
        // leader's log, and it applies every committed entry.
        await worker.StartAsync(1500, 3000);
        await worker.AppliedAsync(committed, Limit);
        await worker.QuitAsync();
        output.WriteLine($"after the kill: {committed} entries committed, {commands.Length} commands; the restarted old leader applied them all");

        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = leaderDirectory }, machine);
        Assert.True(state.LastCommittedEntryIndex >= committed, $"The old leader's durable commit index {state.LastCommittedEntryIndex} covers {committed}.");
        Assert.Equal(reference, (await Entries.ReadAsync(state.AsPersistentState, 1, committed)).Entries.Select(e => (e.Term, e.Text)));
        await state.AsPersistentState.InitializeAsync().WaitAsync(Limit);
        Assert.Equal(reference.Select(e => e.Item2), machine.Applied.Where(a => a.Index <= committed).Select(a => Encoding.UTF8.GetString(a.Payload)));
    }

    /// <summary>Waits until both in-process nodes follow the leader on <paramref name="port"/>.</summary>
    private async Task FollowAsync(int port)
    {
        using var limit = new CancellationTokenSource(Limit);
        while (!_nodes.All(n => n.Cluster.Leader?.EndPoint is IPEndPoint ep && ep.Port == port))
        {
            Assert.False(limit.IsCancellationRequested, $"The nodes did not follow the leader process on port {port} within {Limit.TotalSeconds} s.");
            await Task.Delay(20);
        }
    }
}
