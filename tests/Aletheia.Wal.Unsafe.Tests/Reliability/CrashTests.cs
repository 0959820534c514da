using System.Diagnostics;
using System.Globalization;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Reliability;

/// <summary>
/// A real process, killed: the worker appends from several threads with AppendDurable and prints each acknowledged
/// LSN and key; the test kills it with SIGKILL at a random moment, recovers the directory, and checks that every
/// acknowledged record is there and byte-exact, that LSNs run from the first kept without a hole, and that no record
/// is damaged; then it starts the worker again on the same directory, so recoveries stack.
/// Set ALETHEIA_CRASH_CYCLES for a longer soak (default 25 cycles).
/// </summary>
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Killed_worker_never_loses_an_acknowledged_record() =>
        KillLoop(int.TryParse(Environment.GetEnvironmentVariable("ALETHEIA_CRASH_CYCLES"), out int soak) ? soak : 25);

    /// <summary>
    /// The same, with bursts (rounds of appends then Flush, batches for the writer thread): logs killed mid-burst, with
    /// segments extended sparse, mid-fill or continued in after reopening (review of 853964c).
    /// </summary>
    [Fact]
    public void Killed_worker_mid_burst_never_loses_an_acknowledged_record() => KillLoop(8, "burst");

    private void KillLoop(int cycles, params string[] mode)
    {
        var acknowledged = new Dictionary<ulong, ulong>(); // LSN -> key
        var random = new Random(20261124);
        long totalAcks = 0;
        int killedWithHoles = 0; // kills that left a segment extended sparse (burst mode)
        Bounded.Run(() =>
        {
            for (int cycle = 0; cycle < cycles; cycle++)
            {
                using Process worker = WorkerProcess.Start(["crash-append", _temp.Log(), "4", .. mode]);
                string open = WorkerProcess.ReadLine(worker);
                Assert.StartsWith("open ", open, StringComparison.Ordinal);
                ulong lastAtOpen = ulong.Parse(open.AsSpan(5), CultureInfo.InvariantCulture);
                Assert.True(acknowledged.Count == 0 || lastAtOpen >= acknowledged.Keys.Max(), $"Cycle {cycle}: recovery kept every acknowledged LSN (last {lastAtOpen}).");

                var lines = new List<string>();
                var clock = Stopwatch.StartNew();
                int killAfterMs = random.Next(20, 400);
                while (clock.ElapsedMilliseconds < killAfterMs)
                {
                    lines.Add(WorkerProcess.ReadLine(worker));
                }

                worker.Kill(entireProcessTree: true); // SIGKILL: no Dispose, no flush, mid-write for all we know
                Assert.True(worker.WaitForExit(30_000));
                string? line;
                while ((line = worker.StandardOutput.ReadLine()) is not null)
                {
                    lines.Add(line); // printed before the kill: acknowledged too
                }

                foreach (string ack in lines)
                {
                    string[] parts = ack.Split(' ');
                    Assert.Equal("ack", parts[0]);
                    acknowledged[ulong.Parse(parts[1], CultureInfo.InvariantCulture)] = ulong.Parse(parts[2], CultureInfo.InvariantCulture);
                    totalAcks++;
                }

                if (mode is ["burst"] && OperatingSystem.IsLinux())
                {
                    killedWithHoles += Directory.GetFiles(_temp.Log(), "*" + Storage.SegmentNames.Extension).Any(f => SparseFiles.FirstHole(f) < new FileInfo(f).Length) ? 1 : 0;
                }

                CheckLog(acknowledged, cycle);
            }
        }, TimeSpan.FromMinutes(Math.Max(3, cycles / 5)));
        output.WriteLine($"{cycles} kills survived, {totalAcks} acknowledged records, none lost.");
        Assert.True(totalAcks > cycles, "The worker acknowledged records between kills.");
        if (mode is ["burst"] && OperatingSystem.IsLinux())
        {
            output.WriteLine($"{killedWithHoles} kills left a segment with a hole.");
            Assert.True(killedWithHoles > 0, "Some kill came mid-burst, with a segment extended sparse in the directory.");
        }
    }

    private void CheckLog(Dictionary<ulong, ulong> acknowledged, int cycle)
    {
        var found = new Dictionary<ulong, ulong>();
        using (WalReader reader = WalReader.Open(_temp.Log()))
        {
            ulong expected = 0;
            while (reader.TryRead(out WalRecord record))
            {
                expected = expected == 0 ? record.Lsn.Value : expected + 1;
                Assert.True(record.Lsn.Value == expected, $"Cycle {cycle}: LSN {record.Lsn} follows {expected - 1} without a hole.");
                ulong key = BitConverter.ToUInt64(record.Payload);
                Assert.True(record.Payload.SequenceEqual(Worker.Program.CrashPayload(key)), $"Cycle {cycle}: record {record.Lsn} is intact.");
                found[record.Lsn.Value] = key;
            }
        }

        foreach ((ulong lsn, ulong key) in acknowledged)
        {
            Assert.True(found.TryGetValue(lsn, out ulong onDisk), $"Cycle {cycle}: acknowledged LSN {lsn} is on disk after the kill.");
            Assert.True(onDisk == key, $"Cycle {cycle}: LSN {lsn} holds the record that was acknowledged for it.");
        }
    }
}
