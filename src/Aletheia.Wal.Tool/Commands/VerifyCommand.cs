using System.CommandLine;
using Spectre.Console;

namespace Aletheia.Wal.Tool.Commands;

/// <summary><c>verify DIR [--mode M]</c>: the verdict of recovery at open, without changing anything.</summary>
internal static class VerifyCommand
{
    public static Command Create(IAnsiConsole console) =>
        LogArguments.WithDirectoryAndMode(
            "verify",
            "Read every segment as recovery at open would and say whether the log is healthy, changing nothing. Exit code 0 for a healthy " +
            "log, 1 for damage (with the segment, the offset and the verdict), 3 when there is no log or a writer has it open, 4 for damage " +
            "recovery repairs without losing a record.",
            "The recovery mode to judge the log by, as WalOptions.RecoveryMode: TruncateTornTail (default), PointInTime or Strict.",
            (directory, mode) => Run(console, directory, mode));

    private static int Run(IAnsiConsole console, string directory, WalRecoveryMode mode)
    {
        WalInspectionReport report = ProgressInspection.Inspect(console, directory, mode);
        TextWriter output = console.Profile.Out.Writer;
        output.WriteLine(Verdicts.Headline(report));
        output.WriteLine($"  {Verdicts.Consequence(report)}");
        foreach (string line in Verdicts.RepairableDamage(report))
        {
            output.WriteLine(line);
        }
        if (report.Action != WalRecoveryAction.Refuse)
        {
            output.WriteLine($"  {Verdicts.End(report)}");
            foreach (string change in Verdicts.Changes(report))
            {
                output.WriteLine($"  recovery at open {change}");
            }
        }

        return Verdicts.ExitCode(report);
    }
}
