namespace Aletheia.Wal.Tool;

/// <summary>A command's failure with its own exit code and line (<c>aletheia-wal: {message}</c>), thrown to <see cref="WalTool.Run"/>.</summary>
internal sealed class ToolException(int exitCode, string message) : Exception(message)
{
    /// <summary>One of <see cref="WalTool"/>'s exit codes.</summary>
    public int ExitCode { get; } = exitCode;
}
