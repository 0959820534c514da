namespace Aletheia.Wal.Perf.Compare.Report;

/// <summary>The figure a workload's ratios are taken on.</summary>
public enum Figure
{
    RecordsPerSecond,
    MegabytesPerSecond,
}

/// <summary>The columns a workload's table shows besides the peer, the ratio and the rounds.</summary>
[Flags]
public enum Columns
{
    None = 0,
    RecordsPerSecond = 1,
    MegabytesPerSecond = 2,
    Latency = 4,
    BytesPerAppend = 8,
    Seconds = 16,
}

/// <summary>A row borrowed from another workload's table as a reference for the ratio (the raw device's bandwidth under a burst).</summary>
/// <param name="Workload">The workload the figure comes from.</param>
/// <param name="Peer">The peer the figure comes from.</param>
/// <param name="Label">The row's label in this table.</param>
public sealed record ReferenceRow(string Workload, string Peer, string Label);

/// <summary>One workload of the compare driver: what is measured, which peers run it, and why the others do not.</summary>
/// <param name="Name">Its name on the command line and in the JSON.</param>
/// <param name="Title">The heading of its table.</param>
/// <param name="Primary">The figure the ratios are taken on.</param>
/// <param name="Columns">The figures its table shows.</param>
/// <param name="Peers">Every peer in table order; those in <paramref name="Unsupported"/> are shown as "-" and never run.</param>
/// <param name="Unsupported">Peer name to the reason it cannot run this workload (a note under the table).</param>
/// <param name="Reference">A row from another workload shown as a reference, or null.</param>
public sealed record WorkloadInfo(
    string Name,
    string Title,
    Figure Primary,
    Columns Columns,
    IReadOnlyList<string> Peers,
    IReadOnlyDictionary<string, string> Unsupported,
    ReferenceRow? Reference)
{
    /// <summary>The peers that actually run this workload, in table order.</summary>
    public IEnumerable<string> RunnablePeers => Peers.Where(p => !Unsupported.ContainsKey(p));
}

/// <summary>
/// The workloads and peers of <c>compare</c>, in the order the tables appear. This log is <see cref="ThisLog"/>; every ratio
/// is this log's figure over the peer's.
/// </summary>
public static class WorkloadCatalog
{
    /// <summary>The peer whose figures are divided by every other peer's.</summary>
    public const string ThisLog = "aletheia";

    private const string NoAsyncRocksDb =
        "the RocksDB binding has no asynchronous write; running its blocking Put on thread-pool threads would measure the thread pool's blocking, not the log";

    private const string RecoveryOnlyThisLog =
        "recovery reopens a log written by this log and is compared with a plain sequential read of the same files";

    private static readonly Dictionary<string, string> s_none = [];

    /// <summary>Peer name to how it is driven (the notes under the tables).</summary>
    public static IReadOnlyDictionary<string, string> PeerDescriptions { get; } = new Dictionary<string, string>
    {
        ["aletheia"] = "this log, default options: `AppendDurable`; `AppendDurableAsync`; `Append` from two producers, then one `Flush`; recovery is `WriteAheadLog.Open` then a `WalReader` over every record.",
        ["aletheia-dsync"] = "this log with `WalOptions.WriteMode = DataSync` (segments opened `O_DSYNC` instead of the `O_SYNC` of `FileOptions.WriteThrough`), otherwise as `aletheia`: the measurement behind the opt-in mode.",
        ["aletheia-recycled"] = "this log in the steady state of an engine that checkpoints: before the burst (unmeasured) it writes as many bytes as the burst's frames and truncates them (`TruncateBefore`, `MaxRecycledSegments` = 64), so the burst reuses freed segments instead of zero-filling new ones while it writes.",
        ["channel"] = "the usual .NET group commit: each append posts a copy of its payload and a fresh `TaskCompletionSource` to an unbounded `Channel`; one consumer writes what it drains to a write-through `FileStream` (1 MiB buffer), `Flush(true)`, then completes the batch. Burst (\"channel-buffered\"): the same channel into a buffered `FileStream`, one `Flush(true)` at the end.",
        ["faster"] = "Microsoft.FASTER.Core 2.6.5 `FasterLog`, `AutoCommit`: `Enqueue` then `WaitForCommit`; async `EnqueueAndWaitForCommitAsync`; burst (`AutoCommit` off) `Enqueue` from two producers, then `Commit(spinWait: true)`.",
        ["rocksdb"] = "RocksDB 11.12 (NuGet `RocksDB`, RocksDbSharp) used as a log, default options: keys are 8-byte big-endian sequence numbers from one counter; durable is `Put` with `WriteOptions.SetSync(true)`; burst is `Put` without sync from two producers, then one `FlushWal(sync: true)`.",
        ["dotnext"] = "DotNext.Net.Cluster 6.12 `WriteAheadLog` standalone, a state machine that does nothing, default options but `ChunkSize` = 1 MiB (the default, one file per 4 KiB page, each kept open, runs out of file descriptors a million 64 B entries into a burst): `AppendAsync`, then `CommitAsync` and `FlushAsync` (which waits until the background flusher has written the commit index) are the durability point. `CommitAsync` takes one caller at a time, so one committer loop serves every appender: an appender posts its index and awaits; the committer commits the highest index posted, flushes, and completes every waiter up to it. Burst: `AppendAsync` from two producers, then one commit and flush.",
        ["raw"] = "not a log: `RandomAccess.Write` on a `FileOptions.WriteThrough` handle into a zero-filled preallocated file: 64 B per call (closed loop), 1 MiB or 4 KiB per call (raw device).",
        ["raw-fresh"] = "not a log: as `raw` at 1 MiB per call, but into new space: a new file extended sparse to 1 GiB (`SetLength`, no block written), each write allocating the blocks it fills, then another. The bandwidth of space never written on this disk, which a new log's burst writes into (its segments prepared during a burst are such files).",
        ["raw-prepared"] = "not a log: as `raw` at 1 MiB per call, into new files of 64 MiB (a segment), each zero-filled by a second thread while the one before it takes the writes (direct writes of 1 MiB, then fsync, as this log prepares a segment); the writer moves to the next once it is full, waiting for its zeros if need be. Every byte is written twice, zeros then data: the device's ceiling for a burst into a new write-through log that zero-fills its segments, as this log does by default.",
        ["floor"] = "not a log: the floor of blocking group commit (`Load/WakeFloorLog.cs`): callers sleep on one futex word, a flusher writes each round with one write-through write and wakes them all.",
        ["empty"] = "not a log: each append completes after one hop through the thread pool (`await Task.Yield()`), nothing written. Its B/append is the harness's and the thread pool's own; its records/s is the ceiling of the harness on this machine.",
        ["cat"] = "not a log: a sequential read of every file of the recovery log's directory with one 1 MiB buffer, nothing parsed (what `cat` does). Its MB/s is the log's payload over the time taken, as for this log, though it also reads the unused tail of the last segment and the segment prepared after it.",
    };

    /// <summary>Every workload, in table order.</summary>
    public static IReadOnlyList<WorkloadInfo> All { get; } =
    [
        new("closed-1", "Closed-loop durable appends, 1 thread, 64 B", Figure.RecordsPerSecond,
            Columns.RecordsPerSecond | Columns.Latency | Columns.BytesPerAppend,
            ["aletheia", "aletheia-dsync", "raw", "channel", "faster", "rocksdb", "dotnext"], s_none, null),
        new("closed-64", "Closed-loop durable appends, 64 threads, 64 B", Figure.RecordsPerSecond,
            Columns.RecordsPerSecond | Columns.Latency | Columns.BytesPerAppend,
            ["aletheia", "aletheia-dsync", "floor", "channel", "faster", "rocksdb", "dotnext"], s_none, null),
        new("async-256", "Async durable appends, 256 in flight, 64 B", Figure.RecordsPerSecond,
            Columns.RecordsPerSecond | Columns.Latency | Columns.BytesPerAppend,
            ["aletheia", "channel", "faster", "rocksdb", "dotnext", "empty"], new Dictionary<string, string> { ["rocksdb"] = NoAsyncRocksDb }, null),
        new("async-4096", "Async durable appends, 4096 in flight, 64 B", Figure.RecordsPerSecond,
            Columns.RecordsPerSecond | Columns.Latency | Columns.BytesPerAppend,
            ["aletheia", "channel", "faster", "rocksdb", "dotnext", "empty"], new Dictionary<string, string> { ["rocksdb"] = NoAsyncRocksDb }, null),
        new("burst-64", "Burst, 2 producers, 64 B records, end to end", Figure.MegabytesPerSecond,
            Columns.RecordsPerSecond | Columns.MegabytesPerSecond | Columns.BytesPerAppend | Columns.Seconds,
            ["aletheia", "aletheia-recycled", "channel", "faster", "rocksdb", "dotnext"], s_none, new ReferenceRow("raw-1m", "raw", "raw device, 1 MiB write-through writes")),
        new("burst-1k", "Burst, 2 producers, 1 KiB records, end to end", Figure.MegabytesPerSecond,
            Columns.RecordsPerSecond | Columns.MegabytesPerSecond | Columns.BytesPerAppend | Columns.Seconds,
            ["aletheia", "aletheia-dsync", "aletheia-recycled", "channel", "faster", "rocksdb", "dotnext"], s_none, new ReferenceRow("raw-1m", "raw", "raw device, 1 MiB write-through writes")),
        new("raw-1m", "Raw device: 1 MiB write-through writes into a zero-filled file (raw-fresh: into new space; raw-prepared: into new files zero-filled ahead)", Figure.MegabytesPerSecond,
            Columns.MegabytesPerSecond | Columns.Latency,
            ["raw", "raw-fresh", "raw-prepared"], s_none, null),
        new("raw-4k", "Raw device: 4 KiB write-through writes into a zero-filled file, one at a time", Figure.RecordsPerSecond,
            Columns.RecordsPerSecond | Columns.MegabytesPerSecond | Columns.Latency,
            ["raw"], s_none, null),
        new("recovery-warm", "Recovery, page cache warm: reopen a log of 1 KiB records and read it all", Figure.MegabytesPerSecond,
            Columns.RecordsPerSecond | Columns.MegabytesPerSecond | Columns.Seconds,
            ["aletheia", "cat", "channel", "faster", "rocksdb", "dotnext"], Everyone(RecoveryOnlyThisLog, "channel", "faster", "rocksdb", "dotnext"), null),
        new("recovery-cold", "Recovery, page cache dropped: reopen a log of 1 KiB records and read it all", Figure.MegabytesPerSecond,
            Columns.RecordsPerSecond | Columns.MegabytesPerSecond | Columns.Seconds,
            ["aletheia", "cat", "channel", "faster", "rocksdb", "dotnext"], Everyone(RecoveryOnlyThisLog, "channel", "faster", "rocksdb", "dotnext"), null),
    ];

    /// <summary>The workload named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No workload has that name; the message lists the known ones.</exception>
    public static WorkloadInfo Get(string name) =>
        All.FirstOrDefault(w => w.Name == name)
        ?? throw new ArgumentException($"Unknown workload '{name}'. Known: {string.Join(", ", All.Select(w => w.Name))}.", nameof(name));

    private static Dictionary<string, string> Everyone(string reason, params string[] peers) => peers.ToDictionary(p => p, _ => reason);
}
