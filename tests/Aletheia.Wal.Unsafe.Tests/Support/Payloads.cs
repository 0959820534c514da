namespace Aletheia.Wal.Tests.Support;

/// <summary>Self-validating payloads: every byte derives from (producer, sequence), so a test checks content, not counts.</summary>
internal static class Payloads
{
    public static void Fill(Span<byte> destination, int producer, long sequence)
    {
        uint state = (uint)(producer * 0x9E3779B1) ^ (uint)sequence ^ (uint)(sequence >> 32) ^ 0xA5A5A5A5u;
        for (int i = 0; i < destination.Length; i++)
        {
            state = state * 1664525u + 1013904223u;
            destination[i] = (byte)(state >> 24);
        }
    }

    public static byte[] Make(int producer, long sequence, int length)
    {
        var bytes = new byte[length];
        Fill(bytes, producer, sequence);
        return bytes;
    }

    public static bool Matches(ReadOnlySpan<byte> actual, int producer, long sequence)
    {
        Span<byte> expected = actual.Length <= 4096 ? stackalloc byte[actual.Length] : new byte[actual.Length];
        Fill(expected, producer, sequence);
        return actual.SequenceEqual(expected);
    }

    /// <summary>A payload that carries its producer and sequence in its first 12 bytes, followed by derived bytes.</summary>
    public static void FillTagged(Span<byte> destination, int producer, long sequence)
    {
        BitConverter.TryWriteBytes(destination, producer);
        BitConverter.TryWriteBytes(destination[4..], sequence);
        Fill(destination[12..], producer, sequence);
    }

    public static byte[] MakeTagged(int producer, long sequence, int length)
    {
        var bytes = new byte[length];
        FillTagged(bytes, producer, sequence);
        return bytes;
    }

    public static (int Producer, long Sequence) ReadTag(ReadOnlySpan<byte> payload) =>
        (BitConverter.ToInt32(payload), BitConverter.ToInt64(payload[4..]));

    public static bool TaggedIntact(ReadOnlySpan<byte> payload)
    {
        (int producer, long sequence) = ReadTag(payload);
        return Matches(payload[12..], producer, sequence);
    }
}
