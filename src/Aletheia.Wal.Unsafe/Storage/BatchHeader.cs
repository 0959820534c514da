using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The 24-byte header in front of the frames of one write, and, with no frames, the end marker that closes every write.
/// Every write the flush thread makes is exactly [batch header][frames][end marker]; the next write starts on the end
/// marker and overwrites it. So where the data of a segment ends, a valid end marker says so: the end of the log is
/// proven by something written, never assumed from zeros.
/// </summary>
/// <remarks>
/// <code>
/// offset  0  Tag          4 bytes  0x80000000 | byte length of the frames that follow (0 for an end marker)
/// offset  4  Crc          4 bytes  CRC-32C over bytes [0, 4) and [8, 24), XOR the segment's salt
/// offset  8  FirstLsn     8 bytes  LSN of the first frame; for an end marker, the LSN the next write starts with
/// offset 16  RecordCount  4 bytes  frames in the batch, at least 1; 0 for an end marker
/// offset 20  Flags        4 bytes  0 for a batch; for an end marker bit 0 = Closed: the log continues in the next segment
/// </code>
/// Bit 31 of the tag tells a batch header from a frame (a frame starts with its payload length, below 2^30). The writer
/// closes a segment (rewrites its end marker with <see cref="ClosedFlag"/>) before the next segment's opening write, so
/// an open end marker proves that the log ends in this segment, and a closed one that it goes on in the next.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct BatchHeader
{
    public const int Size = 24;
    public const uint TagBit = 1u << 31;

    /// <summary>The largest frame bytes one batch describes (bits 0-30 of the tag).</summary>
    public const int MaxBytes = int.MaxValue;

    /// <summary>In an end marker's flags: the segment is closed, the log continues in the next one.</summary>
    public const uint ClosedFlag = 1;

    [FieldOffset(0)]
    public uint Tag;

    [FieldOffset(4)]
    public uint Crc;

    [FieldOffset(8)]
    public ulong FirstLsn;

    [FieldOffset(16)]
    public uint RecordCount;

    [FieldOffset(20)]
    public uint Flags;

    public readonly int FrameBytes => (int)(Tag & ~TagBit);

    /// <summary>An end marker: no frames; <see cref="FirstLsn"/> is the LSN the next write starts with.</summary>
    public readonly bool IsEndMarker => RecordCount == 0;

    /// <summary>An end marker that closes its segment: the log goes on in the next segment, at <see cref="FirstLsn"/>.</summary>
    public readonly bool IsClosed => IsEndMarker && (Flags & ClosedFlag) != 0;

    /// <summary>The highest LSN this header says was written: its last frame's, or the one before an end marker's.</summary>
    public readonly ulong LastLsn => FirstLsn + RecordCount - 1;

    /// <summary>Writes a batch header (<paramref name="recordCount"/> at least 1) or, with no frames, an end marker.</summary>
    public static unsafe void Write(byte* destination, int frameBytes, ulong firstLsn, int recordCount, uint salt, uint flags = 0)
    {
        var header = (BatchHeader*)destination;
        header->Tag = TagBit | (uint)frameBytes;
        header->FirstLsn = firstLsn;
        header->RecordCount = (uint)recordCount;
        header->Flags = flags;
        header->Crc = ComputeCrc(destination) ^ salt;
    }

    /// <summary>Writes the end marker that says the next write starts with <paramref name="nextLsn"/>, in this segment or, <paramref name="closed"/>, in the next.</summary>
    public static unsafe void WriteEndMarker(byte* destination, ulong nextLsn, uint salt, bool closed = false) =>
        Write(destination, 0, nextLsn, 0, salt, closed ? ClosedFlag : 0);

    /// <summary>As <see cref="WriteEndMarker(byte*, ulong, uint, bool)"/>, into a span of at least <see cref="Size"/> bytes.</summary>
    public static unsafe void WriteEndMarker(Span<byte> destination, ulong nextLsn, uint salt, bool closed = false)
    {
        fixed (byte* p = destination)
        {
            WriteEndMarker(p, nextLsn, salt, closed);
        }
    }

    /// <summary>
    /// Reads 24 bytes and checks them as a batch header or end marker of the segment with <paramref name="salt"/>: tag bit,
    /// flags, salted CRC, and the shape (an end marker has no frames, a batch at least one frame and 16 bytes, no flags).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, uint salt, out BatchHeader header)
    {
        header = MemoryMarshal.Read<BatchHeader>(source);
        return LooksLikeOne(source)
            && header.Crc == (ComputeCrc(source) ^ salt)
            && (header.RecordCount == 0 ? header.FrameBytes == 0 : header.FrameBytes >= 16 * (long)header.RecordCount && header.Flags == 0);
    }

    /// <summary>The cheap part of the check (tag bit and flags): filters candidates before a CRC is computed.</summary>
    public static bool LooksLikeOne(ReadOnlySpan<byte> source) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(source) & TagBit) != 0 && (BinaryPrimitives.ReadUInt32LittleEndian(source[20..]) & ~ClosedFlag) == 0;

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
