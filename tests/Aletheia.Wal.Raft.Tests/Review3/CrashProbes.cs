using System.Globalization;
using System.Text;
using Aletheia.Wal.Raft.Tests.Support;
using Aletheia.Wal.Tests.Support;
using DotNext.Net.Cluster.Consensus.Raft;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Raft.Tests.Review3;

/// <summary>
/// Third review, priority 3: a node's state in a worker process (<c>churn</c>: appends, commits, term increments,
/// compactions) killed with SIGKILL at many points, reopened each time: no acknowledged commit is lost, the term never
/// goes back, and the state machine rebuilt from the snapshot and the log holds e1..e{commit} in order.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class CrashProbes(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task SIGKILL_at_many_points_loses_no_acknowledged_commit_term_or_order()
    {
        string node = _dir.Log("node");
        long committed = 0, term = 0;
        var random = new Random(14);
        for (int kill = 0; kill < 12; kill++)
        {
            using System.Diagnostics.Process worker = WorkerProcess.StartProgram("Aletheia.Wal.Raft.Worker.dll", "churn", node);
            string[] open = WorkerProcess.ReadLine(worker, seconds: 60).Split(' ');
            Assert.Equal("open", open[0]);
            long openCommit = long.Parse(open[2], CultureInfo.InvariantCulture), openTerm = long.Parse(open[3], CultureInfo.InvariantCulture);
            Assert.True(openCommit >= committed, $"kill {kill}: reopened at commit {openCommit}, {committed} was acknowledged");
            Assert.True(openTerm >= term, $"kill {kill}: reopened at term {openTerm}, {term} was acknowledged");

            // Kill after a random number of lines (some kills land mid-compaction or mid-term-write).
            int lines = random.Next(1, 120);
            for (int i = 0; i < lines; i++)
            {
                string[] line = WorkerProcess.ReadLine(worker, seconds: 60).Split(' ');
                long value = long.Parse(line[1], CultureInfo.InvariantCulture);
                if (line[0] == "committed")
                {
                    committed = value;
                }
                else if (line[0] == "term")
                {
                    term = value;
                }
            }

            worker.Kill(entireProcessTree: true); // SIGKILL
            Assert.True(worker.WaitForExit(10_000), "The worker died within 10 s.");
        }

        var machine = new RecordingStateMachine();
        await using AletheiaPersistentState state = AletheiaPersistentState.Open(new AletheiaRaftOptions { Directory = node }, machine);
        IPersistentState raft = state.AsPersistentState;
        await raft.InitializeAsync().WaitAsync(TimeSpan.FromSeconds(20));
        output.WriteLine($"acknowledged commit {committed} term {term}; reopened: last {raft.LastEntryIndex} commit {raft.LastCommittedEntryIndex} term {state.Term} snapshot {state.SnapshotIndex}");
        Assert.True(raft.LastCommittedEntryIndex >= committed, $"commit {raft.LastCommittedEntryIndex}, acknowledged {committed}");
        Assert.True(state.Term >= term, $"term {state.Term}, acknowledged {term}");
        (long Index, long Term, byte[] Payload)[] applied = [.. machine.Applied];
        Assert.Equal(Enumerable.Range(1, (int)raft.LastCommittedEntryIndex).Select(i => "e" + i), applied.Select(a => Encoding.UTF8.GetString(a.Payload)));
        Assert.Equal(Enumerable.Range(1, (int)raft.LastCommittedEntryIndex).Select(i => (long)i), applied.Select(a => a.Index));
    }
}
