namespace Aletheia.Wal;

/// <summary>What <see cref="WalInspection.Repair(WalOptions, string)"/> did.</summary>
public sealed class WalRepairReport
{
    internal WalRepairReport()
    {
    }

    /// <summary>The inspection the repair acted on (its verdict, the damage, and the changes recovery made).</summary>
    public WalInspectionReport Inspection { get; internal init; } = null!;

    /// <summary>False when recovery had nothing to change: nothing was saved, nothing changed on disk.</summary>
    public bool Changed { get; internal init; }

    /// <summary>The directory the side files were written to (created only when something was saved).</summary>
    public string BackupDirectory { get; internal init; } = "";

    /// <summary>Every range of bytes saved before recovery cut or deleted it, and every <c>wal.head</c> it rewrote.</summary>
    public IReadOnlyList<WalSavedFile> Saved { get; internal init; } = [];

    /// <summary>The bytes saved, in all.</summary>
    public long BytesSaved { get; internal init; }

    /// <summary>The first LSN the repair dropped (as <see cref="WalMetrics.RecoveryDroppedFrom"/> reports it); <see cref="Lsn.None"/> if none.</summary>
    public Lsn DroppedFrom { get; internal init; }

    /// <summary>The highest dropped LSN something intact spoke of (as <see cref="WalMetrics.RecoveryDroppedTo"/>); <see cref="Lsn.None"/> if none.</summary>
    public Lsn DroppedTo { get; internal init; }
}
