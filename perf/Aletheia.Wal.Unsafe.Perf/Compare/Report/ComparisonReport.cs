using System.Globalization;
using System.Text;

namespace Aletheia.Wal.Perf.Compare.Report;

/// <summary>One peer under one workload over every round: the medians of its successful runs, each figure on its own.</summary>
/// <param name="Workload">The workload's name.</param>
/// <param name="Peer">The peer's name.</param>
/// <param name="Succeeded">Runs that measured and passed their checks.</param>
/// <param name="Runs">Runs attempted.</param>
/// <param name="RecordsPerSecond">Median over the successful runs, or null.</param>
/// <param name="MegabytesPerSecond">Median over the successful runs, or null.</param>
/// <param name="P50Micros">Median over the successful runs, or null.</param>
/// <param name="P99Micros">Median over the successful runs, or null.</param>
/// <param name="BytesPerAppend">Median over the successful runs, or null.</param>
/// <param name="Seconds">Median over the successful runs, or null.</param>
/// <param name="Problems">One line per way runs did not succeed, with their rounds ("round 2: timed out: ...", "rounds 1, 2: skipped: ...").</param>
public sealed record PeerSummary(
    string Workload,
    string Peer,
    int Succeeded,
    int Runs,
    double? RecordsPerSecond,
    double? MegabytesPerSecond,
    double? P50Micros,
    double? P99Micros,
    double? BytesPerAppend,
    double? Seconds,
    IReadOnlyList<string> Problems)
{
    /// <summary>The figure the ratios are taken on.</summary>
    public double? Get(Figure figure) => figure == Figure.RecordsPerSecond ? RecordsPerSecond : MegabytesPerSecond;
}

/// <summary>What the section says before its tables.</summary>
/// <param name="Date">When the runs ended (UTC, ISO 8601).</param>
/// <param name="CommandLine">The command that produced the section, as typed.</param>
/// <param name="Machine">One line each: CPU, memory, kernel, .NET, the disk and file system of the runs' root.</param>
/// <param name="Method">How the runs were made (rounds, durations, pauses), one paragraph.</param>
public sealed record ReportHeader(string Date, string CommandLine, IReadOnlyList<string> Machine, string Method);

/// <summary>
/// Turns the runs' results into the markdown of RESULTS.md's comparison section: medians per (workload, peer), one table per
/// workload with this log's ratio to each peer, and notes for what did not run. Pure: no I/O, no clock.
/// </summary>
public static class ComparisonReport
{
    /// <summary>The command that regenerates the section, quoted in it.</summary>
    public const string RegenerateCommand = "dotnet run -c Release --project perf/Aletheia.Wal.Unsafe.Perf -- compare";

    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    /// <summary>Groups <paramref name="results"/> by (workload, peer) and takes the median of each figure over the successful runs.</summary>
    public static IReadOnlyList<PeerSummary> Summarize(IEnumerable<RunResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var summaries = new List<PeerSummary>();
        foreach (IGrouping<(string Workload, string Peer), RunResult> group in results.GroupBy(r => (r.Workload, r.Peer)))
        {
            RunResult[] ok = group.Where(r => r.Status == RunStatus.Ok).ToArray();
            // Rounds that went wrong the same way share one line: "rounds 1, 2: skipped: ...".
            string[] problems = group
                .Where(r => r.Status != RunStatus.Ok)
                .GroupBy(r => $"{Describe(r.Status)}{(r.Error is null ? "" : ": " + r.Error)}")
                .Select(g => (Rounds: g.Select(r => r.Round).Order().ToArray(), What: g.Key))
                .OrderBy(p => p.Rounds[0])
                .Select(p => string.Create(s_inv, $"{(p.Rounds.Length == 1 ? "round" : "rounds")} {string.Join(", ", p.Rounds)}: {p.What}"))
                .ToArray();
            summaries.Add(new PeerSummary(
                group.Key.Workload,
                group.Key.Peer,
                ok.Length,
                group.Count(),
                MedianOf(ok, r => r.RecordsPerSecond),
                MedianOf(ok, r => r.MegabytesPerSecond),
                MedianOf(ok, r => r.P50Micros),
                MedianOf(ok, r => r.P99Micros),
                MedianOf(ok, r => r.BytesPerAppend),
                MedianOf(ok, r => r.Seconds),
                problems));
        }

        return summaries;
    }

    /// <summary>The section's body (without its markers): header, one table per workload of <paramref name="workloads"/>, the peers.</summary>
    public static string Format(ReportHeader header, IReadOnlyList<WorkloadInfo> workloads, IReadOnlyList<PeerSummary> summaries)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(workloads);
        ArgumentNullException.ThrowIfNull(summaries);
        var text = new StringBuilder();
        text.AppendLine("## Side by side: every workload against every peer");
        text.AppendLine();
        text.AppendLine(s_inv, $"This section is written by `{RegenerateCommand}` (options: `--help`), which replaces everything between its two markers and leaves the rest of this file alone; `--out FILE` writes it elsewhere, `--dry` prints it.");
        text.AppendLine();
        text.AppendLine(s_inv, $"Generated {header.Date} by `{header.CommandLine}`.");
        text.AppendLine();
        foreach (string line in header.Machine)
        {
            text.AppendLine(s_inv, $"- {line}");
        }

        text.AppendLine();
        text.AppendLine(header.Method);
        text.AppendLine();

        var byKey = summaries.ToDictionary(s => (s.Workload, s.Peer));
        foreach (WorkloadInfo workload in workloads)
        {
            FormatWorkload(text, workload, byKey);
        }

        text.AppendLine("### The peers");
        text.AppendLine();
        foreach ((string peer, string description) in WorkloadCatalog.PeerDescriptions)
        {
            text.AppendLine(s_inv, $"- **{peer}**: {description}");
        }

        return text.ToString();
    }

    /// <summary>A figure as the tables print it: thousands separated, one decimal below 100 (none at or above), "-" when missing.</summary>
    public static string Number(double? value) => value switch
    {
        null => "-",
        { } v when Math.Abs(v) >= 100 => v.ToString("N0", s_inv),
        { } v => v.ToString("N1", s_inv),
    };

    /// <summary>A ratio as the tables print it ("1.23x"), "-" when missing.</summary>
    public static string RatioText(double? ratio) => ratio is { } r ? r.ToString("F2", s_inv) + "x" : "-";

    private static void FormatWorkload(StringBuilder text, WorkloadInfo workload, Dictionary<(string, string), PeerSummary> byKey)
    {
        text.AppendLine(s_inv, $"### {workload.Title}");
        text.AppendLine();
        var header = new List<string> { "peer" };
        var align = new List<string> { "---" };
        void Column(Columns flag, string name)
        {
            if (workload.Columns.HasFlag(flag))
            {
                header.Add(name);
                align.Add("---:");
            }
        }

        Column(Columns.RecordsPerSecond, "records/s");
        Column(Columns.MegabytesPerSecond, "MB/s");
        if (workload.Columns.HasFlag(Columns.Latency))
        {
            header.Add("p50 (us)");
            header.Add("p99 (us)");
            align.Add("---:");
            align.Add("---:");
        }

        Column(Columns.BytesPerAppend, "B/append");
        Column(Columns.Seconds, "seconds");
        header.Add($"{WorkloadCatalog.ThisLog} / peer");
        align.Add("---:");
        header.Add("runs ok");
        align.Add("---:");
        text.AppendLine("| " + string.Join(" | ", header) + " |");
        text.AppendLine("| " + string.Join(" | ", align) + " |");

        byKey.TryGetValue((workload.Name, WorkloadCatalog.ThisLog), out PeerSummary? ours);
        double? ourFigure = ours?.Get(workload.Primary);
        var notes = new List<string>();
        int NoteFor(string note)
        {
            if (!notes.Contains(note))
            {
                notes.Add(note);
            }

            return notes.IndexOf(note) + 1;
        }

        foreach (string peer in workload.Peers)
        {
            var cells = new List<string> { peer == WorkloadCatalog.ThisLog ? $"**{peer}**" : peer };
            if (workload.Unsupported.TryGetValue(peer, out string? reason))
            {
                // Peers not run for the same reason share one note: "channel, faster: not run: ...".
                string sharing = string.Join(", ", workload.Peers.Where(p => workload.Unsupported.GetValueOrDefault(p) == reason));
                cells.AddRange(Enumerable.Repeat("-", header.Count - 2));
                cells.Add(string.Create(s_inv, $"not run (note {NoteFor($"{sharing}: not run: {reason}.")})"));
                text.AppendLine("| " + string.Join(" | ", cells) + " |");
                continue;
            }

            byKey.TryGetValue((workload.Name, peer), out PeerSummary? summary);
            AddFigures(cells, workload, summary);
            cells.Add(peer == WorkloadCatalog.ThisLog ? "" : RatioText(Statistics.Ratio(ourFigure, summary?.Get(workload.Primary))));
            string runs = summary is null ? "not run" : string.Create(s_inv, $"{summary.Succeeded}/{summary.Runs}");
            if (summary is { Problems.Count: > 0 })
            {
                runs += string.Create(s_inv, $" (note {NoteFor($"{peer}: {string.Join("; ", summary.Problems)}.")})");
            }

            cells.Add(runs);
            text.AppendLine("| " + string.Join(" | ", cells) + " |");
        }

        if (workload.Reference is { } reference)
        {
            byKey.TryGetValue((reference.Workload, reference.Peer), out PeerSummary? referenced);
            var cells = new List<string> { $"*{reference.Label}*" };
            AddFigures(cells, workload, referenced is null ? null : referenced with
            {
                // Only the figure the ratio is taken on carries over: the reference's latency is of another operation.
                RecordsPerSecond = workload.Primary == Figure.RecordsPerSecond ? referenced.RecordsPerSecond : null,
                P50Micros = null,
                P99Micros = null,
                BytesPerAppend = null,
                Seconds = null,
            });
            cells.Add(RatioText(Statistics.Ratio(ourFigure, referenced?.Get(workload.Primary))));
            cells.Add(referenced is null ? "not run" : string.Create(s_inv, $"{referenced.Succeeded}/{referenced.Runs}"));
            text.AppendLine("| " + string.Join(" | ", cells) + " |");
        }

        text.AppendLine();
        for (int i = 0; i < notes.Count; i++)
        {
            text.AppendLine(s_inv, $"{i + 1}. {notes[i]}");
        }

        if (notes.Count > 0)
        {
            text.AppendLine();
        }
    }

    private static void AddFigures(List<string> cells, WorkloadInfo workload, PeerSummary? summary)
    {
        if (workload.Columns.HasFlag(Columns.RecordsPerSecond))
        {
            cells.Add(Number(summary?.RecordsPerSecond));
        }

        if (workload.Columns.HasFlag(Columns.MegabytesPerSecond))
        {
            cells.Add(Number(summary?.MegabytesPerSecond));
        }

        if (workload.Columns.HasFlag(Columns.Latency))
        {
            cells.Add(Number(summary?.P50Micros));
            cells.Add(Number(summary?.P99Micros));
        }

        if (workload.Columns.HasFlag(Columns.BytesPerAppend))
        {
            cells.Add(Number(summary?.BytesPerAppend));
        }

        if (workload.Columns.HasFlag(Columns.Seconds))
        {
            cells.Add(summary?.Seconds is { } s ? s.ToString("F2", s_inv) : "-");
        }
    }

    private static double? MedianOf(IEnumerable<RunResult> runs, Func<RunResult, double?> figure) =>
        Statistics.Median(runs.Select(figure).Where(v => v.HasValue).Select(v => v!.Value));

    private static string Describe(RunStatus status) => status switch
    {
        RunStatus.Failed => "failed",
        RunStatus.TimedOut => "timed out",
        RunStatus.Skipped => "skipped",
        _ => "ok",
    };
}
