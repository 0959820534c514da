using System.Numerics;
using System.Runtime.CompilerServices;

namespace Aletheia.Wal.Storage;

/// <summary>
/// CRC-32C (Castagnoli), computed with the hardware instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>
/// (SSE4.2 <c>crc32</c> on x64, <c>crc32c</c> on Arm64). Standard parameters: initial value and final XOR 0xFFFFFFFF.
/// </summary>
internal static unsafe class Crc32C
{
    public const uint Seed = 0xFFFFFFFFu;

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            return ~Update(Seed, p, data.Length);
        }
    }

    /// <summary>Continues a running (not finalized) CRC over <paramref name="length"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Update(uint crc, byte* data, int length)
    {
        while (length >= 32)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(data));
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(data + 8));
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(data + 16));
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(data + 24));
            data += 32;
            length -= 32;
        }

        while (length >= 8)
        {
            crc = BitOperations.Crc32C(crc, Unsafe.ReadUnaligned<ulong>(data));
            data += 8;
            length -= 8;
        }

        while (length > 0)
        {
            crc = BitOperations.Crc32C(crc, *data);
            data++;
            length--;
        }

        return crc;
    }
}
