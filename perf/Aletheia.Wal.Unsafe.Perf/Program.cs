using Aletheia.Wal.Perf.Load;
using BenchmarkDotNet.Running;

namespace Aletheia.Wal.Perf;

/// <summary>
/// <c>load ...</c> runs the closed-loop durable-append load driver against its peers (see <see cref="LoadCommand"/>);
/// <c>compare ...</c> runs every workload against every peer, each run in its own process (<c>run-one ...</c>), and writes
/// perf/RESULTS.md's comparison tables (see <see cref="Compare.CompareCommand"/>);
/// <c>raft ...</c> runs a three-node Raft cluster with DotNext's log and with this one (see <see cref="Raft.RaftCommand"/>);
/// anything else goes to BenchmarkDotNet: <c>--filter '*Ring*'</c>.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "load")
        {
            return LoadCommand.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == Compare.CompareCommand.Name)
        {
            return Compare.CompareCommand.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == Compare.RunOneCommand.Name)
        {
            return Compare.RunOneCommand.Run(args[1..]);
        }

        if (args.Length > 0 && args[0] == "raft")
        {
            return Raft.RaftCommand.Run(args[1..]);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
