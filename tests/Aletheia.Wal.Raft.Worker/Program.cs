using Aletheia.Wal.Raft.Tests.Support;

// A Raft node in a process of its own, for the crash tests (killed with SIGKILL, then restarted on its directory).
// Usage: node <directory> <port> <member ports, comma-separated> <lower election timeout ms> <upper election timeout ms>
// Prints "ready" once its cluster member is started, then "applied <index>" whenever the applied index moved (every 20 ms
// at most); "quit" on standard input stops it cleanly ("stopped").
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
Task<string?> quit = Task.Run(Console.In.ReadLineAsync);
long reported = -1;
while (!quit.IsCompleted)
{
    long applied = node.State.LastAppliedIndex;
    if (applied != reported)
    {
        Console.WriteLine($"applied {applied}");
        reported = applied;
    }

    await Task.WhenAny(quit, Task.Delay(20));
}

await node.DisposeAsync();
Console.WriteLine("stopped");
return 0;
