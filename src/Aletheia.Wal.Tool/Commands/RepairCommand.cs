using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using static Aletheia.Wal.Tool.Commands.Verdicts;

namespace Aletheia.Wal.Tool.Commands;

/// <summary><c>repair DIR [--mode M] [--backup DIR]</c>: what recovery at open does, after saving every byte it cuts or deletes.</summary>
internal static class RepairCommand
{
    public static Command Create(IAnsiConsole console)
    {
        Argument<string> directory = LogArguments.Directory();
        Option<WalRecoveryMode> mode = LogArguments.Mode("The recovery mode to repair the log by: TruncateTornTail (default) cuts a torn tail, PointInTime any damage, Strict none.");
        var backup = new Option<string>("--backup")
        {
            Description = "Where to save the bytes recovery cuts or deletes, outside the log directory, new or empty (default: DIR.repair-<UTC time>, beside DIR).",
        };
        var command = new Command(
            "repair",
            "Do to the log exactly what recovery at open in the mode does (cut the first damage, complete a pending TruncateAfter, delete what follows " +
            "a cut), after saving every byte it cuts or deletes, and wal.head, to side files. Exit code 0 when repaired or healthy, 1 when the mode " +
            "refuses the damage (nothing is saved or changed), 3 when there is no log or a writer has it open.")
        {
            directory,
            mode,
            backup,
        };
        command.SetAction(parsed => Run(console, parsed.GetValue(directory)!, parsed.GetValue(mode), parsed.GetValue(backup)));
        return command;
    }

    private static int Run(IAnsiConsole console, string directory, WalRecoveryMode mode, string? backup)
    {
        string log = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        backup ??= $"{log}.repair-{DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}";
        WalRepairReport repair;
        try
        {
            repair = WalInspection.Repair(log, mode, backup);
        }
        catch (WalCorruptionException e)
        {
            throw new ToolException(WalTool.Damaged, $"{e.Message} ({mode} refuses it: nothing was saved or changed)");
        }

        WalInspectionReport report = repair.Inspection;
        TextWriter output = console.Profile.Out.Writer;
        output.WriteLine(Headline(report));
        if (!repair.Changed)
        {
            output.WriteLine($"  nothing to repair in {mode}: nothing saved, nothing changed; {Records(report)}");
            return WalTool.Ok;
        }

        string dropped = repair.DroppedFrom == Lsn.None ? "no record dropped"
            : repair.DroppedTo == Lsn.None ? Invariant($"dropped from LSN {repair.DroppedFrom} on")
            : Invariant($"dropped from LSN {repair.DroppedFrom} to {repair.DroppedTo}");
        output.WriteLine($"  repaired in {mode}: {dropped}; kept {Records(report)}");
        output.WriteLine(Invariant($"  saved {repair.Saved.Count} file{(repair.Saved.Count == 1 ? "" : "s")} ({repair.BytesSaved} bytes) in {repair.BackupDirectory}:"));
        var table = new Table { Border = TableBorder.Ascii };
        table.AddColumn(new TableColumn("side file").NoWrap());
        table.AddColumn(new TableColumn("bytes").RightAligned().NoWrap());
        table.AddColumn(new TableColumn("what it holds").NoWrap());
        foreach (WalSavedFile saved in repair.Saved)
        {
            string what = saved.Change == WalFileChangeKind.Deleted
                ? $"{Path.GetFileName(saved.SourcePath)}, deleted"
                : Invariant($"{Path.GetFileName(saved.SourcePath)} from byte {saved.Offset}, rewritten");
            table.AddRow(Markup.Escape(Path.GetFileName(saved.BackupPath)), Invariant($"{saved.Bytes}"), Markup.Escape(what));
        }

        console.Write(table);
        return WalTool.Ok;
    }
}
