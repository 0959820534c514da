using System.Runtime.InteropServices;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The 24-byte header in front of the frames of one write. Every write the flush thread makes is exactly one batch
/// (after the segment header, for the first write into a segment), so recovery knows where each write began and ended:
/// damage inside the last batch is an interrupted write; damage in an earlier batch is corruption.
/// </summary>
/// <remarks>
/// <code>
/// offset  0  Tag          4 bytes  0x80000000 | byte length of the frames that follow (bit 31 tells it from a frame)
/// offset  4  Crc          4 bytes  CRC-32C over bytes [0, 4) and [8, 24)
/// offset  8  FirstLsn     8 bytes  LSN of the first frame of the batch
/// offset 16  RecordCount  4 bytes  frames in the batch
/// offset 20  Reserved     4 bytes  0
/// </code>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct BatchHeader
{
    public const int Size = 24;
    public const uint TagBit = 1u << 31;

    /// <summary>The largest frame bytes one batch describes (bit 31 is the tag).</summary>
    public const int MaxBytes = int.MaxValue;

    [FieldOffset(0)]
    public uint Tag;

    [FieldOffset(4)]
    public uint Crc;

    [FieldOffset(8)]
    public ulong FirstLsn;

    [FieldOffset(16)]
    public uint RecordCount;

    [FieldOffset(20)]
    public uint Reserved;

    public readonly int FrameBytes => (int)(Tag & ~TagBit);

    public static unsafe void Write(byte* destination, int frameBytes, ulong firstLsn, int recordCount)
    {
        var header = (BatchHeader*)destination;
        header->Tag = TagBit | (uint)frameBytes;
        header->FirstLsn = firstLsn;
        header->RecordCount = (uint)recordCount;
        header->Reserved = 0;
        header->Crc = ComputeCrc(destination);
    }

    /// <summary>Reads a batch header and checks its tag and CRC.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out BatchHeader header)
    {
        header = MemoryMarshal.Read<BatchHeader>(source);
        return (header.Tag & TagBit) != 0
            && header.Reserved == 0
            && header.Crc == ComputeCrc(source);
    }

    private static unsafe uint ComputeCrc(ReadOnlySpan<byte> header)
    {
        fixed (byte* p = header)
        {
            return ComputeCrc(p);
        }
    }

    /// <summary>CRC-32C over bytes [0, 4) and [8, 24): every field but the CRC itself (as <see cref="FrameHeader.ComputeCrc"/>).</summary>
    private static unsafe uint ComputeCrc(byte* header)
    {
        uint crc = Crc32C.Update(Crc32C.Seed, header, sizeof(uint));
        return ~Crc32C.Update(crc, header + 8, Size - 8);
    }

}
