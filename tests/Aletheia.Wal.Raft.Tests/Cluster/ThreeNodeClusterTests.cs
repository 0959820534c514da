using System.Text;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.Net.Cluster;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Cluster;

/// <summary>Three DotNext RaftCluster nodes over TCP on 127.0.0.1, each with an AletheiaPersistentState, in this process.</summary>
public sealed class ThreeNodeClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan Election = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Catchup = TimeSpan.FromSeconds(15);
    private readonly TempDirectory _dir = new();
    private readonly List<ClusterNode> _running = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ClusterNode node in _running)
        {
            await node.DisposeAsync();
        }

        _dir.Dispose();
    }

    private async Task<ClusterNode> StartAsync(int index, int[] ports, RecordingStateMachine machine)
    {
        // Election timeouts of 1 to 2 s, not DotNext's 150 to 300 ms: on 2 cores shared with the rest of the suite a
        // heartbeat can be late by more than 150 ms, and a follower that starts an election then makes the leader's
        // ReplicateAsync throw NotLeaderException in the middle of a test (seen about once in five runs).
        ClusterNode node = await ClusterNode.StartAsync(_dir.Log($"node{index}"), ports[index], ports, machine, lowerElectionTimeout: 1000, upperElectionTimeout: 2000);
        _running.Add(node);
        return node;
    }

    private async Task StopAsync(ClusterNode node)
    {
        _running.Remove(node);
        await node.DisposeAsync();
    }

    [Fact]
    public async Task Ten_thousand_commands_apply_in_order_everywhere_a_new_leader_takes_over_and_the_old_one_catches_up_after_restart()
    {
        int[] ports = Loopback.FreePorts(3);
        var machines = new[] { new RecordingStateMachine(), new RecordingStateMachine(), new RecordingStateMachine() };
        var nodes = new ClusterNode[3];
        for (int i = 0; i < 3; i++)
        {
            nodes[i] = await StartAsync(i, ports, machines[i]);
        }

        ClusterNode leader = await ClusterChecks.LeaderAsync(Election, nodes);
        await ClusterChecks.ReplicateAsync(leader, "a", 0, 10_000, clients: 64, TimeSpan.FromSeconds(60));
        long committed = leader.State.LastCommittedEntryIndex;
        await ClusterChecks.AppliedAsync(committed, Catchup, nodes);

        // Applied in index order on every node, the same entries everywhere, each command exactly once.
        foreach (RecordingStateMachine machine in machines)
        {
            var applied = machine.Applied.Where(a => a.Index <= committed).ToArray();
            Assert.Equal(Enumerable.Range(1, (int)committed).Select(i => (long)i), applied.Select(a => a.Index));
            Assert.Equal(machines[0].Applied.Where(a => a.Index <= committed).Select(a => (a.Term, Encoding.UTF8.GetString(a.Payload))), applied.Select(a => (a.Term, Encoding.UTF8.GetString(a.Payload))));
            Assert.Equal(
                Enumerable.Range(0, 10_000).Select(n => $"a{n}").Order(),
                applied.Select(a => Encoding.UTF8.GetString(a.Payload)).Where(p => p.Length > 0).Order());
        }

        // The leader stops; the two others elect one of them and go on.
        int old = Array.IndexOf(nodes, leader);
        await StopAsync(leader);
        ClusterNode[] others = nodes.Where((_, i) => i != old).ToArray();
        ClusterNode successor = await ClusterChecks.LeaderAsync(Election, others);
        Assert.NotEqual(ports[old], successor.Port);
        await ClusterChecks.ReplicateAsync(successor, "b", 0, 1_000, clients: 16, TimeSpan.FromSeconds(30));

        // The old leader restarts from its directory, with an empty state machine: it replays its committed entries and
        // catches up with what it missed.
        machines[old] = new RecordingStateMachine();
        nodes[old] = await StartAsync(old, ports, machines[old]);
        long target = successor.State.LastCommittedEntryIndex;
        await ClusterChecks.AppliedAsync(target, Catchup, nodes);
        Assert.Equal(Enumerable.Range(1, (int)target).Select(i => (long)i), machines[old].Applied.Where(a => a.Index <= target).Select(a => a.Index));

        // Its log equals the others', entry for entry.
        (long, string)[] reference = await ClusterChecks.LogAsync(successor, target);
        foreach (ClusterNode node in nodes)
        {
            Assert.Equal(reference, await ClusterChecks.LogAsync(node, target));
        }

        Assert.Equal(1_000, reference.Count(e => e.Item2.StartsWith('b')));
        Assert.Equal(10_000, reference.Count(e => e.Item2.StartsWith('a')));
    }

    [Fact]
    public async Task A_follower_with_conflicting_uncommitted_entries_has_them_replaced_and_applies_only_the_leaders()
    {
        int[] ports = Loopback.FreePorts(3);

        // Before the cluster starts: all three hold entries 1..2 of term 1. Node 2 also holds 3..5 of term 1, which an old
        // leader never committed; nodes 0 and 1 hold entry 3 of term 2 (a later leader's), so node 2 cannot win a vote.
        for (int i = 0; i < 3; i++)
        {
            await using AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = _dir.Log($"node{i}") }, new RecordingStateMachine());
            var raft = state.AsPersistentState;
            await raft.AppendAsync(Entries.Of(1, "shared1"));
            await raft.AppendAsync(Entries.Of(1, "shared2"));
            if (i == 2)
            {
                await raft.UpdateTermAsync(1, resetLastVote: true);
                await raft.AppendAsync(Entries.Of(1, "stale3"));
                await raft.AppendAsync(Entries.Of(1, "stale4"));
                await raft.AppendAsync(Entries.Of(1, "stale5"));
            }
            else
            {
                await raft.UpdateTermAsync(2, resetLastVote: true);
                await raft.AppendAsync(Entries.Of(2, "leader3"));
            }
        }

        var machines = new[] { new RecordingStateMachine(), new RecordingStateMachine(), new RecordingStateMachine() };
        var nodes = new ClusterNode[3];
        for (int i = 0; i < 3; i++)
        {
            nodes[i] = await StartAsync(i, ports, machines[i]);
        }

        ClusterNode leader = await ClusterChecks.LeaderAsync(Election, nodes);
        Assert.NotEqual(ports[2], leader.Port);
        await ClusterChecks.ReplicateAsync(leader, "c", 0, 100, clients: 4, TimeSpan.FromSeconds(30));
        long committed = leader.State.LastCommittedEntryIndex;
        await ClusterChecks.AppliedAsync(committed, Catchup, nodes);

        (long, string)[] reference = await ClusterChecks.LogAsync(leader, committed);
        Assert.Equal((2L, "leader3"), reference[2]);
        Assert.Equal(reference, await ClusterChecks.LogAsync(nodes[2], committed));
        Assert.DoesNotContain(machines[2].Applied, a => Encoding.UTF8.GetString(a.Payload).StartsWith("stale", StringComparison.Ordinal));
        Assert.Equal(
            reference.Select(e => e.Item2),
            machines[2].Applied.Where(a => a.Index <= committed).Select(a => Encoding.UTF8.GetString(a.Payload)));
    }
}
