using Aletheia.Wal.Perf.Compare.Report;
using Xunit;

namespace Aletheia.Wal.Tests.Perf;

public sealed class StatisticsTests
{
    [Fact]
    public void Median_of_an_odd_count_is_the_middle_value_whatever_the_order()
    {
        Assert.Equal(300.0, Statistics.Median([500, 100, 300]));
    }

    [Fact]
    public void Median_of_an_even_count_is_the_mean_of_the_two_middle_values()
    {
        // Two rounds, the default: the median is their mean, not either run.
        Assert.Equal(250.0, Statistics.Median([300, 200]));
        Assert.Equal(2.5, Statistics.Median([4, 1, 3, 2]));
    }

    [Fact]
    public void Median_of_nothing_is_null()
    {
        Assert.Null(Statistics.Median([]));
    }

    [Fact]
    public void Median_refuses_NaN_naming_it()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => Statistics.Median([1, double.NaN]));
        Assert.Contains("cannot include NaN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ratio_is_ours_over_theirs_and_null_without_both_figures()
    {
        Assert.Equal(2.5, Statistics.Ratio(10, 4));
        Assert.Null(Statistics.Ratio(null, 4));
        Assert.Null(Statistics.Ratio(10, null));
        Assert.Null(Statistics.Ratio(10, 0));
    }
}
