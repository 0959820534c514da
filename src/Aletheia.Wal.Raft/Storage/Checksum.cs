using System.Buffers.Binary;
using System.Numerics;

namespace Aletheia.Wal.Raft.Storage;

/// <summary>CRC-32C of the Raft layer's side files (<c>raft.state</c>, <c>raft.snapshot</c>), hardware-accelerated where the CPU has it.</summary>
internal static class Checksum
{
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
