namespace Aletheia.Wal;

/// <summary>What recovery at open does to a file (<see cref="WalFileChange.Kind"/>).</summary>
public enum WalFileChangeKind
{
    /// <summary>Bytes from <see cref="WalFileChange.Offset"/> on are changed (zeroed, or a new end marker or header written), or the file's length is.</summary>
    Rewritten,

    /// <summary>The file is deleted.</summary>
    Deleted,

    /// <summary>The file is renamed to <see cref="WalFileChange.NewPath"/> (a segment below the head becomes a recycled file); its bytes stay.</summary>
    Renamed,

    /// <summary>A file is created.</summary>
    Created,
}
