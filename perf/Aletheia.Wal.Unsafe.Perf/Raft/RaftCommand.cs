using System.Diagnostics;
using System.Globalization;
using System.Text;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using Aletheia.Wal.Perf.Load;
using HdrHistogram;

namespace Aletheia.Wal.Perf.Raft;

/// <summary>
/// <c>raft --clients 1,16,256 --seconds 5 --warmup 1 --logs dotnext,aletheia --payload 64 --root /tmp/aletheia-raft</c>:
/// the same three-node DotNext RaftCluster (TCP on 127.0.0.1, one process) with each log in turn; closed-loop clients
/// each replicate a command through the leader and wait until it is committed and applied (<c>ReplicateAsync</c>).
/// Prints committed commands/s, commit latency p50/p99 and the process's bytes allocated per command, then the bytes
/// allocated per command by each log alone (one client: append, read back, commit, apply; no cluster).
/// </summary>
public static class RaftCommand
{
    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int[] clients = [1, 16, 256];
        string[] logs = RaftLogs.Names;
        double seconds = 5;
        double warmup = 1;
        int payloadBytes = 64;
        string root = Path.Combine(Path.GetTempPath(), "aletheia-raft");
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "-h" or "--help")
            {
                Console.WriteLine("usage: raft --clients 1,16,256 --seconds 5 --warmup 1 --logs dotnext,aletheia --payload 64 --root /tmp/aletheia-raft");
                return 0;
            }

            if (i + 1 >= args.Length)
            {
                return Usage($"Missing value for '{args[i]}'.");
            }

            string value = args[++i];
            bool ok = args[i - 1] switch
            {
                "--clients" => LoadCommand.TryParseInts(value, out clients),
                "--seconds" => double.TryParse(value, CultureInfo.InvariantCulture, out seconds) && seconds > 0,
                "--warmup" => double.TryParse(value, CultureInfo.InvariantCulture, out warmup) && warmup >= 0,
                "--payload" => int.TryParse(value, CultureInfo.InvariantCulture, out payloadBytes) && payloadBytes is > 0 and <= 60_000,
                "--logs" => (logs = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Length > 0,
                "--root" => (root = value).Length > 0,
                _ => false,
            };
            if (!ok)
            {
                return Usage($"Bad option '{args[i - 1]} {value}'.");
            }
        }

        var results = new List<string>();
        foreach (int count in clients)
        {
            foreach (string log in logs)
            {
                string directory = Path.Combine(root, $"{log}-{count}c-{Guid.NewGuid():N}");
                Console.Error.WriteLine($"raft: {log}, {count} client(s), warmup {warmup} s, measure {seconds} s ...");
                try
                {
                    results.Add(RunClusterAsync(log, directory, count, payloadBytes, TimeSpan.FromSeconds(warmup), TimeSpan.FromSeconds(seconds)).GetAwaiter().GetResult());
                }
                finally
                {
                    LoadCommand.TryDeleteDirectory(directory, "raft");
                }
            }
        }

        var table = new StringBuilder();
        table.AppendLine("| Log | Clients | Committed commands/s | p50 (us) | p99 (us) | Process bytes/command |");
        table.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        results.ForEach(r => table.AppendLine(r));
        table.AppendLine();
        table.AppendLine("| Log alone (one client: append, read back, commit, apply) | Bytes allocated/command |");
        table.AppendLine("| --- | ---: |");
        foreach (string log in logs)
        {
            string directory = Path.Combine(root, $"{log}-alone-{Guid.NewGuid():N}");
            try
            {
                double bytes = MeasureLogAloneAsync(log, directory, payloadBytes).GetAwaiter().GetResult();
                table.AppendLine(CultureInfo.InvariantCulture, $"| {log} | {bytes:N1} |");
            }
            finally
            {
                LoadCommand.TryDeleteDirectory(directory, "raft");
            }
        }

        Console.Out.Write(table.ToString());
        return 0;
    }

    private static async Task<string> RunClusterAsync(string log, string directory, int clients, int payloadBytes, TimeSpan warmup, TimeSpan duration)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using RaftBenchCluster cluster = await RaftBenchCluster.StartAsync(log, directory, limit.Token);
        (RaftCluster leader, IPersistentState state) = await cluster.LeaderAsync(limit.Token);
        byte[] payload = new byte[payloadBytes];
        Random.Shared.NextBytes(payload);

        // 0: warming up; 1: measuring; 2: stopping.
        int phase = 0;
        var histograms = new LongHistogram[clients];
        long[] counts = new long[clients];
        Task[] tasks = new Task[clients];
        for (int c = 0; c < clients; c++)
        {
            int client = c;
            histograms[c] = new LongHistogram(Stopwatch.Frequency * 60, 3);
            tasks[c] = Task.Run(async () =>
            {
                long term = state.Term;
                while (Volatile.Read(ref phase) < 2)
                {
                    long start = Stopwatch.GetTimestamp();
                    await leader.ReplicateAsync(new BinaryLogEntry { Term = term, Content = payload }, limit.Token);
                    long elapsed = Stopwatch.GetTimestamp() - start;
                    if (Volatile.Read(ref phase) == 1)
                    {
                        histograms[client].RecordValue(elapsed);
                        counts[client]++;
                    }
                }
            });
        }

        await Task.Delay(warmup);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long measureStart = Stopwatch.GetTimestamp();
        Volatile.Write(ref phase, 1);
        await Task.Delay(duration);
        Volatile.Write(ref phase, 2);
        long measureEnd = Stopwatch.GetTimestamp();
        long allocatedAfter = GC.GetTotalAllocatedBytes(precise: true);
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));

        var all = new LongHistogram(Stopwatch.Frequency * 60, 3);
        foreach (LongHistogram histogram in histograms)
        {
            all.Add(histogram);
        }

        long total = counts.Sum();
        double elapsedSeconds = (measureEnd - measureStart) / (double)Stopwatch.Frequency;
        double micros = 1_000_000.0 / Stopwatch.Frequency;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {log} | {clients} | {total / elapsedSeconds:N0} | {all.GetValueAtPercentile(50) * micros:N0} | {all.GetValueAtPercentile(99) * micros:N0} | {(allocatedAfter - allocatedBefore) / (double)Math.Max(1, total):N0} |");
    }

    /// <summary>Bytes the log alone allocates per command: one loop of append, read back, commit, wait for apply.</summary>
    private static async Task<double> MeasureLogAloneAsync(string log, string directory, int payloadBytes)
    {
        (IPersistentState state, IAsyncDisposable owner) = RaftLogs.Open(log, directory);
        await using (owner)
        {
            await state.InitializeAsync();
            byte[] payload = new byte[payloadBytes];
            var reader = new LengthReader();
            async Task LoopAsync(int commands)
            {
                for (int i = 0; i < commands; i++)
                {
                    long index = await state.AppendAsync(new BinaryLogEntry { Term = 1, Content = payload });
                    await state.ReadAsync(reader, index, index);
                    await state.CommitAsync(index);
                    await state.WaitForApplyAsync(index);
                }
            }

            // One client: DotNext's log does not take concurrent CommitAsync callers (Raft commits from one loop), and one
            // loop allocates nothing of its own once started (its state machine box is made at its first await).
            await LoopAsync(5_000); // more than the 4,096 entries AletheiaPersistentState keeps in memory: their buffers are made
            const int commands = 50_000;
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long start = Stopwatch.GetTimestamp();
            await LoopAsync(commands);
            TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
            long after = GC.GetTotalAllocatedBytes(precise: true);
            Console.Error.WriteLine($"raft: {log} alone, one client: {elapsed.TotalMicroseconds / commands:N1} us per command");
            return (after - before) / (double)commands;
        }
    }

    private static int Usage(string error)
    {
        Console.Error.WriteLine(error);
        Console.Error.WriteLine("usage: raft --clients 1,16,256 --seconds 5 --warmup 1 --logs dotnext,aletheia --payload 64 --root /tmp/aletheia-raft");
        return 2;
    }
}
