using System.Runtime.InteropServices;

namespace Aletheia.Wal.Native;

/// <summary>
/// A 64-bit word with <see cref="CacheLine.FalseSharingRange"/> bytes of padding in front of it and 120 behind, for a
/// hot counter that lives in a managed object (whose fields the runtime may lay out next to anything).
/// </summary>
/// <remarks>
/// <code>
/// offset   0  padding  128 bytes
/// offset 128  Value      8 bytes
/// offset 136  padding  120 bytes
/// </code>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 2 * CacheLine.FalseSharingRange)]
internal struct PaddedInt64
{
    [FieldOffset(CacheLine.FalseSharingRange)]
    public long Value;
}
