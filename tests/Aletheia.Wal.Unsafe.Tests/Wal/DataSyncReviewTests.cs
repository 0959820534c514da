using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// Review of <see cref="WalWriteMode.DataSync"/> (O_DSYNC through libc open): every write-through open the log makes goes
/// through the mode (rotation into new and recycled segments, recovery's seal and cut at reopen, TruncateAfter, wal.head).
/// A failed open(2) is in WriteModeTests.
/// </summary>
public sealed class DataSyncReviewTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// A log in DataSync mode rotates into new and recycled segments, is reopened after a torn tail (recovery cuts and
    /// seals it), and is cut with TruncateAfter: right after every write-through open, every descriptor of the process
    /// open for writing on that file has O_DSYNC and not O_SYNC.
    /// </summary>
    [Fact]
    public void Every_write_through_open_of_a_DataSync_log_is_O_DSYNC()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // O_DSYNC by libc open, and /proc/self/fdinfo: Linux only
        }

        string directory = _temp.Log();
        var storage = new FlagRecordingStorage(WalStorage.Files);
        var options = new WalOptions { Directory = directory, WriteMode = WalWriteMode.DataSync, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, StripeCount = 1, MaxRecycledSegments = 2 };
        using (WriteAheadLog log = WriteAheadLog.Open(options, storage))
        {
            for (int i = 0; i < 60; i++)
            {
                log.AppendDurable(Payloads.Make(5, i, 3000)); // about three segments
            }

            log.TruncateBefore(log.DurableLsn); // two kept as recycled files
            for (int i = 60; i < 120; i++)
            {
                log.AppendDurable(Payloads.Make(5, i, 3000)); // rotations reuse them
            }

            log.TruncateAfter(new Lsn(110)); // rewrites the batch holding 111, reopens the segment write-through
            for (int i = 110; i < 115; i++)
            {
                Assert.Equal(new Lsn((ulong)i + 1), log.AppendDurable(Payloads.Make(6, i, 3000)));
            }
        }

        // A torn tail: recovery cuts the damaged write and seals the tail, writing through its own handles.
        LayoutUnit last = LogLayout.Read(directory).Units.Last(u => u.Kind == UnitKind.Batch);
        SegmentFiles.Flip(last.Path, last.End - 100);
        using (WriteAheadLog log = WriteAheadLog.Open(options, storage))
        {
            Assert.Equal(new Lsn(114), log.LastLsn);
        }

        output.WriteLine($"{storage.Opens.Count} write-through opens: {string.Join(", ", storage.Opens.GroupBy(o => Path.GetExtension(o.Path)).Select(g => $"{g.Count()} of {g.Key}"))}");
        Assert.Contains(storage.Opens, o => o.Path.EndsWith(LogHeadFile.FileName, StringComparison.Ordinal));
        Assert.Contains(storage.Opens, o => o.Path.EndsWith(SegmentNames.RecycledExtension, StringComparison.Ordinal));
        Assert.All(storage.Opens, o => Assert.True(
            o.Flags.Count > 0 && o.Flags.All(f => (f & (DescriptorFlags.DataSync | DescriptorFlags.SyncOnly)) == DescriptorFlags.DataSync),
            $"{Path.GetFileName(o.Path)}: writable descriptors with flags {string.Join(", ", o.Flags.Select(f => Convert.ToString(f, 8)))} (octal), expected O_DSYNC without O_SYNC."));
    }

    /// <summary>The real file system, recording, for every write-through open, the flags of the process's writable descriptors on that file.</summary>
    private sealed class FlagRecordingStorage(WalStorage inner) : WalStorage
    {
        public List<(string Path, List<int> Flags)> Opens { get; private init; } = [];

        public override WalStorage WithCreateMode(UnixFileMode mode) => new FlagRecordingStorage(inner.WithCreateMode(mode)) { Opens = Opens };

        public override WalStorage WithWriteMode(WalWriteMode mode) => new FlagRecordingStorage(inner.WithWriteMode(mode)) { Opens = Opens };

        public override WalFile OpenWrite(string path, bool writeThrough)
        {
            WalFile file = inner.OpenWrite(path, writeThrough);
            if (writeThrough)
            {
                lock (Opens)
                {
                    Opens.Add((path, DescriptorFlags.Writable(path)));
                }
            }

            return file;
        }

        public override WalFile CreateNew(string path, bool writeThrough) => inner.CreateNew(path, writeThrough);

        public override WalFile OpenRead(string path) => inner.OpenRead(path);

        public override void Delete(string path) => inner.Delete(path);

        public override void Move(string from, string to) => inner.Move(from, to);

        public override void SyncDirectory(string directory) => inner.SyncDirectory(directory);

        public override string[] ListFiles(string directory, string searchPattern) => inner.ListFiles(directory, searchPattern);
    }
}
