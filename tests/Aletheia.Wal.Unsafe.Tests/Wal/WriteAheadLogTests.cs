using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

public sealed class WriteAheadLogTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private WalOptions Options(long segmentBytes = 1 << 20, int stripes = 2) =>
        new() { Directory = _temp.Log(), SegmentSizeBytes = segmentBytes, StripeCount = stripes, StripeCapacityBytes = 256 * 1024, MaxEntryBytes = 4096 };

    [Fact]
    public void New_log_starts_at_lsn_one_and_reopens_where_it_ended()
    {
        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            Assert.Equal(Lsn.None, log.LastLsn);
            Assert.Equal(Lsn.None, log.DurableLsn);
            Assert.Equal(new Lsn(1), log.Append([1]));
            Assert.Equal(new Lsn(2), log.Append([2, 2]));
            Assert.Equal(new Lsn(3), log.AppendDurable([3, 3, 3]));
            Assert.True(log.DurableLsn >= new Lsn(3), "AppendDurable returns only once its record is durable.");
        }

        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            Assert.Equal(new Lsn(3), log.LastLsn);
            Assert.Equal(new Lsn(3), log.DurableLsn);
            Assert.Equal(new Lsn(4), log.AppendDurable([4]));
        }

        var records = LogContents.ReadAll(_temp.Log());
        Assert.Equal([1, 2, 3, 4], records.Select(r => r.Lsn));
        Assert.Equal(new byte[][] { [1], [2, 2], [3, 3, 3], [4] }, records.Select(r => r.Payload));
    }

    [Fact]
    public void Append_becomes_durable_without_flush()
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options());
        Lsn lsn = log.Append([42]);
        Bounded.Run(() =>
        {
            while (log.DurableLsn < lsn)
            {
                Thread.Sleep(1);
            }
        }, TimeSpan.FromSeconds(10));
        Assert.Equal(new Lsn(1), log.DurableLsn);
    }

    [Fact]
    public void Every_append_form_returns_contiguous_lsns_and_the_bytes_read_back_exactly()
    {
        var expected = new List<byte[]>();
        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            for (int i = 0; i < 50; i++)
            {
                byte[] payload = Payloads.Make(1, i, i * 13 % 200);
                Lsn lsn = (i % 5) switch
                {
                    0 => log.Append(payload),
                    1 => log.TryAppend(payload, out Lsn tried) ? tried : throw new InvalidOperationException("The stripe cannot be full here."),
                    2 => log.Append(payload.Length, payload, static (destination, state) => state.CopyTo(destination)),
                    3 => log.AppendDurable(payload),
                    _ => Blocking.Wait(log.AppendDurableAsync(payload)),
                };
                Assert.Equal(new Lsn((ulong)i + 1), lsn);
                expected.Add(payload);
            }

            log.Flush();
            Assert.Equal(log.LastLsn, log.DurableLsn);
        }

        var records = LogContents.ReadAll(_temp.Log());
        LogContents.AssertContiguousFrom(records, 1);
        Assert.Equal(expected, records.Select(r => r.Payload));
    }

    [Fact]
    public void After_each_append_durable_the_bytes_are_in_the_segment_file()
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options());
        for (int i = 0; i < 20; i++)
        {
            byte[] payload = Payloads.Make(7, i, 100);
            Lsn lsn = log.AppendDurable(payload);

            // Read the segment file itself, through a separate handle: the record must be there, byte for byte.
            byte[] segment = SegmentFiles.ReadShared(SegmentNames.PathOf(log.Directory, 1));
            Assert.True(segment.AsSpan().IndexOf(payload) >= 0, $"Record {lsn} is in the segment file once AppendDurable returned.");
            using WalReader reader = WalReader.Open(log.Directory, lsn);
            Assert.True(reader.TryRead(out WalRecord record));
            Assert.Equal(lsn, record.Lsn);
            Assert.True(record.Payload.SequenceEqual(payload));
        }
    }

    [Fact]
    public async Task Wait_forms_return_once_durable()
    {
        await using WriteAheadLog log = WriteAheadLog.Open(Options());
        Lsn first = log.Append([1]);
        Lsn second = log.Append([2]);
        log.WaitForDurable(first);
        Assert.True(log.DurableLsn >= first);
        await log.WaitForDurableAsync(second).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(log.DurableLsn >= second);
        log.WaitForDurable(Lsn.None);
        Assert.Equal(new Lsn(3), await log.AppendDurableAsync(new byte[] { 3 }).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Try_append_returns_false_when_the_stripe_is_full_and_takes_no_lsn()
    {
        var options = new WalOptions { Directory = _temp.Log(), StripeCount = 1, StripeCapacityBytes = 4096, MaxEntryBytes = 1024, SegmentSizeBytes = 1 << 20 };
        using WriteAheadLog log = WriteAheadLog.Open(options);
        byte[] payload = new byte[1000];
        int appended = 0;
        bool sawFull = false;
        for (int i = 0; i < 10_000 && !sawFull; i++)
        {
            if (log.TryAppend(payload, out Lsn lsn))
            {
                appended++;
                Assert.Equal(new Lsn((ulong)appended), lsn);
            }
            else
            {
                sawFull = true;
                Assert.Equal(Lsn.None, lsn);
            }
        }

        Assert.True(sawFull || appended == 10_000, "A 4 KiB stripe fills up under a burst of 1000-byte records, unless the flusher keeps up with every one.");
        log.Flush();
        Assert.Equal(new Lsn((ulong)appended), log.DurableLsn);
    }

    [Fact]
    public void Segments_rotate_with_zero_padded_names_and_read_back_in_order()
    {
        var options = Options(segmentBytes: 64 * 1024);
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            for (int i = 0; i < 3000; i++)
            {
                log.Append(Payloads.Make(2, i, 100));
            }

            log.Flush();
        }

        string[] names = Directory.GetFiles(_temp.Log(), "*.wal").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.True(names.Length >= 5, $"3000 records of 100 bytes fill several 64 KiB segments; found {names.Length}.");
        Assert.Equal("00000000000000000001.wal", names[0]);
        Assert.All(names, n => Assert.Matches("^[0-9]{20}\\.wal$", n));
        var records = LogContents.ReadAll(_temp.Log());
        Assert.Equal(3000, records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.Matches(records[i].Payload, 2, i), $"Record {i + 1} is byte-exact.");
        }
    }

    [Fact]
    public void Read_from_returns_durable_records_from_an_lsn()
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options());
        for (int i = 1; i <= 100; i++)
        {
            log.Append([(byte)i]);
        }

        log.Flush();
        using WalReader reader = log.ReadFrom(new Lsn(40));
        var lsns = new List<ulong>();
        while (reader.TryRead(out WalRecord record))
        {
            Assert.Equal((byte)record.Lsn.Value, record.Payload[0]);
            lsns.Add(record.Lsn.Value);
        }

        Assert.Equal(Enumerable.Range(40, 61).Select(i => (ulong)i), lsns);
    }

    [Fact]
    public void Truncate_before_drops_whole_segments_below_the_lsn_only()
    {
        var options = Options(segmentBytes: 64 * 1024);
        using WriteAheadLog log = WriteAheadLog.Open(options);
        for (int i = 0; i < 3000; i++)
        {
            log.Append(Payloads.Make(3, i, 100));
        }

        log.Flush();
        int before = Directory.GetFiles(log.Directory, "*.wal").Length;
        log.TruncateBefore(new Lsn(1500));
        int after = Directory.GetFiles(log.Directory, "*.wal").Length;
        Assert.True(after < before, "Segments whose records all lie below LSN 1500 are deleted.");

        using (WalReader reader = log.ReadFrom(new Lsn(1500)))
        {
            Assert.True(reader.TryRead(out WalRecord record), "The segment holding LSN 1500 is kept.");
            Assert.Equal(new Lsn(1500), record.Lsn);
        }

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => log.ReadFrom(new Lsn(1)));
        Assert.Contains("oldest LSN kept", e.Message, StringComparison.Ordinal);
        var kept = LogContents.ReadAll(log.Directory);
        Assert.True(kept[0].Lsn <= 1500);
        Assert.Equal(3000ul, kept[^1].Lsn);
        LogContents.AssertContiguousFrom(kept, kept[0].Lsn);
    }

    [Fact]
    public void Metrics_report_stripes_and_flush_figures()
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options(stripes: 4));
        for (int i = 0; i < 10; i++)
        {
            log.AppendDurable(new byte[10]);
        }

        WalMetrics metrics = log.GetMetrics();
        Assert.Equal(4, metrics.Stripes.Count);
        Assert.Equal(Enumerable.Range(0, 4), metrics.Stripes.Select(s => s.Id));
        Assert.Equal(10, metrics.Stripes.Sum(s => s.TotalAppends));
        Assert.Equal(100, metrics.Stripes.Sum(s => s.TotalBytes));
        Assert.True(metrics.Batches is >= 1 and <= 10);
        Assert.Equal(10, metrics.RecordsWritten);
        Assert.True(metrics.BytesWritten >= 10 * 32, "Each 10-byte record is a 32-byte frame, plus headers.");
        Assert.True(metrics.LastWriteLatency > TimeSpan.Zero);
        Assert.Equal(new Lsn(10), metrics.LastLsn);
        Assert.Equal(0ul, metrics.DurableLag);
        Assert.Equal(Lsn.None, metrics.RecoveryDroppedFrom);
    }

    [Fact]
    public async Task Calls_after_dispose_throw_object_disposed_and_dispose_twice_is_harmless()
    {
        WriteAheadLog log = WriteAheadLog.Open(Options());
        Lsn lsn = log.Append([1]);
        await log.DisposeAsync();
        log.Dispose();
        Assert.Throws<ObjectDisposedException>(() => log.Append([2]));
        Assert.Throws<ObjectDisposedException>(() => log.TryAppend([2], out _));
        Assert.Throws<ObjectDisposedException>(() => log.AppendDurable([2]));
        Assert.Throws<ObjectDisposedException>(() => log.Append(1, 0, static (_, _) => { }));
        Assert.Throws<ObjectDisposedException>(() => log.WaitForDurable(lsn));
        Assert.Throws<ObjectDisposedException>(() => log.Flush());
        Assert.Throws<ObjectDisposedException>(() => log.ReadFrom(lsn));
        Assert.Throws<ObjectDisposedException>(() => log.TruncateBefore(lsn));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.AppendDurableAsync(new byte[1]).AsTask());

        // Dispose made the appended record durable and released the lock.
        using WriteAheadLog reopened = WriteAheadLog.Open(Options());
        Assert.Equal(lsn, reopened.LastLsn);
    }
}
