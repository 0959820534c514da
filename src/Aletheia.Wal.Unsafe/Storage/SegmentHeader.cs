using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Storage;

/// <summary>The 64-byte header at offset 0 of every used segment file; frames follow at offset 64.</summary>
/// <remarks>
/// <code>
/// offset  0  Magic          8 bytes  "ALTHWAL\n" (0x0A4C415748544C41 little-endian)
/// offset  8  FormatVersion  4 bytes  1
/// offset 12  HeaderSize     4 bytes  64
/// offset 16  SegmentNumber  8 bytes  the number in the file name
/// offset 24  FirstLsn       8 bytes  LSN of the first frame in this segment
/// offset 32  LogId          8 bytes  random, chosen when the log was created; the same in every segment
/// offset 40  Salt           8 bytes  random, chosen each time the file is (re)used as a segment
/// offset 48  SegmentSize    8 bytes  the file's length when it was prepared
/// offset 56  MaxWriteBytes  4 bytes  the largest single write the writer makes (bounds a torn write)
/// offset 60  Crc            4 bytes  CRC-32C of bytes [0, 60)
/// </code>
/// All integers are little-endian. A segment whose 64 header bytes are all zero was prepared but never used.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct SegmentHeader
{
    public const int Size = 64;

    /// <summary>
    /// A segment's first write holds at most this many bytes before its terminator, unless it holds a single frame. So
    /// a torn first write that lost the sector with the segment header (which leaves no record of its writer's write
    /// size) cannot have left frames a reader could find beyond this plus the terminator.
    /// </summary>
    public const int FirstWriteMaxBytes = 1 << 20;

    public const ulong MagicValue = 0x0A4C415748544C41; // "ALTHWAL\n"
    public const uint CurrentFormatVersion = 1;

    [FieldOffset(0)]
    public ulong Magic;

    [FieldOffset(8)]
    public uint FormatVersion;

    [FieldOffset(12)]
    public uint HeaderSize;

    [FieldOffset(16)]
    public ulong SegmentNumber;

    [FieldOffset(24)]
    public ulong FirstLsn;

    [FieldOffset(32)]
    public ulong LogId;

    [FieldOffset(40)]
    public ulong Salt;

    [FieldOffset(48)]
    public ulong SegmentSize;

    [FieldOffset(56)]
    public uint MaxWriteBytes;

    [FieldOffset(60)]
    public uint Crc;

    /// <summary>Writes a sealed header (CRC included) into <paramref name="destination"/>.</summary>
    public static void Write(Span<byte> destination, ulong segmentNumber, ulong firstLsn, ulong logId, ulong salt, ulong segmentSize, uint maxWriteBytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, MagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], CurrentFormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], segmentNumber);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], firstLsn);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], logId);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], salt);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[48..], segmentSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[56..], maxWriteBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[60..], Crc32C.Compute(destination[..60]));
    }

    /// <summary>Reads and checks a header: magic, version, size and CRC.</summary>
    /// <returns>Null when valid, else what is wrong.</returns>
    public static string? TryRead(ReadOnlySpan<byte> source, out SegmentHeader header)
    {
        header = MemoryMarshal.Read<SegmentHeader>(source);
        if (BinaryPrimitives.ReadUInt32LittleEndian(source[60..]) != Crc32C.Compute(source[..60]))
        {
            return "the segment header's CRC-32C does not match";
        }

        if (header.Magic != MagicValue)
        {
            return "the segment header has no Aletheia WAL magic";
        }

        if (header.FormatVersion != CurrentFormatVersion || header.HeaderSize != Size)
        {
            return $"the segment has format version {header.FormatVersion} (header size {header.HeaderSize}); this library reads version {CurrentFormatVersion}";
        }

        return null;
    }
}
