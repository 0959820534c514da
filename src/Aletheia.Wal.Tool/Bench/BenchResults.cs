namespace Aletheia.Wal.Tool.Bench;

/// <summary>What a workload's allocation figure counts.</summary>
internal enum AllocationScope
{
    /// <summary><see cref="GC.GetAllocatedBytesForCurrentThread"/> of the appending threads, summed.</summary>
    AppendingThreads,

    /// <summary>
    /// <see cref="GC.GetTotalAllocatedBytes(bool)"/> of the whole process (completions run on pool threads), less what the
    /// bench's driver thread allocated meanwhile (<see cref="WorkloadResult.HarnessBytesPerAppend"/>, measured on it).
    /// </summary>
    Process,
}

/// <summary>
/// One workload of the tour, as planned: <see cref="Id"/> is its index, written into each of its records. A warm-up runs
/// a workload briefly before the measured ones (its records are in the log and verified, its figures are not reported).
/// </summary>
internal sealed record PlannedWorkload(int Id, string Key, string Label, BenchWorkloads Kind, int Producers, int PayloadBytes, bool WarmUp = false);

/// <summary>What one workload did. Rates are over <see cref="Seconds"/>, the whole of it: every record counted was appended inside.</summary>
internal sealed record WorkloadResult(PlannedWorkload Plan, long[] ProducerRecords, double Seconds, LatencySummary? Latency, double AllocatedBytesPerAppend, AllocationScope Scope)
{
    public long Records => ProducerRecords.Sum();

    public double RecordsPerSecond => Seconds > 0 ? Records / Seconds : 0;

    public double MegabytesPerSecond => Seconds > 0 ? Records * (double)Plan.PayloadBytes / Seconds / 1e6 : 0;

    /// <summary>A burst's final <c>Flush</c>: from the last append's return to the Flush's.</summary>
    public double? FlushMilliseconds { get; init; }

    /// <summary>A burst: "duration", or "volume" when it reached its byte cap first.</summary>
    public string? StoppedBy { get; init; }

    /// <summary>
    /// For <see cref="AllocationScope.Process"/>: the bench driver thread's own allocations per append (it issues the first
    /// appends, waits, and draws the progress line), taken out of <see cref="AllocatedBytesPerAppend"/>.
    /// </summary>
    public double? HarnessBytesPerAppend { get; init; }
}

/// <summary>What reading the log back found.</summary>
internal sealed record VerificationResult(long Records, long PayloadBytes, double Seconds, ulong FirstLsn, ulong LastLsn, ulong? FirstBadLsn, string? Problem)
{
    public bool Passed => Problem is null;

    public double RecordsPerSecond => Seconds > 0 ? Records / Seconds : 0;

    public double MegabytesPerSecond => Seconds > 0 ? PayloadBytes / Seconds / 1e6 : 0;
}

/// <summary>One series of raw write-through writes of <see cref="WriteBytes"/> each.</summary>
internal sealed record RawResult(int WriteBytes, long Writes, double Seconds, LatencySummary? Latency)
{
    public double WritesPerSecond => Seconds > 0 ? Writes / Seconds : 0;

    public double MegabytesPerSecond => Seconds > 0 ? Writes * (double)WriteBytes / Seconds / 1e6 : 0;
}

/// <summary>Where the tour ran.</summary>
internal sealed record MachineDescription(int Cores, string OperatingSystem, string Runtime, string Directory, string? FileSystem);

/// <summary>Everything one run of the bench measured, for the table and for <c>--json</c>.</summary>
internal sealed class BenchReport
{
    public required BenchSettings Settings { get; init; }

    public required MachineDescription Machine { get; init; }

    /// <summary>The warm-ups and every workload that ran, in order.</summary>
    public List<WorkloadResult> Workloads { get; } = [];

    public VerificationResult? Verification { get; set; }

    public RawResult? RawLarge { get; set; }

    public RawResult? RawSmall { get; set; }

    /// <summary>The options the log ran with (all defaults but the directory): each option's name and value (bytes for sizes).</summary>
    public IReadOnlyList<(string Name, long Value)> LogOptions { get; set; } = [];

    public bool Cancelled { get; set; }
}
