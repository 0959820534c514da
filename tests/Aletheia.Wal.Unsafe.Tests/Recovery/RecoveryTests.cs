using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>Damage cases with the verdict of each recovery mode; every record returned is byte-exact.</summary>
public sealed class RecoveryTests : IDisposable
{
    private const int Records = 150;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private WalOptions Options(WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) =>
        new() { Directory = _temp.Log(), SegmentSizeBytes = 64 * 1024, StripeCount = 2, MaxEntryBytes = 4096, RecoveryMode = mode };

    /// <summary>150 records of 1000 bytes, each its own durable batch, over three 64 KiB segments.</summary>
    private void WriteLog()
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options());
        for (int i = 0; i < Records; i++)
        {
            log.AppendDurable(Payloads.Make(5, i, 1000));
        }
    }

    private string LastSegment() => SegmentFiles.Used(_temp.Log())[^1];

    private static long OffsetOfPayload(string path, int sequence) => SegmentFiles.OffsetOf(path, Payloads.Make(5, sequence, 1000));

    private void AssertRecords(ulong count)
    {
        var records = LogContents.ReadAll(_temp.Log());
        Assert.Equal(count, (ulong)records.Count);
        LogContents.AssertContiguousFrom(records, 1);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(Payloads.Matches(records[i].Payload, 5, i), $"Record {i + 1} is byte-exact.");
        }
    }

    [Fact]
    public void Clean_log_reopens_with_every_record_in_every_mode()
    {
        WriteLog();
        foreach (WalRecoveryMode mode in Enum.GetValues<WalRecoveryMode>())
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(mode));
            Assert.Equal(new Lsn(Records), log.LastLsn);
        }

        AssertRecords(Records);
    }

    [Fact]
    public void Torn_last_write_is_cut_by_default_and_by_point_in_time_and_refused_by_strict()
    {
        WriteLog();
        string segment = LastSegment();
        long end = SegmentFiles.EndOfLog(_temp.Log());
        byte[] garbage = new byte[700];
        new Random(3).NextBytes(garbage);
        SegmentFiles.Patch(segment, end, garbage); // an interrupted write: garbage after the last valid batch, nothing valid after it

        var strict = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(WalRecoveryMode.Strict)));
        Assert.Equal(segment, strict.SegmentPath);
        Assert.Equal(end, strict.Offset);

        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            Assert.Equal(new Lsn(Records), log.LastLsn);
            Assert.Equal(new Lsn(Records + 1), log.AppendDurable(Payloads.Make(5, Records, 1000)));
        }

        AssertRecords(Records + 1);

        // Recovery after recovery reads the same.
        using (WriteAheadLog log = WriteAheadLog.Open(Options(WalRecoveryMode.Strict)))
        {
            Assert.Equal(new Lsn(Records + 1), log.LastLsn);
        }
    }

    [Fact]
    public void Torn_frame_inside_the_last_batch_keeps_the_frames_before_it()
    {
        WriteLog();
        string segment = LastSegment();
        long lastPayload = OffsetOfPayload(segment, Records - 1);
        SegmentFiles.Patch(segment, lastPayload + 500, new byte[] { 0xFF, 0x00, 0xAA }); // the last record's write was torn

        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            Assert.Equal(new Lsn(Records - 1), log.LastLsn); // the torn record, never acknowledged, is gone
        }

        AssertRecords(Records - 1);
    }

    [Fact]
    public void Flipped_bit_in_a_middle_record_throws_by_default_and_is_dropped_from_there_by_point_in_time()
    {
        WriteLog();
        string first = SegmentFiles.Used(_temp.Log())[0];
        long offset = OffsetOfPayload(first, 10) + 123;
        SegmentFiles.Flip(first, offset, 0x10);

        var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options()));
        Assert.Equal(first, e.SegmentPath);
        Assert.True(e.Offset <= offset && e.Offset > offset - 1100, $"The offset {e.Offset} locates the damaged frame (byte {offset}).");
        Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(WalRecoveryMode.Strict)));
        Assert.Throws<WalCorruptionException>(() => LogContents.ReadAll(_temp.Log()));

        using (WriteAheadLog log = WriteAheadLog.Open(Options(WalRecoveryMode.PointInTime)))
        {
            Assert.Equal(new Lsn(10), log.LastLsn); // records 1..10 kept, 11..150 dropped
            WalMetrics metrics = log.GetMetrics();
            Assert.Equal(new Lsn(11), metrics.RecoveryDroppedFrom);
            Assert.True(metrics.RecoveryDroppedTo >= new Lsn(12), "The dropped range reaches into the records found after the damage.");
            Assert.Equal(new Lsn(11), log.AppendDurable(Payloads.Make(5, 10, 1000)));
        }

        AssertRecords(11);
        using (WriteAheadLog log = WriteAheadLog.Open(Options(WalRecoveryMode.Strict)))
        {
            Assert.Equal(new Lsn(11), log.LastLsn); // the cut was durable: a strict reopen finds nothing damaged
        }
    }

    [Fact]
    public void Flipped_bit_in_a_segment_header_is_not_taken_for_a_torn_tail()
    {
        WriteLog();
        string[] segments = SegmentFiles.Used(_temp.Log());
        Assert.True(segments.Length >= 3);
        SegmentFiles.Patch(segments[1], 20, [0x77]); // inside SegmentNumber: the header CRC no longer matches
        var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options()));
        Assert.Equal(segments[1], e.SegmentPath);
        Assert.Equal(0, e.Offset);
    }

    /// <summary>Found by the random damage test: a zeroed header sector in a middle segment.</summary>
    [Fact]
    public void Zeroed_header_of_a_middle_segment_is_located_there_and_point_in_time_drops_from_it()
    {
        WriteLog();
        string[] segments = SegmentFiles.Used(_temp.Log());
        Assert.True(segments.Length >= 3);
        SegmentFiles.Patch(segments[1], 0, new byte[512]);
        var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options()));
        Assert.Equal(segments[1], e.SegmentPath);
        Assert.Equal(0, e.Offset);

        ulong kept;
        using (WriteAheadLog log = WriteAheadLog.Open(Options(WalRecoveryMode.PointInTime)))
        {
            kept = log.LastLsn.Value;
            Assert.True(kept < Records, "Everything from the damaged segment on is dropped.");
            for (ulong lsn = kept + 1; lsn <= kept + 60; lsn++)
            {
                log.AppendDurable(Payloads.Make(5, (long)lsn - 1, 1000)); // through the zeroed segment, reused
            }
        }

        using (WriteAheadLog log = WriteAheadLog.Open(Options(WalRecoveryMode.Strict)))
        {
            Assert.Equal(new Lsn(kept + 60), log.LastLsn);
        }

        AssertRecords(kept + 60);
    }

    [Fact]
    public void Missing_middle_segment_throws_naming_the_missing_segment()
    {
        WriteLog();
        string[] segments = SegmentFiles.Used(_temp.Log());
        Assert.True(segments.Length >= 3);
        File.Delete(segments[1]);
        var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options()));
        Assert.Equal(segments[1], e.SegmentPath);
        Assert.Equal(0, e.Offset);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Segment_from_another_log_is_refused()
    {
        WriteLog();
        string[] segments = SegmentFiles.Used(_temp.Log());
        string other = _temp.Log("other");
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = other, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096 }))
        {
            for (int i = 0; i < Records; i++)
            {
                log.AppendDurable(Payloads.Make(6, i, 1000));
            }
        }

        string foreign = SegmentFiles.Used(other)[1];
        File.Copy(foreign, segments[1], overwrite: true);
        var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options()));
        Assert.Equal(segments[1], e.SegmentPath);
        Assert.Contains("another log", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_segment_file_at_the_end_is_replaced_and_the_log_continues()
    {
        WriteLog();
        List<ulong> numbers = SegmentNames.List(WalStorage.Files, _temp.Log());
        File.WriteAllBytes(SegmentNames.PathOf(_temp.Log(), numbers[^1] + 1), []);
        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            Assert.Equal(new Lsn(Records), log.LastLsn);
            for (int i = Records; i < Records + 40; i++)
            {
                log.AppendDurable(Payloads.Make(5, i, 1000)); // runs through the replaced segment
            }
        }

        AssertRecords(Records + 40);
    }
}
