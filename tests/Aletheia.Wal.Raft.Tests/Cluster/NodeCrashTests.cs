using System.Collections.Concurrent;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Raft.Tests.Cluster;

/// <summary>
/// A node in a process of its own (tests/Aletheia.Wal.Raft.Worker) killed with SIGKILL while commands commit, then
/// restarted on its directory: no committed entry is lost or reordered on any node.
/// </summary>
public sealed class NodeCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Kills = 3;

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
}
