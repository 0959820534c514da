using System.Runtime.InteropServices;
using Aletheia.Wal.Native;

namespace Aletheia.Wal.Ring;

/// <summary>The words producers write, followed by enough padding that the next region's words are 128+ bytes away.</summary>
/// <remarks>
/// <code>
/// offset 0   Tail        8 bytes  next free ring position; bit 63 = closed
/// offset 8   CachedHead  8 bytes  producers' last look at the consumer's Head
/// offset 16  padding   240 bytes
/// </code>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 2 * CacheLine.FalseSharingRange)]
internal struct ProducerCursor
{
    /// <summary>Monotonic byte position of the next reservation; bit 63 set once the ring is closed.</summary>
    [FieldOffset(0)]
    public long Tail;

    /// <summary>A value Head had at some point: lets producers skip reading the consumer's line while there is room.</summary>
    [FieldOffset(8)]
    public long CachedHead;

    // padding: 240 bytes, so that the consumer's Head is 240 bytes from CachedHead.
}
