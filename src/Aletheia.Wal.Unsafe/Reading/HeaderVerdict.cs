namespace Aletheia.Wal.Reading;

internal enum HeaderVerdict
{
    /// <summary>A valid segment header.</summary>
    Valid,

    /// <summary>All zero (or an empty file): a segment prepared and never used.</summary>
    Empty,

    /// <summary>Not zero and not valid.</summary>
    Damaged,
}
