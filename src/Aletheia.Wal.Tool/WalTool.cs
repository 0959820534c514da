using System.CommandLine;
using Aletheia.Wal.Tool.Commands;
using Spectre.Console;

namespace Aletheia.Wal.Tool;

/// <summary>
/// The commands of <c>aletheia-wal</c> and their exit codes. Tests call <see cref="Run"/> with recording consoles, the
/// same way <see cref="Program.Main"/> does with the terminal.
/// </summary>
internal static class WalTool
{
    /// <summary>Success: the command did what it was asked, and a log it judged is healthy (or was repaired).</summary>
    public const int Ok = 0;

    /// <summary>The log is damaged: <c>verify</c> or <c>stats</c> found damage, <c>dump</c> met damage its mode refuses, or <c>repair</c> was refused in its mode.</summary>
    public const int Damaged = 1;

    /// <summary>The command line was wrong (unknown command or option, bad value): nothing was done.</summary>
    public const int UsageError = 2;

    /// <summary>The command could not run: the directory is missing or holds no log, a writer holds the log, a file cannot be read or written.</summary>
    public const int CouldNotRun = 3;

    /// <summary>
    /// The log is whole, but <c>verify</c> or <c>stats</c> found damage that recovery at open repairs without losing a record
    /// (a damaged copy of <c>wal.head</c>, a damaged end marker the next segment makes good): bytes on the disk went bad.
    /// </summary>
    public const int RepairableDamage = 4;

    /// <summary>The tool's name, first on every error line.</summary>
    public const string Name = "aletheia-wal";

    /// <summary>The exit codes, as the root command's help lists them.</summary>
    internal static readonly string ExitCodes =
        $"Exit codes: {Ok} ok (a judged log is healthy, or was repaired); {Damaged} the log is damaged (verify or stats found damage, dump met damage its " +
        $"mode refuses, repair was refused in its mode); {UsageError} usage error (bad command, option or value); {CouldNotRun} could not run (no such " +
        "directory or no log in it, the log is open by a writer, an I/O error); {RepairableDamage} the log is whole, but verify or stats found damage recovery at " +
        "open repairs without losing a record (a damaged copy of wal.head, a damaged end marker): bytes on the disk went bad.";

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command: its output goes to <paramref name="console"/>, errors (one line
    /// each, <c>aletheia-wal: ...</c>) to <paramref name="errors"/> (the same console when null).
    /// </summary>
    /// <returns>The exit code: <see cref="Ok"/>, <see cref="Damaged"/>, <see cref="UsageError"/> or <see cref="CouldNotRun"/>.</returns>
    public static int Run(string[] args, IAnsiConsole console, IAnsiConsole? errors = null)
    {
        errors ??= console;
        var root = new RootCommand($"aletheia-wal: run the benchmark tour and look inside Aletheia.Wal.Unsafe log directories.\n\n{ExitCodes}") { HelpName = Name };
        root.Subcommands.Add(DumpCommand.Create(console));
        root.Subcommands.Add(VerifyCommand.Create(console));
        root.Subcommands.Add(StatsCommand.Create(console));
        root.Subcommands.Add(RepairCommand.Create(console));
        root.Subcommands.Add(BenchCommand.Create(console));

        ParseResult parsed = root.Parse(args);
        TextWriter output = console.Profile.Out.Writer;
        TextWriter error = errors.Profile.Out.Writer;
        if (parsed.Errors.Count > 0 && parsed.Action is not { ClearsParseErrors: true })
        {
            // System.CommandLine would print them with the help and return 1; a usage error is 2 here, one line each.
            foreach (System.CommandLine.Parsing.ParseError parseError in parsed.Errors)
            {
                error.WriteLine($"{Name}: {parseError.Message}");
            }

            error.WriteLine($"{Name}: see '{Name} {string.Join(' ', Commands(parsed))} --help'.".Replace("  ", " ", StringComparison.Ordinal));
            return UsageError;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (ExitCodeOf(e) is int code)
        {
            error.WriteLine($"{Name}: {OneLine(e)}");
            return code;
        }
    }

    /// <summary>The exit code for an exception a command let through; null for a bug (it goes up with its stack trace).</summary>
    private static int? ExitCodeOf(Exception e) => e switch
    {
        ToolException tool => tool.ExitCode,
        WalCorruptionException => Damaged,
        ArgumentException => UsageError,
        WalException or IOException or UnauthorizedAccessException or OperationCanceledException => CouldNotRun,
        _ => null,
    };

    /// <summary>An exception's message on one line, without the parameter name <see cref="ArgumentException"/> appends.</summary>
    internal static string OneLine(Exception e)
    {
        string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
        return string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static IEnumerable<string> Commands(ParseResult parsed)
    {
        var names = new List<string>();
        for (System.CommandLine.Parsing.SymbolResult? result = parsed.CommandResult; result is System.CommandLine.Parsing.CommandResult { Command: var command } current; result = current.Parent)
        {
            if (command is not RootCommand)
            {
                names.Insert(0, command.Name);
            }
        }

        return names;
    }
}
