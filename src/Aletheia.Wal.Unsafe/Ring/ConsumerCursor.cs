using System.Runtime.InteropServices;
using Aletheia.Wal.Native;

namespace Aletheia.Wal.Ring;

/// <summary>The words the single consumer writes, followed by enough padding that the record area is 128+ bytes away.</summary>
/// <remarks>
/// <code>
/// offset 0   Head             8 bytes  first ring position not yet released
/// offset 8   ReleasedRecords  8 bytes  data records released since creation
/// offset 16  ReleasedBytes    8 bytes  body bytes of those records
/// offset 24  padding        232 bytes
/// </code>
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 2 * CacheLine.FalseSharingRange)]
internal struct ConsumerCursor
{
    /// <summary>Monotonic byte position up to which space was zeroed and given back to producers.</summary>
    [FieldOffset(0)]
    public long Head;

    /// <summary>Data records (not padding) the consumer has released.</summary>
    [FieldOffset(8)]
    public long ReleasedRecords;

    /// <summary>Body bytes of the data records the consumer has released.</summary>
    [FieldOffset(16)]
    public long ReleasedBytes;

    // padding: 232 bytes, so that the first record (at slab offset 512) is 232 bytes from ReleasedBytes.
}
