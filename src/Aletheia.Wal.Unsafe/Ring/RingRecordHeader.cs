using System.Runtime.InteropServices;

namespace Aletheia.Wal.Ring;

/// <summary>
/// The 8-byte header in front of every ring record. A record occupies <c>align8(8 + body length)</c> bytes and
/// never wraps: a record that would cross the end of the record area is preceded by a padding record.
/// </summary>
/// <remarks>
/// <code>
/// offset 0  State        4 bytes  0 = reserved, not published; else Published | [Skip] | body length
/// offset 4  ClaimedSize  4 bytes  0 until the reserving producer stores the record's size, right after its claim
/// </code>
/// Both words are 0 in free space: the consumer zeroes space before giving it back to producers.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct RingRecordHeader
{
    public const int Size = 8;

    /// <summary>Set in <see cref="State"/> by the one release store that publishes a record.</summary>
    public const uint Published = 1u << 31;

    /// <summary>Set with <see cref="Published"/> on padding and abandoned records: the consumer skips them.</summary>
    public const uint Skip = 1u << 30;

    /// <summary>Bits of <see cref="State"/> holding the body length.</summary>
    public const uint LengthMask = Skip - 1;

    /// <summary>The publication word: written last, with release semantics, by the producer that reserved the record.</summary>
    [FieldOffset(0)]
    public uint State;

    /// <summary>
    /// The ring bytes the record occupies, <c>align8(8 + body length)</c> (never 0), stored by the reserving producer
    /// right after its claim and before it writes the body; 0 before that. Lets the consumer's scan step over a record
    /// that is reserved and not yet published (<see cref="ByteRing.TryReadOverReservations"/>). Padding records, published
    /// right after their claim, leave it 0.
    /// </summary>
    [FieldOffset(4)]
    public uint ClaimedSize;

    /// <summary>The ring bytes a record with a body of <paramref name="bodyLength"/> bytes occupies.</summary>
    public static int RecordSize(int bodyLength) => (Size + bodyLength + 7) & ~7;
}
