namespace Aletheia.Wal.Perf.Compare.Report;

/// <summary>What one child process (one workload, one peer, one round) reports; the parent reads it as JSON from its stdout.</summary>
/// <remarks>A figure the workload does not measure is null (a burst has no per-append latency), never zero.</remarks>
public sealed record RunResult
{
    /// <summary>The workload's name in <see cref="WorkloadCatalog"/>.</summary>
    public required string Workload { get; init; }

    /// <summary>The peer's name in <see cref="WorkloadCatalog"/>.</summary>
    public required string Peer { get; init; }

    /// <summary>The round, from 1.</summary>
    public int Round { get; init; }

    /// <summary>What became of the run.</summary>
    public RunStatus Status { get; init; }

    /// <summary>Why the run failed, timed out or was skipped (one line); null when it is <see cref="RunStatus.Ok"/>.</summary>
    public string? Error { get; init; }

    /// <summary>Records (appends) per second over the measured window.</summary>
    public double? RecordsPerSecond { get; init; }

    /// <summary>Payload bytes per second over the measured window, in MB (10^6 bytes) per second.</summary>
    public double? MegabytesPerSecond { get; init; }

    /// <summary>Median latency of one operation, microseconds.</summary>
    public double? P50Micros { get; init; }

    /// <summary>99th percentile latency of one operation, microseconds.</summary>
    public double? P99Micros { get; init; }

    /// <summary>Bytes allocated by the whole process over the measured window, per append.</summary>
    public double? BytesPerAppend { get; init; }

    /// <summary>Records counted in the measured window.</summary>
    public long? Records { get; init; }

    /// <summary>Length of the measured window, seconds.</summary>
    public double? Seconds { get; init; }

    /// <summary>What the run checked of its own output, or any other remark worth a line ("reopened: 4,194,304 records of 64 B").</summary>
    public string? Note { get; init; }
}

/// <summary>What became of one run.</summary>
public enum RunStatus
{
    /// <summary>Measured, and its own checks passed.</summary>
    Ok,

    /// <summary>The child exited with an error, printed no result, or its checks failed.</summary>
    Failed,

    /// <summary>The child did not finish in time and was killed.</summary>
    TimedOut,

    /// <summary>The run could not take place here (for example dropping the page cache without the permission to).</summary>
    Skipped,
}
