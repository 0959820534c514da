namespace Aletheia.Wal.Ring;

/// <summary>
/// Space a producer reserved: it writes exactly <see cref="Length"/> bytes at <see cref="Body"/> and then
/// calls <see cref="ByteRing.Publish"/> or <see cref="ByteRing.Abandon"/>, exactly once.
/// </summary>
internal readonly unsafe struct RingReservation
{
    internal RingReservation(RingRecordHeader* header, int length)
    {
        Header = header;
        Length = length;
    }

    internal RingRecordHeader* Header { get; }

    /// <summary>The body: <see cref="Length"/> bytes, 8-byte aligned, owned by the reserving producer until it publishes.</summary>
    public byte* Body => (byte*)(Header + 1);

    public int Length { get; }

    public Span<byte> Span => new(Body, Length);
}
