using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// The preparation's zero-fill on the real file system: direct I/O for the page-aligned middle, the page cache for the
/// unaligned edges. Exactly the range given becomes zeros; every byte outside it stays as it was.
/// </summary>
public sealed class FillZerosTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(0, 3 << 20)]               // aligned both ends, several chunks of the direct path
    [InlineData(100, (3 << 20) + 777)]     // unaligned both ends
    [InlineData(4096 + 1, 4096 + 4000)]    // within one page: no aligned middle at all
    [InlineData(8191, 8193)]               // across one page boundary, no whole page
    public void Exactly_the_range_becomes_zeros_and_nothing_else_changes(long from, long to)
    {
        string path = Path.Combine(_temp.Path, "segment.wal.tmp");
        byte[] before = new byte[(4 << 20) + 123];
        new Random(5).NextBytes(before);
        before.AsSpan().Replace((byte)0, (byte)1); // no zero byte before: every zero after is the fill's
        File.WriteAllBytes(path, before);

        using (WalFile file = WalStorage.Files.OpenWrite(path, writeThrough: false))
        {
            file.FillZeros(from, to);
            file.Sync();
        }

        byte[] after = File.ReadAllBytes(path);
        Assert.Equal(before.Length, after.Length);
        for (int i = 0; i < after.Length; i++)
        {
            byte expected = i >= from && i < to ? (byte)0 : before[i];
            if (after[i] != expected)
            {
                Assert.Fail($"Byte {i} is {after[i]}, expected {expected} (fill [{from}, {to})).");
            }
        }
    }

    [Fact]
    public void On_Linux_the_aligned_middle_is_written_with_direct_io()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.False(FileWalStorage.TryWriteZerosDirect(Path.Combine(_temp.Path, "any.wal.tmp"), 0, 4096), "Direct I/O is used on Linux only.");
            return;
        }

        string path = Path.Combine(_temp.Path, "direct.wal.tmp");
        File.WriteAllBytes(path, new byte[1 << 20]);

        // The test directory is on the machine's disk (ext4 here), which takes O_DIRECT: a refusal would mean the
        // preparation silently went back to the page cache.
        Assert.True(FileWalStorage.TryWriteZerosDirect(path, 0, 1 << 20), "The file system of the test directory takes O_DIRECT writes.");
        Assert.False(FileWalStorage.TryWriteZerosDirect(Path.Combine(_temp.Path, "missing.wal.tmp"), 0, 4096), "A missing file is not opened (nothing written).");
    }
}
