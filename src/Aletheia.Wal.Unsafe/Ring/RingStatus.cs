namespace Aletheia.Wal.Ring;

/// <summary>The outcome of an append or reservation on a ring.</summary>
internal enum RingStatus
{
    /// <summary>The space is reserved (and, for an append, the record published).</summary>
    Success = 0,

    /// <summary>Not enough free space now (or before the timeout of a blocking call).</summary>
    Full = 1,

    /// <summary>The ring is closed: it takes no more records.</summary>
    Closed = 2,
}
