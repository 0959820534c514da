using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Aletheia.Wal.Perf.Compare.Report;
using Aletheia.Wal.Perf.Load;

namespace Aletheia.Wal.Perf.Compare;

/// <summary>
/// <c>run-one --workload W --peer P --directory D [--round N] [settings]</c>: one run of one workload against one peer in an
/// empty directory, in this process; prints its <see cref="RunResult"/> as one line of JSON on stdout (progress and errors
/// go to stderr). <c>compare</c> starts one of these per (workload, peer, round). Exit code 0 when a result was printed,
/// whatever its status; 2 for bad options.
/// </summary>
internal static class RunOneCommand
{
    public const string Name = "run-one";

    public const int PayloadBytes = 64;

    /// <summary>How results travel from the child to the parent: camelCase, enums by name, nulls left out.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static int Run(string[] args)
    {
        var settings = new RunSettings.Options();
        var workload = new Option<string>("--workload") { Description = "The workload: " + string.Join(", ", WorkloadCatalog.All.Select(w => w.Name)) + ".", Required = true };
        workload.AcceptOnlyFromAmong([.. WorkloadCatalog.All.Select(w => w.Name)]);
        var peer = new Option<string>("--peer") { Description = "The peer (each workload names the peers it runs).", Required = true };
        var directory = new Option<string>("--directory") { Description = "An empty directory for the run's files; it is not deleted.", Required = true };
        var round = new Option<int>("--round") { Description = "The round, reported back as is.", DefaultValueFactory = _ => 1 };
        var command = new Command(Name, "Runs one workload against one peer and prints the result as one line of JSON.") { workload, peer, directory, round };
        foreach (Option option in settings.All)
        {
            command.Options.Add(option);
        }

        command.Validators.Add(result =>
        {
            string? w = result.GetValue(workload);
            string? p = result.GetValue(peer);
            if (w is not null && p is not null && !WorkloadCatalog.Get(w).RunnablePeers.Contains(p))
            {
                WorkloadInfo info = WorkloadCatalog.Get(w);
                result.AddError($"Peer '{p}' does not run '{w}'. It runs: {string.Join(", ", info.RunnablePeers)}.");
            }
        });
        command.SetAction(parsed =>
        {
            RunResult result = Execute(
                WorkloadCatalog.Get(parsed.GetValue(workload)!),
                parsed.GetValue(peer)!,
                parsed.GetValue(round),
                parsed.GetValue(directory)!,
                settings.Read(parsed));
            Console.Out.WriteLine(JsonSerializer.Serialize(result, Json));
            return 0;
        });
        return new RootCommand { command }.Parse([Name, .. args]).Invoke();
    }

    /// <summary>Runs the workload; any failure becomes a result with its status, not an exception.</summary>
    public static RunResult Execute(WorkloadInfo workload, string peer, int round, string directory, RunSettings settings)
    {
        Console.Error.WriteLine($"run-one: round {round}, {workload.Name}, {peer} ...");
        var result = new RunResult { Workload = workload.Name, Peer = peer, Round = round };
        try
        {
            Measured m = Measure(workload.Name, peer, directory, settings);
            return result with
            {
                Status = RunStatus.Ok,
                RecordsPerSecond = m.RecordsPerSecond,
                MegabytesPerSecond = m.MegabytesPerSecond,
                P50Micros = m.P50Micros,
                P99Micros = m.P99Micros,
                BytesPerAppend = m.BytesPerAppend,
                Records = m.Records,
                Seconds = m.Seconds,
                Note = m.Note,
            };
        }
        catch (RunSkippedException e)
        {
            return result with { Status = RunStatus.Skipped, Error = e.Message };
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"run-one: {workload.Name}, {peer} failed: {e}");
            string message = e.InnerException is { } inner ? $"{e.Message} {inner.GetType().Name}: {inner.Message}" : $"{e.GetType().Name}: {e.Message}";
            return result with { Status = RunStatus.Failed, Error = message.ReplaceLineEndings(" ") };
        }
    }

    private static Measured Measure(string workload, string peer, string directory, RunSettings settings)
    {
        TimeSpan warmup = TimeSpan.FromSeconds(settings.Warmup);
        TimeSpan duration = TimeSpan.FromSeconds(settings.Seconds);
        return workload switch
        {
            "closed-1" => Closed(peer, directory, 1, warmup, duration),
            "closed-64" => Closed(peer, directory, 64, warmup, duration),
            "async-256" => Async(peer, directory, 256, warmup, duration),
            "async-4096" => Async(peer, directory, 4096, warmup, duration),
            "burst-64" => Burst(peer, directory, 64, settings.Burst64Mebibytes * 1024L * 1024),
            "burst-1k" => Burst(peer, directory, 1024, settings.Burst1kMebibytes * 1024L * 1024),
            "raw-1m" when peer == "raw-fresh" => RawDeviceDriver.Run(directory, 1024 * 1024, 1024L * 1024 * 1024, warmup, duration, fresh: true),
            "raw-1m" when peer == "raw-prepared" => RawDeviceDriver.Run(directory, 1024 * 1024, new WalOptions { Directory = directory }.SegmentSizeBytes, warmup, duration, prepared: true),
            "raw-1m" => RawDeviceDriver.Run(directory, 1024 * 1024, 256L * 1024 * 1024, warmup, duration),
            "raw-4k" => RawDeviceDriver.Run(directory, 4096, 64L * 1024 * 1024, warmup, duration),
            "recovery-warm" => RecoveryDriver.Run(peer, directory, settings.RecoveryMebibytes * 1024L * 1024, cold: false),
            "recovery-cold" => RecoveryDriver.Run(peer, directory, settings.RecoveryMebibytes * 1024L * 1024, cold: true),
            _ => throw new ArgumentException($"No driver for workload '{workload}'.", nameof(workload)),
        };
    }

    private static Measured Closed(string peer, string directory, int threads, TimeSpan warmup, TimeSpan duration)
    {
        Func<string, IDurableLog> factory = peer switch
        {
            "aletheia" => static d => new AletheiaLog(d),
            "aletheia-dsync" => static d => new AletheiaLog(d, WalWriteMode.DataSync),
            "raw" => static d => new RawWriteThroughLog(d),
            "channel" => static d => new ChannelFileStreamLog(d),
            "faster" => static d => new FasterLogPeer(d),
            "rocksdb" => static d => new RocksDbLog(d),
            "dotnext" => static d => new DotNextWalPeer(d),
            "floor" => static d => new WakeFloorLog(d),
            _ => throw new ArgumentException($"Peer '{peer}' has no closed-loop form.", nameof(peer)),
        };
        LoadResult r = LoadDriver.Run(factory, directory, threads, warmup, duration);
        double seconds = duration.TotalSeconds;
        return new Measured(r.RecordsPerSecond, r.RecordsPerSecond * LoadDriver.PayloadSize / 1e6, r.P50Micros, r.P99Micros, r.BytesPerAppend, r.TotalRecords, seconds, null);
    }

    private static Measured Async(string peer, string directory, int inFlight, TimeSpan warmup, TimeSpan duration) => peer switch
    {
        "aletheia" => Async(new AletheiaLog(directory), inFlight, warmup, duration),
        "channel" => Async(new ChannelFileStreamLog(directory), inFlight, warmup, duration),
        "faster" => Async(new FasterLogPeer(directory), inFlight, warmup, duration),
        "dotnext" => Async(new DotNextWalPeer(directory), inFlight, warmup, duration),
        "empty" => Async(new ThreadPoolHopLog(), inFlight, warmup, duration),
        _ => throw new ArgumentException($"Peer '{peer}' has no async form.", nameof(peer)),
    };

    private static Measured Async<TResult>(IAsyncDurableLog<TResult> log, int inFlight, TimeSpan warmup, TimeSpan duration)
    {
        using (log)
        {
            return AsyncInFlightDriver.Run(log, inFlight, PayloadBytes, warmup, duration);
        }
    }

    private static Measured Burst(string peer, string directory, int payloadBytes, long burstBytes)
    {
        long recordsPerProducer = Math.Max(1, burstBytes / payloadBytes / BurstDriver.Producers);
        if (peer == "dotnext")
        {
            EnsureDotNextHasDescriptors(recordsPerProducer * BurstDriver.Producers, burstBytes);
        }

        using IBurstLog log = peer switch
        {
            "aletheia" => new AletheiaLog(directory),
            "aletheia-dsync" => new AletheiaLog(directory, WalWriteMode.DataSync),
            "aletheia-recycled" => AletheiaLog.WithRecycledSpace(directory, burstBytes / payloadBytes * (payloadBytes + Storage.FrameHeader.Size)),
            "channel" => new ChannelFileStreamLog(directory, ChannelMode.Buffered),
            "faster" => new FasterLogPeer(directory, autoCommit: false),
            "rocksdb" => new RocksDbLog(directory),
            "dotnext" => new DotNextWalPeer(directory),
            _ => throw new ArgumentException($"Peer '{peer}' has no burst form.", nameof(peer)),
        };
        return BurstDriver.Run(log, payloadBytes, recordsPerProducer);
    }

    /// <summary>
    /// DotNext's log keeps a file open (and mapped) per 4 KiB page of entry metadata, one per 157 entries as measured here, and
    /// per <see cref="DotNextWalPeer.ChunkBytes"/> of entries, until the burst's one commit: past the process's open-file limit
    /// it fails or aborts the process. Such a burst is skipped, with the figures, rather than run into the wall.
    /// </summary>
    private static void EnsureDotNextHasDescriptors(long entries, long payloadBytes)
    {
        const long EntriesPerMetadataPage = 157;
        const long Headroom = 1000; // the runtime's own files, sockets and libraries
        long needed = (entries / EntriesPerMetadataPage) + (payloadBytes / DotNextWalPeer.ChunkBytes) + Headroom;
        if (OpenFileLimit.Current() is { } limit && (ulong)needed > limit)
        {
            throw new RunSkippedException(
                $"DotNext's log keeps a file open per 4 KiB of entry metadata until the commit: {entries:N0} entries need about {needed:N0} open files, and this process may open {limit:N0} (ulimit -n; a smaller burst fits)");
        }
    }
}
