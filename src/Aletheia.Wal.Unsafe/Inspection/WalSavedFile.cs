namespace Aletheia.Wal;

/// <summary>Bytes a repair saved before recovery cut or deleted them (<see cref="WalRepairReport.Saved"/>).</summary>
public sealed class WalSavedFile
{
    internal WalSavedFile()
    {
    }

    /// <summary>The log's file the bytes came from.</summary>
    public string SourcePath { get; internal init; } = "";

    /// <summary>
    /// Where in it they started: the file's bytes from here, <see cref="Bytes"/> of them, were saved; recovery changed
    /// none after them (for a deleted file and <c>wal.head</c>: 0, the whole file).
    /// </summary>
    public long Offset { get; internal init; }

    /// <summary>How many bytes were saved.</summary>
    public long Bytes { get; internal init; }

    /// <summary>The side file holding them (in the backup directory).</summary>
    public string BackupPath { get; internal init; } = "";

    /// <summary>What recovery did to the source: <see cref="WalFileChangeKind.Deleted"/> or <see cref="WalFileChangeKind.Rewritten"/>.</summary>
    public WalFileChangeKind Change { get; internal init; }
}
