using System.Diagnostics;
using HdrHistogram;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>Percentiles of one operation's latency, in microseconds.</summary>
internal sealed record LatencySummary(long Count, double P50, double P99, double P999, double Max);

/// <summary>Latency histograms in <see cref="Stopwatch"/> ticks (HdrHistogram, 3 significant digits), up to a minute.</summary>
internal static class Latency
{
    /// <summary>The longest latency recorded as itself; a longer one (a stall of a minute) is recorded as this.</summary>
    public static readonly long HighestTicks = Stopwatch.Frequency * 60;

    private const int SignificantDigits = 3;

    /// <summary>A histogram for one recording thread.</summary>
    public static LongHistogram ForOneThread() => new(HighestTicks, SignificantDigits);

    /// <summary>A histogram any number of threads record into at once (its counts are interlocked).</summary>
    public static LongConcurrentHistogram ForManyThreads() => new(1, HighestTicks, SignificantDigits);

    /// <summary>Records <paramref name="ticks"/>, clamped to the histogram's range. Allocates nothing.</summary>
    public static void Record(HistogramBase histogram, long ticks) => histogram.RecordValue(Math.Min(ticks, HighestTicks));

    /// <summary>The merged percentiles of <paramref name="histograms"/>; null when nothing was recorded.</summary>
    public static LatencySummary? Summarize(IEnumerable<HistogramBase> histograms)
    {
        LongHistogram merged = ForOneThread();
        foreach (HistogramBase histogram in histograms)
        {
            merged.Add(histogram);
        }

        return merged.TotalCount == 0
            ? null
            : new LatencySummary(
                merged.TotalCount,
                Micros(merged.GetValueAtPercentile(50)),
                Micros(merged.GetValueAtPercentile(99)),
                Micros(merged.GetValueAtPercentile(99.9)),
                Micros(merged.GetMaxValue()));
    }

    public static LatencySummary? Summarize(HistogramBase histogram) => Summarize([histogram]);

    private static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}
