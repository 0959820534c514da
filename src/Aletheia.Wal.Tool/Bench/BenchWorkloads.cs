namespace Aletheia.Wal.Tool.Bench;

/// <summary>The parts of the tour <c>--workloads</c> chooses from, in the order the tour runs them.</summary>
[Flags]
internal enum BenchWorkloads
{
    None = 0,

    /// <summary>Closed-loop <c>AppendDurable</c>, once per <c>--threads</c> count.</summary>
    Durable = 1,

    /// <summary><c>AppendDurableAsync</c> with <c>--in-flight</c> appends outstanding.</summary>
    Async = 2,

    /// <summary>Two producers <c>Append</c> 64-byte records without waiting, then one <c>Flush</c>.</summary>
    Burst64 = 4,

    /// <summary>The same with 1 KiB records.</summary>
    Burst1K = 8,

    /// <summary>Reads the log back from its files and checks every record.</summary>
    Verify = 16,

    /// <summary>The disk's own write-through rate and latency, without the log: the reference.</summary>
    Raw = 32,

    /// <summary>The workloads that append to the log.</summary>
    Writers = Durable | Async | Burst64 | Burst1K,

    All = Writers | Verify | Raw,
}
