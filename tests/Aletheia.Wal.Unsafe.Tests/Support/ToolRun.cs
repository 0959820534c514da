using Aletheia.Wal.Tool;
using Spectre.Console.Testing;

namespace Aletheia.Wal.Tests.Support;

/// <summary>Runs <c>aletheia-wal</c> through its entry point (<see cref="WalTool.Run"/>) with recording consoles, 1000 columns wide.</summary>
internal static class ToolRun
{
    /// <summary>Runs the tool; its exit code, its output and its errors, each line ending in a newline.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => Run(new TestConsole(), args);

    /// <summary>As <see cref="Run(string[])"/>, on <paramref name="console"/> (an interactive one, say), which it disposes.</summary>
    public static (int Code, string Out, string Err) Run(TestConsole console, params string[] args)
    {
        console.Width(1000);
        using var errors = new TestConsole();
        errors.Width(1000);
        int code = WalTool.Run(args, console, errors);
        string output = console.Output.Replace("\r\n", "\n", StringComparison.Ordinal);
        console.Dispose();
        return (code, output, errors.Output.Replace("\r\n", "\n", StringComparison.Ordinal));
    }
}
