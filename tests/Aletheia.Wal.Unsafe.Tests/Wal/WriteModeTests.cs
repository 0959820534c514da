using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// <see cref="WalOptions.WriteMode"/>: the segment the writer holds open is opened O_SYNC (WriteThrough, the default) or
/// O_DSYNC (DataSync), as the kernel reports it in /proc/self/fdinfo; either way every record reads back.
/// </summary>
public sealed class WriteModeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(WalWriteMode.WriteThrough, DescriptorFlags.DataSync | DescriptorFlags.SyncOnly)]
    [InlineData(WalWriteMode.DataSync, DescriptorFlags.DataSync)]
    public void The_open_segment_has_the_flags_of_the_mode_and_every_record_reads_back(WalWriteMode mode, int expectedFlags)
    {
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = directory, WriteMode = mode, SegmentSizeBytes = 1 << 20 }))
        {
            for (int i = 0; i < 100; i++)
            {
                log.AppendDurable(Payloads.Make(1, i, 20_000)); // about two segments: the next one is opened the same way
            }

            if (OperatingSystem.IsLinux())
            {
                string current = SegmentFiles.Used(directory)[^1];
                int flags = SegmentFlags(current);
                Assert.Equal(expectedFlags, flags & (DescriptorFlags.DataSync | DescriptorFlags.SyncOnly));
            }
        }

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(100, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.Matches(records[i].Payload, 1, i), $"Record {i + 1} is byte-exact.");
        }
    }

    /// <summary>
    /// Found by review (review13 D3): the O_DSYNC open mapped only ENOENT of the file; a missing directory, a directory in
    /// the segment's place and a name too long came out as FileNotFoundException or a bare IOException "(errno N)".
    /// </summary>
    [Fact]
    public void A_failed_open_throws_what_the_write_through_open_throws_for_the_same_path()
    {
        WalStorage writeThrough = WalStorage.Files;
        WalStorage dataSync = WalStorage.Files.WithWriteMode(WalWriteMode.DataSync);
        string[] paths =
        [
            Path.Combine(_temp.Path, "missing.wal"),                      // FileNotFoundException
            Path.Combine(_temp.Path, "no-such-directory", "segment.wal"), // DirectoryNotFoundException
            _temp.Path,                                                  // a directory: UnauthorizedAccessException
            Path.Combine(_temp.Path, new string('n', 300) + ".wal"),     // a name too long: PathTooLongException
        ];
        var expected = new[] { typeof(FileNotFoundException), typeof(DirectoryNotFoundException), typeof(UnauthorizedAccessException), typeof(PathTooLongException) };
        for (int i = 0; i < paths.Length; i++)
        {
            Exception reference = Assert.ThrowsAny<Exception>(() => writeThrough.OpenWrite(paths[i], writeThrough: true).Dispose());
            Exception actual = Assert.ThrowsAny<Exception>(() => dataSync.OpenWrite(paths[i], writeThrough: true).Dispose());
            Assert.Equal(expected[i], reference.GetType());
            Assert.Equal(expected[i], actual.GetType());
        }
    }

    /// <summary>The open flags of the one descriptor of this process on <paramref name="path"/> that is open for writing.</summary>
    private static int SegmentFlags(string path) => Assert.Single(DescriptorFlags.Writable(path));
}
