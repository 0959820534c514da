namespace Aletheia.Wal.Perf.Compare;

/// <summary>What a workload driver measured in one run; <see cref="RunOneCommand"/> adds the run's name and status.</summary>
/// <param name="RecordsPerSecond">Records per second, or null when the workload does not count records.</param>
/// <param name="MegabytesPerSecond">Payload MB (10^6 bytes) per second, or null.</param>
/// <param name="P50Micros">Median latency of one operation, or null.</param>
/// <param name="P99Micros">99th percentile latency of one operation, or null.</param>
/// <param name="BytesPerAppend">Bytes the whole process allocated over the measured window per record, or null.</param>
/// <param name="Records">Records counted in the measured window.</param>
/// <param name="Seconds">The measured window.</param>
/// <param name="Note">What the run checked of its own output, or null.</param>
internal sealed record Measured(
    double? RecordsPerSecond,
    double? MegabytesPerSecond,
    double? P50Micros,
    double? P99Micros,
    double? BytesPerAppend,
    long Records,
    double Seconds,
    string? Note);
