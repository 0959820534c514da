namespace Aletheia.Wal;

/// <summary>One change recovery at open makes to a file of the log directory (<see cref="WalInspectionReport.Changes"/>).</summary>
public sealed class WalFileChange
{
    internal WalFileChange()
    {
    }

    /// <summary>The file's full path, as it is now.</summary>
    public string Path { get; internal init; } = "";

    /// <summary>What is done to it.</summary>
    public WalFileChangeKind Kind { get; internal init; }

    /// <summary>For <see cref="WalFileChangeKind.Rewritten"/>, the first byte that changes; else 0.</summary>
    public long Offset { get; internal init; }

    /// <summary>The file's length now (0 for <see cref="WalFileChangeKind.Created"/>).</summary>
    public long FileBytes { get; internal init; }

    /// <summary>The name it gets (<see cref="WalFileChangeKind.Renamed"/>, or a file rewritten after its rename); else null.</summary>
    public string? NewPath { get; internal init; }
}
