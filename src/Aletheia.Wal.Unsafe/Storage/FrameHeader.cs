using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Aletheia.Wal.Storage;

/// <summary>
/// The 16-byte header of a record frame, framed in place in a stripe's ring by the producer. The flush thread copies it
/// into its write buffer and XORs the CRC with the segment's salt (<see cref="SegmentSalt"/>): on disk the CRC field is
/// the ring's CRC XOR the salt, every other byte is the same. A frame is <c>16 + align8(payload length)</c> bytes; the
/// padding after the payload is zero.
/// </summary>
/// <remarks>
/// <code>
/// offset  0  PayloadLength  4 bytes  little-endian
/// offset  4  Crc            4 bytes  CRC-32C over bytes [0, 4) and [8, frame end): length, LSN, payload, padding
///                                   (on disk: XOR the segment's salt)
/// offset  8  Lsn            8 bytes  little-endian
/// offset 16  payload, then 0..7 zero bytes up to a multiple of 8
/// </code>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal struct FrameHeader
{
    public const int Size = 16;

    [FieldOffset(0)]
    public uint PayloadLength;

    [FieldOffset(4)]
    public uint Crc;

    [FieldOffset(8)]
    public ulong Lsn;

    /// <summary>The bytes a frame with <paramref name="payloadLength"/> bytes of payload occupies.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FrameSize(int payloadLength) => Size + ((payloadLength + 7) & ~7);

    /// <summary>The CRC a frame of <paramref name="frameSize"/> bytes at <paramref name="frame"/> must carry.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe uint ComputeCrc(byte* frame, int frameSize)
    {
        uint crc = Crc32C.Update(Crc32C.Seed, frame, sizeof(uint));
        return ~Crc32C.Update(crc, frame + 8, frameSize - 8);
    }

    /// <summary>True when the frame of <paramref name="frameSize"/> bytes at <paramref name="frame"/> is intact as written into a segment with <paramref name="salt"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe bool IsIntactOnDisk(byte* frame, int frameSize, uint salt) => ((FrameHeader*)frame)->Crc == (ComputeCrc(frame, frameSize) ^ salt);

    /// <summary>
    /// Seals a frame whose payload is already in place: zeroes the padding, writes length and LSN, then the CRC.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Seal(byte* frame, int payloadLength, ulong lsn)
    {
        int frameSize = FrameSize(payloadLength);
        int padding = frameSize - Size - payloadLength;
        if (padding != 0)
        {
            new Span<byte>(frame + Size + payloadLength, padding).Clear();
        }

        var header = (FrameHeader*)frame;
        header->PayloadLength = (uint)payloadLength;
        header->Lsn = lsn;
        header->Crc = ComputeCrc(frame, frameSize);
    }
}
