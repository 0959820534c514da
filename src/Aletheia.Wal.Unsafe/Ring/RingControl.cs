using System.Runtime.InteropServices;
using Aletheia.Wal.Native;

namespace Aletheia.Wal.Ring;

/// <summary>The control block at offset 0 of every ring slab; records start right after it.</summary>
/// <remarks>
/// <code>
/// offset   0  ProducerCursor  256 bytes  (Tail, CachedHead at 0..15)       written by producers
/// offset 256  ConsumerCursor  256 bytes  (Head, released counts at 256..279) written by the consumer
/// offset 512  record area     Capacity bytes                           written by producers, zeroed by the consumer
/// </code>
/// Every producer-written word is at least 240 bytes from every consumer-written word, and the record area starts
/// 232 bytes after the last consumer word, on its own 128-byte pair: no two sides share a line or a prefetch pair.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 4 * CacheLine.FalseSharingRange)]
internal struct RingControl
{
    [FieldOffset(0)]
    public ProducerCursor Producer; // mutable struct: do not make this readonly

    [FieldOffset(2 * CacheLine.FalseSharingRange)]
    public ConsumerCursor Consumer; // mutable struct: do not make this readonly
}
