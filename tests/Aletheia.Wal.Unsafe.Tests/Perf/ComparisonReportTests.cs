using Aletheia.Wal.Perf.Compare.Report;
using Xunit;

namespace Aletheia.Wal.Tests.Perf;

public sealed class ComparisonReportTests
{
    private static readonly WorkloadInfo s_burst = new(
        "burst-x",
        "Burst X",
        Figure.MegabytesPerSecond,
        Columns.RecordsPerSecond | Columns.MegabytesPerSecond | Columns.Seconds,
        ["aletheia", "channel", "rocksdb", "dotnext", "faster"],
        new Dictionary<string, string> { ["rocksdb"] = "no such form", ["dotnext"] = "no such form" },
        new ReferenceRow("raw-x", "raw", "raw device"));

    private static readonly WorkloadInfo s_raw = new("raw-x", "Raw X", Figure.MegabytesPerSecond, Columns.MegabytesPerSecond, ["raw"], new Dictionary<string, string>(), null);

    [Fact]
    public void Summarize_takes_each_figure_median_over_the_successful_runs_and_lists_the_others()
    {
        RunResult[] runs =
        [
            Ok("burst-x", "aletheia", 1, recordsPerSecond: 100, megabytesPerSecond: 10),
            new RunResult { Workload = "burst-x", Peer = "aletheia", Round = 2, Status = RunStatus.Failed, Error = "boom" },
            Ok("burst-x", "aletheia", 3, recordsPerSecond: 300, megabytesPerSecond: 50),
            new RunResult { Workload = "burst-x", Peer = "faster", Round = 1, Status = RunStatus.TimedOut, Error = "killed after 300 s" },
            new RunResult { Workload = "burst-x", Peer = "dotnext", Round = 2, Status = RunStatus.Skipped, Error = "too many files" },
            new RunResult { Workload = "burst-x", Peer = "dotnext", Round = 1, Status = RunStatus.Skipped, Error = "too many files" },
            new RunResult { Workload = "burst-x", Peer = "dotnext", Round = 3, Status = RunStatus.Failed, Error = "too many files" },
        ];

        IReadOnlyList<PeerSummary> summaries = ComparisonReport.Summarize(runs);

        PeerSummary ours = Assert.Single(summaries, s => s.Peer == "aletheia");
        Assert.Equal((2, 3), (ours.Succeeded, ours.Runs));
        Assert.Equal(200.0, ours.RecordsPerSecond);
        Assert.Equal(30.0, ours.MegabytesPerSecond);
        Assert.Null(ours.P99Micros); // no run measured it: missing, not zero
        Assert.Equal(["round 2: failed: boom"], ours.Problems);

        PeerSummary faster = Assert.Single(summaries, s => s.Peer == "faster");
        Assert.Equal((0, 1), (faster.Succeeded, faster.Runs));
        Assert.Null(faster.MegabytesPerSecond);
        Assert.Equal(["round 1: timed out: killed after 300 s"], faster.Problems);

        // The same outcome in several rounds is one line; another outcome with the same words is another line.
        PeerSummary dotnext = Assert.Single(summaries, s => s.Peer == "dotnext");
        Assert.Equal((0, 3), (dotnext.Succeeded, dotnext.Runs));
        Assert.Equal(["rounds 1, 2: skipped: too many files", "round 3: failed: too many files"], dotnext.Problems);
    }

    [Fact]
    public void Format_writes_one_table_per_workload_with_computed_ratios_reference_and_notes()
    {
        RunResult[] runs =
        [
            Ok("burst-x", "aletheia", 1, recordsPerSecond: 1_500_000, megabytesPerSecond: 1536, seconds: 1.25),
            Ok("burst-x", "channel", 1, recordsPerSecond: 1_000_000, megabytesPerSecond: 1024, seconds: 2),
            new RunResult { Workload = "burst-x", Peer = "faster", Round = 1, Status = RunStatus.Failed, Error = "IOException: disk full" },
            Ok("raw-x", "raw", 1, megabytesPerSecond: 2048),
        ];
        var header = new ReportHeader("2026-01-02 03:04 UTC", "Aletheia.Wal.Unsafe.Perf compare --rounds 1", ["CPU: test"], "Method paragraph.");

        string text = ComparisonReport.Format(header, [s_burst, s_raw], ComparisonReport.Summarize(runs));
        string[] lines = text.Split('\n');

        Assert.Contains("Generated 2026-01-02 03:04 UTC by `Aletheia.Wal.Unsafe.Perf compare --rounds 1`.", lines);
        Assert.Contains("- CPU: test", lines);
        Assert.Contains("Method paragraph.", lines);
        string[] table =
        [
            "### Burst X",
            "",
            "| peer | records/s | MB/s | seconds | aletheia / peer | runs ok |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            "| **aletheia** | 1,500,000 | 1,536 | 1.25 |  | 1/1 |",
            "| channel | 1,000,000 | 1,024 | 2.00 | 1.50x | 1/1 |",
            "| rocksdb | - | - | - | - | not run (note 1) |",
            "| dotnext | - | - | - | - | not run (note 1) |",
            "| faster | - | - | - | - | 0/1 (note 2) |",
            "| *raw device* | - | 2,048 | - | 0.75x | 1/1 |",
            "",
            "1. rocksdb, dotnext: not run: no such form.",
            "2. faster: round 1: failed: IOException: disk full.",
            "",
            "### Raw X",
            "",
            "| peer | MB/s | aletheia / peer | runs ok |",
            "| --- | ---: | ---: | ---: |",
            "| raw | 2,048 | - | 1/1 |",
            "",
            "### The peers",
        ];
        int at = Array.IndexOf(lines, "### Burst X");
        Assert.True(at >= 0, "the workload's heading is its title");
        Assert.Equal(table, lines[at..(at + table.Length)]);
    }

    [Theory]
    [InlineData(null, "-")]
    [InlineData(0.04, "0.0")]
    [InlineData(99.94, "99.9")]
    [InlineData(100.4, "100")]
    [InlineData(1_234_567.8, "1,234,568")]
    public void Number_prints_one_decimal_below_100_and_none_above(double? value, string expected)
    {
        Assert.Equal(expected, ComparisonReport.Number(value));
    }

    private static RunResult Ok(string workload, string peer, int round, double? recordsPerSecond = null, double? megabytesPerSecond = null, double? seconds = null) =>
        new()
        {
            Workload = workload,
            Peer = peer,
            Round = round,
            Status = RunStatus.Ok,
            RecordsPerSecond = recordsPerSecond,
            MegabytesPerSecond = megabytesPerSecond,
            Seconds = seconds,
        };
}
