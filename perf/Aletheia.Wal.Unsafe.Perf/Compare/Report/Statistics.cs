namespace Aletheia.Wal.Perf.Compare.Report;

/// <summary>The arithmetic of the comparison tables: medians over rounds and ratios between peers.</summary>
public static class Statistics
{
    /// <summary>
    /// The median of <paramref name="values"/>: the middle value, or the mean of the two middle values when there is an even
    /// number of them. Null when there is none.
    /// </summary>
    public static double? Median(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double[] sorted = values.ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        foreach (double value in sorted)
        {
            if (double.IsNaN(value))
            {
                throw new ArgumentException("A median over rounds cannot include NaN: a run without a figure reports null, not NaN.", nameof(values));
            }
        }

        Array.Sort(sorted);
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>
    /// How many times <paramref name="ours"/> is <paramref name="theirs"/> (higher is better for this log when the figure is a
    /// rate). Null when either figure is missing or <paramref name="theirs"/> is not positive.
    /// </summary>
    public static double? Ratio(double? ours, double? theirs) =>
        ours is { } a && theirs is { } b && b > 0 ? a / b : null;
}
