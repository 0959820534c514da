using Spectre.Console;

namespace Aletheia.Wal.Tool;

/// <summary>The entry point of <c>aletheia-wal</c>: every command runs through <see cref="WalTool.Run"/>.</summary>
internal static class Program
{
    public static int Main(string[] args) =>
        WalTool.Run(args, AnsiConsole.Console, AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }));
}
