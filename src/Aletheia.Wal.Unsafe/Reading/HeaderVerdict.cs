namespace Aletheia.Wal.Reading;

/// <summary>What the first 64 bytes of a segment file are.</summary>
internal enum HeaderVerdict
{
    /// <summary>A valid segment header (CRC, magic, size; the version is the caller's to check).</summary>
    Valid,

    /// <summary>All zero: a segment prepared and never used, unless what follows says otherwise.</summary>
    Empty,

    /// <summary>Not zero and not valid.</summary>
    Damaged,

    /// <summary>
    /// The file is shorter than a header, even empty: it was cut short. The log never leaves such a file (segments are
    /// prepared at full size under another name), and one that held writes may have lost them all.
    /// </summary>
    Short,
}
