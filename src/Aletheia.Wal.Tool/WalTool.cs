using System.CommandLine;
using Spectre.Console;

namespace Aletheia.Wal.Tool;

/// <summary>
/// The commands of <c>aletheia-wal</c> and their exit codes. Tests call <see cref="Run"/> with a recording console, the
/// same way <see cref="Program.Main"/> does with the terminal.
/// </summary>
internal static class WalTool
{
    /// <summary>Success: the command did what it was asked, and a verified log is healthy.</summary>
    public const int Ok = 0;

    /// <summary>The command line was wrong (unknown command or option, bad value): nothing was done.</summary>
    public const int UsageError = 2;

    public static int Run(string[] args, IAnsiConsole console)
    {
        var root = new RootCommand("aletheia-wal: run the benchmark tour and look inside Aletheia.Wal.Unsafe log directories.");
        root.Add(Commands.BenchCommand.Create(console));
        ParseResult parsed = root.Parse(args);
        TextWriter writer = console.Profile.Out.Writer;
        return parsed.Invoke(new InvocationConfiguration { Output = writer, Error = writer });
    }
}
