using System.Buffers.Binary;

namespace Aletheia.Wal.Tool.Bench;

/// <summary>The writer a bench record names: its workload (index in the tour's plan), its producer, and its sequence.</summary>
internal readonly record struct RecordIdentity(int Workload, int Producer, long Sequence, int Length);

/// <summary>
/// The payload of every record the bench writes. It names its writer, and every other byte derives from that name, so the
/// verification checks each record's contents against the workload that wrote it, not just a count.
/// </summary>
/// <remarks>
/// Layout, little-endian: [0, 2) the workload's index in the tour's plan; [2, 4) the producer (a thread, or an async slot);
/// [4, 8) the payload's length; [8, 16) the producer's sequence (0, 1, 2, ...); then the body, 8-byte words of a mixed
/// Weyl sequence seeded by the header (a short last word keeps its low bytes).
/// </remarks>
internal static class BenchRecord
{
    /// <summary>The header's size, and so the smallest bench payload.</summary>
    public const int HeaderBytes = 16;

    /// <summary>The most producers a workload may have: the header holds the producer in 16 bits.</summary>
    public const int MaxProducers = ushort.MaxValue + 1;

    private const ulong Golden = 0x9E3779B97F4A7C15;
    private const ulong Step = 0xD1B54A32D192ED03;

    /// <summary>Writes the record of (<paramref name="workload"/>, <paramref name="producer"/>, <paramref name="sequence"/>) over all of <paramref name="payload"/>.</summary>
    public static void Write(Span<byte> payload, int workload, int producer, long sequence)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)workload);
        BinaryPrimitives.WriteUInt16LittleEndian(payload[2..], (ushort)producer);
        BinaryPrimitives.WriteInt32LittleEndian(payload[4..], payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(payload[8..], sequence);
        Span<byte> body = payload[HeaderBytes..];
        ulong seed = Seed(workload, producer, sequence, payload.Length);
        int word = 0;
        for (; body.Length >= 8; body = body[8..])
        {
            BinaryPrimitives.WriteUInt64LittleEndian(body, Word(seed, word++));
        }

        if (!body.IsEmpty)
        {
            Span<byte> last = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(last, Word(seed, word));
            last[..body.Length].CopyTo(body);
        }
    }

    /// <summary>The identity a payload's header claims; false if the payload is too short to hold a header.</summary>
    public static bool TryReadIdentity(ReadOnlySpan<byte> payload, out RecordIdentity identity)
    {
        if (payload.Length < HeaderBytes)
        {
            identity = default;
            return false;
        }

        identity = new RecordIdentity(
            BinaryPrimitives.ReadUInt16LittleEndian(payload),
            BinaryPrimitives.ReadUInt16LittleEndian(payload[2..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[8..]),
            BinaryPrimitives.ReadInt32LittleEndian(payload[4..]));
        return true;
    }

    /// <summary>
    /// The offset of the first body byte that differs from what the header's identity must hold, or -1 when the body is
    /// exactly right. The header itself is checked by the caller (its length field against the payload's length).
    /// </summary>
    public static int FirstBodyDifference(ReadOnlySpan<byte> payload, RecordIdentity identity)
    {
        ulong seed = Seed(identity.Workload, identity.Producer, identity.Sequence, payload.Length);
        ReadOnlySpan<byte> body = payload[HeaderBytes..];
        Span<byte> expected = stackalloc byte[8];
        for (int word = 0, offset = HeaderBytes; !body.IsEmpty; word++, offset += 8)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(expected, Word(seed, word));
            int length = Math.Min(8, body.Length);
            int differs = body[..length].CommonPrefixLength(expected[..length]);
            if (differs < length)
            {
                return offset + differs;
            }

            body = body[length..];
        }

        return -1;
    }

    private static ulong Seed(int workload, int producer, long sequence, int length) =>
        ((ulong)sequence * Golden) ^ ((ulong)workload << 48) ^ ((ulong)producer << 32) ^ (uint)length;

    // A Weyl step, then a xorshift-multiply finish (as splitmix64's): neighbouring words and records share no byte pattern.
    private static ulong Word(ulong seed, int index)
    {
        ulong z = seed + ((ulong)(index + 1) * Step);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        return z ^ (z >> 31);
    }
}
