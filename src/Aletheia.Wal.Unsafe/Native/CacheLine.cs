namespace Aletheia.Wal.Native;

/// <summary>The one padding constant of the library (as dotnet/runtime's <c>PaddingHelpers</c>).</summary>
internal static class CacheLine
{
    /// <summary>
    /// Bytes that must separate a word written by one side (producers) from a word written by the other
    /// (the consumer) so that they never share a cache line nor an adjacent-line prefetch pair:
    /// two 64-byte lines on x64, whose adjacent-line prefetcher fetches 128-byte pairs, and one 128-byte
    /// line on Arm64 (Apple, Neoverse). <c>[FieldOffset]</c> needs a constant, so it is 128 on every platform.
    /// </summary>
    public const int FalseSharingRange = 128;
}
