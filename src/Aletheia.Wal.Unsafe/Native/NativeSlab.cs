using System.Runtime.InteropServices;

namespace Aletheia.Wal.Native;

/// <summary>
/// Owns one page-aligned, zeroed block from <see cref="NativeMemory.AlignedAlloc(nuint, nuint)"/>, freed exactly once by
/// <see cref="ReleaseHandle"/>. Every native byte the library touches is owned by one of these; the owner of the slab
/// (a ring, the flush thread's write buffer) guarantees that nobody dereferences <see cref="Pointer"/> after disposal.
/// </summary>
internal sealed unsafe class NativeSlab : SafeHandle
{
    private static long s_liveBytes;

    public NativeSlab(nuint byteCount)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        if (byteCount == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(byteCount), "A slab must hold at least one byte.");
        }

        nuint alignment = (nuint)Environment.SystemPageSize;
        void* block = NativeMemory.AlignedAlloc(byteCount, alignment);
        NativeMemory.Clear(block, byteCount);
        SetHandle((IntPtr)block);
        ByteCount = byteCount;
        GC.AddMemoryPressure((long)byteCount);

        // Interlocked for atomicity only: a process-wide count for diagnostics, ordering nothing.
        Interlocked.Add(ref s_liveBytes, (long)byteCount);
    }

    /// <summary>Bytes held by every live slab in the process (the soak test checks that it stays flat).</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary>The size of the block in bytes.</summary>
    public nuint ByteCount { get; }

    /// <summary>The first byte of the block (page aligned). Valid until the slab is disposed.</summary>
    public byte* Pointer => (byte*)handle;

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        GC.RemoveMemoryPressure((long)ByteCount);
        Interlocked.Add(ref s_liveBytes, -(long)ByteCount); // atomicity only, as in the constructor
        return true;
    }
}
