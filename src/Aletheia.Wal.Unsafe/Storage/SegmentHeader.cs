using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The 64-byte header at offset 0 of every used segment file. It is written alone, with an end marker after it, by the
/// segment's opening write (<see cref="OpeningWriteBytes"/> bytes, before any batch); batches follow at offset 64.
/// </summary>
/// <remarks>
/// <code>
/// offset  0  Magic          8 bytes  "ALTHWAL\n" (0x0A4C415748544C41 little-endian)
/// offset  8  FormatVersion  4 bytes  2
/// offset 12  HeaderSize     4 bytes  64
/// offset 16  SegmentNumber  8 bytes  the number in the file name
/// offset 24  FirstLsn       8 bytes  LSN of the first frame in this segment
/// offset 32  LogId          8 bytes  the log's id (wal.head); the same in every segment
/// offset 40  SegmentSize    8 bytes  the file's length when it was prepared
/// offset 48  MaxWriteBytes  4 bytes  the largest write into this segment: batch header, frames and end marker
/// offset 52  Reserved       8 bytes  0
/// offset 60  Crc            4 bytes  CRC-32C of bytes [0, 60)
/// </code>
/// All integers are little-endian. A segment whose 64 header bytes are all zero was prepared but never used.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct SegmentHeader
{
    public const int Size = 64;

    /// <summary>The opening write of a segment: its header and the end marker after it.</summary>
    public const int OpeningWriteBytes = Size + BatchHeader.Size;

    public const ulong MagicValue = 0x0A4C415748544C41; // "ALTHWAL\n"
    public const uint CurrentFormatVersion = 2;

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
    public ulong SegmentSize;

    [FieldOffset(48)]
    public uint MaxWriteBytes;

    [FieldOffset(52)]
    public uint Reserved0;

    [FieldOffset(56)]
    public uint Reserved1;

    [FieldOffset(60)]
    public uint Crc;

    /// <summary>Writes a sealed header (CRC included) into <paramref name="destination"/>.</summary>
    public static void Write(Span<byte> destination, ulong segmentNumber, ulong firstLsn, ulong logId, ulong segmentSize, uint maxWriteBytes)
    {
        destination[..Size].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(destination, MagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], CurrentFormatVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], segmentNumber);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], firstLsn);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], logId);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], segmentSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[48..], maxWriteBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[60..], Crc32C.Compute(destination[..60]));
    }

    /// <summary>Reads and checks a header: CRC, magic, size and reserved bytes. The version is checked by the caller.</summary>
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

        if (header.HeaderSize != Size || header.Reserved0 != 0 || header.Reserved1 != 0)
        {
            return $"the segment header has size {header.HeaderSize} and non-zero reserved bytes";
        }

        return null;
    }

    /// <summary>
    /// Reads the header of the segment file at <paramref name="path"/>: true when it is intact (CRC, magic, size), of
    /// whatever format version; false when the file is missing, shorter than a header, or the header is zero or damaged.
    /// </summary>
    public static bool TryReadFile(WalStorage storage, string path, out SegmentHeader header)
    {
        header = default;
        WalFile file;
        try
        {
            file = storage.OpenRead(path);
        }
        catch (FileNotFoundException)
        {
            return false; // removed by a truncation since it was listed: no header to read
        }

        using (file)
        {
            Span<byte> bytes = stackalloc byte[Size];
            return file.Read(bytes, 0) == Size && TryRead(bytes, out header) is null;
        }
    }

    /// <summary>The intact header of the segment file at <paramref name="path"/> if it is of this format version, else null.</summary>
    public static SegmentHeader? ReadCurrent(WalStorage storage, string path) =>
        TryReadFile(storage, path, out SegmentHeader header) && header.FormatVersion == CurrentFormatVersion ? header : null;

    /// <summary>The message for a log written in another format version.</summary>
    public static string UnsupportedVersion(string path, uint version) =>
        $"The segment '{path}' has on-disk format version {version}; this library reads and writes version {CurrentFormatVersion} only.";
}
