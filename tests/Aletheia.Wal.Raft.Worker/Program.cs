using System.Text;
using Aletheia.Wal.Raft.Tests.Support;
using DotNext.Net.Cluster.Consensus.Raft;

// "alloc <directory>": the bytes allocated per command in steady state (Worker/CommandAllocation.cs).
if (args is ["alloc", string allocDirectory])
{
    return await Aletheia.Wal.Raft.Worker.CommandAllocation.RunAsync(allocDirectory);
}

// "alloc-paths <directory>": the bytes allocated per command on the paths "alloc" does not take (Worker/AllocationPaths.cs).
if (args is ["alloc-paths", string pathsDirectory])
{
    return await Aletheia.Wal.Raft.Worker.AllocationPaths.RunAsync(pathsDirectory);
}

// "churn <directory>": appends, commits, term increments and compactions until killed (Worker/Churn.cs).
if (args is ["churn", string churnDirectory])
{
    return await Aletheia.Wal.Raft.Worker.Churn.RunAsync(churnDirectory);
}

// A Raft node in a process of its own, for the crash tests (killed with SIGKILL, then restarted on its directory).
// Usage: node <directory> <port> <member ports, comma-separated> <lower election timeout ms> <upper election timeout ms>
// Prints "ready" once its cluster member is started, then "applied <index>" whenever the applied index moved (every 20 ms
// at most). Standard input: "replicate <text>" replicates the command <text> through this node (its leader, in the test)
// and prints "committed <text>" once ReplicateAsync returned (the entry is committed), "failed <text>" if it threw; "quit" stops it cleanly
// ("stopped").
if (args.Length != 6 || args[0] != "node")
{
    Console.Error.WriteLine("usage: node <directory> <port> <member ports, comma-separated> <lower election timeout ms> <upper election timeout ms>");
    return 2;
}

int port = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
int[] members = args[3].Split(',').Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
int lower = int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture);
int upper = int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture);

ClusterNode node = await ClusterNode.StartAsync(args[1], port, members, new RecordingStateMachine(), lower, upper);
Console.WriteLine("ready");
Task input = Task.Run(async () =>
{
    while (await Console.In.ReadLineAsync() is { } line && line != "quit")
    {
        if (line.StartsWith("replicate ", StringComparison.Ordinal))
        {
            string text = line["replicate ".Length..];
            _ = Task.Run(async () =>
            {
                bool committed;
                try
                {
                    var entry = new BinaryLogEntry { Term = node.State.Term, Content = Encoding.UTF8.GetBytes(text) };
                    using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await node.Cluster.ReplicateAsync(entry, limit.Token); // returns once the entry is committed
                    committed = true;
                }
                catch (Exception)
                {
                    committed = false;
                }

                // Console.Out is synchronized: lines from concurrent commands do not interleave.
                Console.WriteLine(committed ? $"committed {text}" : $"failed {text}");
            });
        }
    }
});
long reported = -1;
while (!input.IsCompleted)
{
    long applied = node.State.LastAppliedIndex;
    if (applied != reported)
    {
        Console.WriteLine($"applied {applied}");
        reported = applied;
    }

    await Task.WhenAny(input, Task.Delay(20));
}

await node.DisposeAsync();
Console.WriteLine("stopped");
return 0;
