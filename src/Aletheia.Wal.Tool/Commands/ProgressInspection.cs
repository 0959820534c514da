using Spectre.Console;

namespace Aletheia.Wal.Tool.Commands;

/// <summary>An inspection for a command: with a progress bar on an interactive console when the log is large, plain otherwise.</summary>
internal static class ProgressInspection
{
    /// <summary>Segment files of at least this many bytes in all get a progress bar (on an interactive console).</summary>
    public const long ProgressBarBytes = 64L << 20;

    /// <summary>
    /// <see cref="WalInspection.Inspect(string, WalRecoveryMode, IProgress{long}?, CancellationToken)"/>, with a progress
    /// bar of the bytes read over the segment files' bytes.
    /// </summary>
    /// <exception cref="ToolException">The directory holds no log (exit code <see cref="WalTool.CouldNotRun"/>).</exception>
    public static WalInspectionReport Inspect(IAnsiConsole console, string directory, WalRecoveryMode mode)
    {
        long total = SegmentBytes(directory);
        WalInspectionReport report;
        if (!console.Profile.Capabilities.Interactive || total < ProgressBarBytes)
        {
            report = WalInspection.Inspect(directory, mode);
        }
        else
        {
            WalInspectionReport? done = null;
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(context =>
                {
                    ProgressTask task = context.AddTask($"reading {Markup.Escape(Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))))}", maxValue: total);
                    done = WalInspection.Inspect(directory, mode, new TaskProgress(task, total));
                    task.Value = total;
                });
            report = done!;
        }

        return report.Verdict == WalVerdict.NoLog
            ? throw new ToolException(WalTool.CouldNotRun, $"no log in {report.Directory}: it holds no wal.head and no segment file")
            : report;
    }

    private static long SegmentBytes(string directory)
    {
        try
        {
            return new DirectoryInfo(directory).EnumerateFiles("*.wal").Sum(f => f.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0; // the inspection reports it
        }
    }

    /// <summary>Moves the bar as bytes are read (more may be read than the files hold: recovery reads some twice).</summary>
    private sealed class TaskProgress(ProgressTask task, long total) : IProgress<long>
    {
        public void Report(long value) => task.Value = Math.Min(value, total);
    }
}
