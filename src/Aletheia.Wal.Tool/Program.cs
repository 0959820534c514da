using Spectre.Console;

namespace Aletheia.Wal.Tool;

/// <summary>The entry point of <c>aletheia-wal</c>: every command runs through <see cref="WalTool.Run"/>.</summary>
internal static class Program
{
    /// <summary>Output redirected to a file or a pipe is laid out this wide (Spectre.Console would take 80 columns).</summary>
    private const int RedirectedWidth = 240;

    public static int Main(string[] args)
    {
        IAnsiConsole console = AnsiConsole.Console;
        IAnsiConsole errors = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsOutputRedirected)
        {
            console.Profile.Width = RedirectedWidth; // tables of a file or a pipe are not wrapped at 80 columns
        }

        return WalTool.Run(args, console, errors);
    }
}
