namespace Aletheia.Wal.Reading;

internal enum BatchVerdict
{
    /// <summary>A valid batch header continuing the log.</summary>
    Valid,

    /// <summary>Zeros (or the end of the file): the segment's data ends here.</summary>
    End,

    /// <summary>A valid batch header from an earlier use of a recycled file: the segment's data ends here.</summary>
    Stale,

    /// <summary>Not zero and not a valid continuation.</summary>
    Damaged,
}
