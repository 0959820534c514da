using System.Globalization;
using System.Text.RegularExpressions;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Raft.Tests.Allocation;

/// <summary>
/// 0 bytes allocated per command by the persistent state in steady state (append, read back, commit, apply, the waits
/// for apply), measured over the whole process (<see cref="GC.GetTotalAllocatedBytes(bool)"/>) in the worker process
/// (tests/Aletheia.Wal.Raft.Worker, <c>alloc</c>), where no test-runner thread allocates meanwhile; in the serial
/// collection, so that no other test loads the machine meanwhile.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed partial class CommandAllocationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Appends_reads_commits_and_applies_allocate_nothing_per_command_with_one_client_and_with_eight()
    {
        using System.Diagnostics.Process worker = WorkerProcess.StartProgram("Aletheia.Wal.Raft.Worker.dll", "alloc", _dir.Log("node"));
        string[] lines = [WorkerProcess.ReadLine(worker, seconds: 120), WorkerProcess.ReadLine(worker, seconds: 120)];
        Assert.True(worker.WaitForExit(60_000), "The worker exits after its two lines.");
        Assert.Equal(0, worker.ExitCode);

        foreach ((string line, string load, long window) in lines.Zip(["one-client", "eight-clients"], [1_000L, 5_000L]))
        {
            Match match = Window().Match(line);
            Assert.True(match.Success && match.Groups["load"].Value == load, line);
            long[] bytes = Numbers(match.Groups["bytes"].Value);
            long[] commands = Numbers(match.Groups["commands"].Value);
            Assert.All(commands, c => Assert.True(c >= window, $"{line}: each window spans at least {window} commands."));

            // An allocation on a per-command path shows in every window (thousands of commands each). What shows in some
            // windows only is not per command: the runtime's one-off work (a thread pool thread started, tiered
            // compilation), or a continuation registered on a completion source that completed in between, which the
            // runtime (and DotNext) hand to the thread pool in a 24-32 B work item. The steady state is the window that
            // allocated least, and it allocated nothing.
            Assert.True(bytes.Min() == 0, $"{line}: the process allocated {string.Join(", ", bytes)} bytes in five windows of {string.Join(", ", commands)} commands.");
        }
    }

    private static long[] Numbers(string csv) => csv.Split(',').Select(n => long.Parse(n, CultureInfo.InvariantCulture)).ToArray();

    [GeneratedRegex("^(?<load>[a-z-]+) allocated (?<bytes>[0-9]+(,[0-9]+){4}) commands (?<commands>[0-9]+(,[0-9]+){4})$")]
    private static partial Regex Window();
}
