namespace Aletheia.Wal.Ring;

/// <summary>A published data record as the consumer sees it, in place in the ring (nothing is copied).</summary>
internal readonly unsafe struct RingRecord
{
    internal RingRecord(long position, long next, byte* body, int length)
    {
        Position = position;
        Next = next;
        Body = body;
        Length = length;
    }

    /// <summary>The ring position of the record's header.</summary>
    public long Position { get; }

    /// <summary>The ring position right after the record.</summary>
    public long Next { get; }

    /// <summary>The body, valid until the consumer releases past <see cref="Position"/>.</summary>
    public byte* Body { get; }

    public int Length { get; }

    public ReadOnlySpan<byte> Span => new(Body, Length);
}
