using System.Globalization;
using System.Text;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// Command line for the closed-loop load driver:
/// <c>load --threads 1,64 --seconds 5 --warmup 1 --peers raw,aletheia,channel,faster --root /tmp/aletheia-load</c>.
/// Runs every (thread count, peer) pair in a fresh directory and prints a markdown table.
/// </summary>
public static class LoadCommand
{
    // To add a peer, implement IDurableLog and register a factory here (it receives a fresh, empty directory).
    private static readonly Dictionary<string, Func<string, IDurableLog>> s_peers = new(StringComparer.OrdinalIgnoreCase)
    {
        ["aletheia"] = static directory => new AletheiaLog(directory),
        ["aletheia-dsync"] = static directory => new AletheiaLog(directory, WalWriteMode.DataSync),
        ["raw"] = static directory => new RawWriteThroughLog(directory),
        ["channel"] = static directory => new ChannelFileStreamLog(directory),
        ["faster"] = static directory => new FasterLogPeer(directory),

        // Variants, not run by default: per-batch fsync without WriteThrough; FasterLog with FastCommitMode.
        ["channel-fsync"] = static directory => new ChannelFileStreamLog(directory, ChannelMode.FsyncPerBatch),
        ["faster-fastcommit"] = static directory => new FasterLogPeer(directory, fastCommit: true),

        // Not logs: the floor of blocking group commit on this machine (a write per round, a park and a wake per
        // record), and the same without the write.
        ["floor"] = static directory => new WakeFloorLog(directory),
        ["floor-nodisk"] = static directory => new WakeFloorLog(directory, noDisk: true),
    };

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int[] threadCounts = [1, 64];
        string[] peers = ["raw", "aletheia", "channel", "faster"];
        double seconds = 5;
        double warmupSeconds = 1;
        string root = Path.Combine(Path.GetTempPath(), "aletheia-load");

        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            if (option is "-h" or "--help")
            {
                PrintUsage(Console.Out);
                return 0;
            }

            if (i + 1 >= args.Length)
            {
                return Usage($"Missing value for '{option}'.");
            }

            string value = args[++i];
            switch (option)
            {
                case "--threads":
                    if (!TryParseInts(value, out threadCounts))
                    {
                        return Usage($"Bad --threads '{value}': expected positive integers, comma separated.");
                    }

                    break;
                case "--seconds":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) || seconds <= 0)
                    {
                        return Usage($"Bad --seconds '{value}'.");
                    }

                    break;
                case "--warmup":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out warmupSeconds) || warmupSeconds < 0)
                    {
                        return Usage($"Bad --warmup '{value}'.");
                    }

                    break;
                case "--peers":
                    peers = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    foreach (string peer in peers)
                    {
                        if (!s_peers.ContainsKey(peer))
                        {
                            return Usage($"Unknown peer '{peer}'. Known: {string.Join(", ", s_peers.Keys)}.");
                        }
                    }

                    if (peers.Length == 0)
                    {
                        return Usage("--peers is empty.");
                    }

                    break;
                case "--root":
                    root = value;
                    break;
                default:
                    return Usage($"Unknown option '{option}'.");
            }
        }

        Directory.CreateDirectory(root);
        var results = new List<LoadResult>();
        bool failed = false;
        foreach (int threads in threadCounts)
        {
            foreach (string peer in peers)
            {
                string directory = Path.Combine(root, $"{peer}-{threads}t-{Guid.NewGuid():N}");
                Directory.CreateDirectory(directory);
                Console.Error.WriteLine($"load: {peer}, {threads} thread(s), warmup {warmupSeconds} s, measure {seconds} s ...");
                try
                {
                    LoadResult result = LoadDriver.Run(
                        s_peers[peer],
                        directory,
                        threads,
                        TimeSpan.FromSeconds(warmupSeconds),
                        TimeSpan.FromSeconds(seconds));
                    results.Add(result);
                }
                catch (TimeoutException ex)
                {
                    // Threads are stuck inside the peer; later measurements would be skewed by them.
                    Console.Error.WriteLine($"load: {peer} at {threads} thread(s) hung: {ex.Message}");
                    Console.Out.Write(FormatTable(results));
                    return 1;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    failed = true;
                    Console.Error.WriteLine($"load: {peer} at {threads} thread(s) failed: {ex}");
                }
                finally
                {
                    TryDeleteDirectory(directory);
                }
            }
        }

        Console.Out.Write(FormatTable(results));
        return failed ? 1 : 0;
    }

    public static string FormatTable(IReadOnlyList<LoadResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        CultureInfo inv = CultureInfo.InvariantCulture;
        var builder = new StringBuilder();
        builder.AppendLine("| Peer | Threads | Records/s | p50 (us) | p99 (us) | Total records |");
        builder.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (LoadResult r in results)
        {
            builder.AppendLine(inv, $"| {r.Peer} | {r.Threads} | {r.RecordsPerSecond:N0} | {r.P50Micros:N1} | {r.P99Micros:N1} | {r.TotalRecords:N0} |");
        }

        return builder.ToString();
    }

    /// <summary>Positive integers, comma separated (the raft command's --clients too).</summary>
    internal static bool TryParseInts(string value, out int[] parsed)
    {
        string[] parts = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        parsed = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out parsed[i]) || parsed[i] < 1)
            {
                return false;
            }
        }

        return parts.Length > 0;
    }

    /// <summary>Deletes a run's directory; a failure is reported on standard error under <paramref name="command"/>'s name.</summary>
    internal static void TryDeleteDirectory(string directory, string command = "load")
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{command}: could not delete '{directory}': {ex.Message}");
        }
    }

    private static int Usage(string error)
    {
        Console.Error.WriteLine(error);
        PrintUsage(Console.Error);
        return 2;
    }

    private static void PrintUsage(TextWriter writer)
    {
        writer.WriteLine("usage: --threads 1,64 --seconds 5 --warmup 1 --peers " + string.Join(',', s_peers.Keys) + " --root /tmp/aletheia-load");
    }
}
