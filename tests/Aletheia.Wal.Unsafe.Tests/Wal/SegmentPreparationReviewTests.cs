using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// Review of segment preparation with O_DIRECT (FileWalStorage.TryWriteZerosDirect, WalFile.FillZeros) and of the write
/// buffer that now holds a page of padding: descriptors across many rotations, a segment size that is not a multiple of
/// the page, tmpfs, and the largest write buffer the options allow.
/// </summary>
[Collection(SerialCollection.Name)] // counts the process's descriptors; one case allocates a 2 GiB buffer
public sealed class SegmentPreparationReviewTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// 1,000 rotations into segments prepared with O_DIRECT (none recycled, so every one is zero-filled), of a size that is
    /// not a multiple of 4 KiB (the last partial page goes through the page cache): the process holds exactly as many
    /// descriptors after as before, and every record reads back.
    /// </summary>
    [Fact]
    public void Rotations_into_directly_prepared_segments_leak_no_descriptor()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/fd and O_DIRECT: Linux only
        }

        const int Rotations = 1_000;
        const int Payload = 60_000; // one record per segment
        string directory = _temp.Log();
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = (64 * 1024) + 1000, MaxEntryBytes = Payload, MaxRecycledSegments = 0, StripeCount = 1 };
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(options);
            for (int i = 0; i < 20; i++)
            {
                log.AppendDurable(Payloads.Make(3, i, Payload)); // warm-up: the runtime's own descriptors are open by now
            }

            log.TestHookWaitForPreparedSegment();
            int before = Directory.GetFiles("/proc/self/fd").Length;
            for (int i = 20; i < 20 + Rotations; i++)
            {
                log.AppendDurable(Payloads.Make(3, i, Payload));
                if (i % 50 == 0)
                {
                    log.TruncateBefore(log.DurableLsn); // deleted, not recycled: the next preparations zero-fill anew
                }
            }

            log.TestHookWaitForPreparedSegment();
            int after = Directory.GetFiles("/proc/self/fd").Length;
            output.WriteLine($"{Rotations} rotations: {before} descriptors before, {after} after");
            Assert.Equal(before, after);
        }, TimeSpan.FromSeconds(120));

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(20UL + Rotations, records[^1].Lsn);
        foreach ((ulong lsn, byte[] payload) in records)
        {
            Assert.True(Payloads.Matches(payload, 3, (long)lsn - 1), $"Record {lsn} is byte-exact.");
        }
    }

    /// <summary>
    /// A log on tmpfs (/dev/shm): preparation works whether or not the file system takes O_DIRECT (recent kernels do, older
    /// ones refuse it at open), segments of an unaligned size rotate, and every record reads back.
    /// </summary>
    [Fact]
    public void A_log_on_tmpfs_rotates_through_prepared_segments_and_reads_back()
    {
        if (!Directory.Exists("/dev/shm"))
        {
            return; // no tmpfs mount here (not Linux)
        }

        string directory = Path.Combine("/dev/shm", "aletheia-review13-" + Guid.NewGuid().ToString("N"));
        try
        {
            string probe = Path.Combine(Path.GetDirectoryName(directory)!, Path.GetFileName(directory) + ".probe");
            File.WriteAllBytes(probe, new byte[8192]);
            bool direct = FileWalStorage.TryWriteZerosDirect(probe, 0, 8192);
            File.Delete(probe);
            output.WriteLine($"tmpfs takes O_DIRECT: {direct}");
            var options = new WalOptions { Directory = directory, SegmentSizeBytes = (64 * 1024) + 100, MaxEntryBytes = 4096, StripeCount = 1 };
            using (WriteAheadLog log = WriteAheadLog.Open(options))
            {
                for (int i = 0; i < 200; i++)
                {
                    log.AppendDurable(Payloads.Make(4, i, 3000)); // about ten segments
                }
            }

            var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
            Assert.Equal(200, records.Count);
            Assert.True(SegmentFiles.Used(directory).Length >= 9, "The records span several segments.");
            Assert.All(records, r => Assert.True(Payloads.Matches(r.Payload, 4, (long)r.Lsn - 1), $"Record {r.Lsn} is byte-exact."));
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>
    /// Review13 D2, found on 2ebf652: WalOptions accepted any WriteBufferBytes up to int.MaxValue, and the flush thread's
    /// buffer, WriteBufferBytes + 24 + 4096 computed in int, overflowed for a buffer within 4,120 bytes of int.MaxValue: Open
    /// threw OutOfMemoryException (undocumented) for options Validate accepted. Fixed on async (61b7e8d) by a limit of
    /// 1 GiB: the largest buffer the options accept opens and writes, and one past it is refused by Validate, by name.
    /// </summary>
    [Fact]
    public void The_largest_write_buffer_the_options_accept_opens_and_one_near_int_MaxValue_is_refused_by_name()
    {
        string directory = _temp.Log();
        var largest = new WalOptions { Directory = directory, WriteBufferBytes = WalOptions.MaxWriteBufferBytes };
        largest.Validate();
        Exception? error = Record.Exception(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(largest);
            Assert.Equal(new Lsn(1), log.AppendDurable([1, 2, 3]));
        });
        Assert.True(error is null, $"Open with WriteBufferBytes {largest.WriteBufferBytes} (valid) threw {error?.GetType().Name}: {error?.Message}");
        Assert.Equal([1, 2, 3], LogContents.ReadAll(directory).Single().Payload);

        var refused = Assert.Throws<ArgumentException>(() => new WalOptions { Directory = directory, WriteBufferBytes = int.MaxValue - 1000 }.Validate());
        Assert.Equal(nameof(WalOptions.WriteBufferBytes), refused.ParamName);
        Assert.Contains($"to {WalOptions.MaxWriteBufferBytes} bytes", refused.Message, StringComparison.Ordinal);
    }
}
