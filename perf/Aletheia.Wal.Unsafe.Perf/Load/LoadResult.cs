namespace Aletheia.Wal.Perf.Load;

/// <summary>One closed-loop measurement of one peer at one thread count.</summary>
/// <param name="Peer">The peer's <see cref="IDurableLog.Name"/>.</param>
/// <param name="Threads">Number of concurrent appending threads.</param>
/// <param name="RecordsPerSecond">Durable appends completed per second during the measured window.</param>
/// <param name="P50Micros">Median append latency, microseconds.</param>
/// <param name="P99Micros">99th percentile append latency, microseconds.</param>
/// <param name="TotalRecords">Durable appends completed during the measured window.</param>
public sealed record LoadResult(
    string Peer,
    int Threads,
    double RecordsPerSecond,
    double P50Micros,
    double P99Micros,
    long TotalRecords)
{
    /// <summary>
    /// Bytes the whole process allocated over the measured window per durable append (the appends that completed in it), or
    /// null when none did.
    /// </summary>
    public double? BytesPerAppend { get; init; }
}
