namespace Aletheia.Wal.Storage;

/// <summary>
/// The 32-bit salt of a segment: every batch header, end marker and frame written into segment <c>n</c> of log <c>id</c>
/// carries its CRC-32C XORed with <c>Of(id, n)</c>. A stale structure left in a recycled file by an earlier use (another
/// segment number) or copied from another log then fails its check, even where its LSN would fit (RocksDB's recyclable
/// record format carries the log number for the same reason). XOR with a constant keeps every error-detecting property of
/// the CRC; a structure of another segment passes only by a 2^-32 coincidence.
/// </summary>
internal static class SegmentSalt
{
    public static uint Of(ulong logId, ulong segmentNumber)
    {
        // SplitMix64's finalizer over the pair: every input bit changes about half the output bits.
        ulong x = logId ^ (segmentNumber * 0x9E3779B97F4A7C15UL);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        x ^= x >> 31;
        return (uint)(x >> 32);
    }
}
