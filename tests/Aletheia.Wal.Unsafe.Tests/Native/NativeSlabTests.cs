using Aletheia.Wal.Native;
using Xunit;

namespace Aletheia.Wal.Tests.Native;

public sealed unsafe class NativeSlabTests
{
    [Fact]
    public void Slab_is_page_aligned_zeroed_and_freed_once()
    {
        var slab = new NativeSlab(3 * 4096 + 17);
        Assert.Equal(0, (long)slab.Pointer % Environment.SystemPageSize);
        for (nuint i = 0; i < slab.ByteCount; i++)
        {
            Assert.True(slab.Pointer[i] == 0, "AlignedAlloc memory is cleared before anyone reads it.");
        }

        slab.Pointer[0] = 1;
        slab.Dispose();
        Assert.True(slab.IsClosed, "Dispose releases the handle.");
        slab.Dispose(); // second dispose is a no-op: ReleaseHandle runs exactly once
    }

    [Fact]
    public void Empty_slab_is_refused() => Assert.Throws<ArgumentOutOfRangeException>(() => new NativeSlab(0));
}
