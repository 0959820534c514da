using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class WriteAheadLogFaultTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private WalOptions Options(long segmentBytes = 1 << 20) =>
        new() { Directory = _temp.Log(), StripeCount = 2, StripeCapacityBytes = 64 * 1024, SegmentSizeBytes = segmentBytes, MaxEntryBytes = 1024 };

    [Fact]
    public async Task Injected_write_failure_faults_the_log_and_nothing_after_it_is_acknowledged()
    {
        var storage = new FaultyStorage();
        var acknowledged = new List<ulong>();
        WriteAheadLog log = WriteAheadLog.Open(Options(), storage);
        for (int i = 0; i < 20; i++)
        {
            acknowledged.Add(log.AppendDurable(Payloads.Make(1, i, 50)).Value);
        }

        Lsn durableBefore = log.DurableLsn;
        storage.FailSegmentWritesAfter(0);
        Lsn pending = log.Append(Payloads.Make(1, 20, 50));
        var waitError = Assert.Throws<WalException>(() => log.WaitForDurable(pending));
        Assert.IsType<IOException>(waitError.InnerException);
        Assert.Equal(durableBefore, log.DurableLsn); // nothing unwritten is reported durable

        Assert.IsType<IOException>(Assert.Throws<WalException>(() => log.Append([1])).InnerException);
        Assert.Throws<WalException>(() => log.AppendDurable([1]));
        Assert.Throws<WalException>(() => log.TryAppend([1], out _));
        Assert.Throws<WalException>(() => log.Flush());
        Assert.Throws<WalException>(() => log.WaitForDurable(pending));
        await Assert.ThrowsAsync<WalException>(() => log.AppendDurableAsync(new byte[1]).AsTask());
        Assert.Equal(durableBefore, log.DurableLsn);
        log.Dispose();

        // Reopening recovers everything acknowledged before the failure, and the LSNs continue without a hole.
        using WriteAheadLog reopened = WriteAheadLog.Open(Options());
        var records = LogContents.ReadAll(_temp.Log());
        Assert.Equal(acknowledged, records.Select(r => r.Lsn).Take(acknowledged.Count));
        Assert.Equal(reopened.LastLsn.Value, records[^1].Lsn);
        Assert.Equal(new Lsn(records[^1].Lsn + 1), reopened.AppendDurable([9]));
    }

    [Fact]
    public async Task Waiters_parked_when_the_write_fails_all_get_wal_exception()
    {
        var storage = new FaultyStorage();
        WriteAheadLog log = WriteAheadLog.Open(Options(), storage);
        log.AppendDurable([0]);
        storage.FailSegmentWritesAfter(0);
        Task<Lsn>[] asyncWaits = Enumerable.Range(0, 8).Select(_ => log.AppendDurableAsync(new byte[10]).AsTask()).ToArray();
        Task[] syncWaits = Enumerable.Range(0, 8).Select(_ => Task.Run(() => log.AppendDurable(new byte[10]))).ToArray();
        foreach (Task wait in asyncWaits.Concat(syncWaits))
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(() => wait.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.IsType<WalException>(e);
            Assert.IsType<IOException>(e.InnerException);
        }

        Assert.Equal(new Lsn(1), log.DurableLsn);
        log.Dispose();
    }

    [Fact]
    public void Disk_full_faults_the_log_with_a_message_that_says_so()
    {
        var storage = new FaultyStorage { WriteFault = new IOException("No space left on device : '/data/00000000000000000001.wal'", unchecked((int)0x8007001C)) };
        using WriteAheadLog log = WriteAheadLog.Open(Options(), storage);
        storage.FailSegmentWritesAfter(0);
        var e = Assert.Throws<WalException>(() => log.AppendDurable([1]));
        Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DiskOperation.Create, "creation")]
    [InlineData(DiskOperation.SyncDirectory, "directory fsync")]
    public void Failed_preparation_of_the_next_segment_faults_the_log_when_it_is_needed(DiskOperation operation, string what)
    {
        // Open: wal.head is created (a creation and a directory fsync), recovery fsyncs the directory, then segment 1 is
        // prepared (a creation and a directory fsync); segment 2 is prepared in the background: the third creation, the
        // fourth directory fsync.
        var disk = new SimulatedDisk(seed: 0) { FaultOn = operation, FaultAt = operation == DiskOperation.SyncDirectory ? 4 : 3, Fault = DiskFault.IoError };
        WalOptions options = Options(segmentBytes: 64 * 1024);
        WriteAheadLog log = WriteAheadLog.Open(options, disk);
        var acknowledged = new List<ulong>();
        WalException? fault = null;
        Bounded.Run(() =>
        {
            for (int i = 0; i < 1000 && fault is null; i++)
            {
                try
                {
                    acknowledged.Add(log.AppendDurable(Payloads.Make(1, i, 1000)).Value);
                }
                catch (WalException e)
                {
                    fault = e;
                }
            }
        });

        Assert.True(fault is not null, $"A failed segment {what} faults the log once the segment is needed.");
        Assert.Contains("EIO", Assert.IsType<IOException>(fault.InnerException).Message, StringComparison.Ordinal);
        Assert.True(acknowledged.Count > 30, "Appends went on in the current segment until it was full.");
        Assert.Equal(new Lsn(acknowledged[^1]), log.DurableLsn); // nothing after the fault is reported durable
        Assert.Throws<WalException>(() => log.Append([1]));
        log.Dispose();

        using WriteAheadLog reopened = WriteAheadLog.Open(options, disk);
        Assert.Equal(new Lsn(acknowledged[^1]), reopened.LastLsn);
        using WalReader reader = reopened.ReadFrom(new Lsn(1));
        for (int i = 0; i < acknowledged.Count; i++)
        {
            Assert.True(reader.TryRead(out WalRecord record));
            Assert.Equal(acknowledged[i], record.Lsn.Value);
            Assert.True(Payloads.Matches(record.Payload, 1, i));
        }
    }
}
