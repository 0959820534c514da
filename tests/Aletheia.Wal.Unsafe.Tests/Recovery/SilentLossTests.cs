using Aletheia.Wal.Reading;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// The ways recovery lost acknowledged records without a word (issue 10), each reproduced by file surgery or a fault at
/// the storage seam, with the exact outcome in every mode: Strict and TruncateTornTail refuse the log at the damaged
/// write; PointInTime keeps exactly the records before it and reports the range it dropped.
/// </summary>
public sealed class SilentLossTests : IDisposable
{
    private const int Payload = 1000; // a 1,016-byte frame: one record per durable append is a 1,040-byte batch
    private const int BatchBytes = BatchHeader.Size + FrameHeader.Size + Payload;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static WalOptions Options(
        string directory, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail, long segmentBytes = 1 << 20, int maxEntryBytes = 4096, int maxRecycled = 4) =>
        new() { Directory = directory, SegmentSizeBytes = segmentBytes, StripeCount = 1, MaxEntryBytes = maxEntryBytes, RecoveryMode = mode, MaxRecycledSegments = maxRecycled };

    private static byte[] PayloadOf(ulong lsn) => Payloads.Make(3, (long)lsn, Payload);

    /// <summary>Records 1..<paramref name="records"/>, each its own write: record r's batch starts at 64 + 1040 (r - 1) of its segment.</summary>
    private string WriteLog(int records, long segmentBytes = 1 << 20)
    {
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory, segmentBytes: segmentBytes));
        for (ulong lsn = 1; lsn <= (ulong)records; lsn++)
        {
            log.AppendDurable(PayloadOf(lsn));
        }

        return directory;
    }

    [Fact]
    public void A_zeroed_sector_where_a_batch_header_starts_is_damage_not_the_end_of_the_log()
    {
        // Record 29's batch starts at 64 + 28 * 1040 = 29,184 = 57 * 512: its sector begins with its batch header.
        string directory = WriteLog(100);
        string segment = SegmentNames.PathOf(directory, 1);
        const long Header29 = SegmentHeader.Size + (28 * BatchBytes);
        Assert.Equal(0, Header29 % 512);
        SegmentFiles.Patch(segment, Header29, new byte[512]);

        AssertRefusedThenCut(directory, segment, writeStart: Header29, writeEnd: Header29 + BatchBytes, kept: 28, droppedTo: 100);
    }

    [Fact]
    public void A_zeroed_header_sector_of_the_last_segment_is_damage_when_its_writes_follow()
    {
        // 64 KiB segments hold 62 such records: segment 2 starts at LSN 63 and holds 38.
        string directory = WriteLog(100, segmentBytes: 64 * 1024);
        string segment = SegmentNames.PathOf(directory, 2);
        Assert.Equal(63ul, BitConverter.ToUInt64(File.ReadAllBytes(segment).AsSpan(24, 8)));
        SegmentFiles.Patch(segment, 0, new byte[512]);

        AssertRefusedThenCut(directory, segment, writeStart: 0, writeEnd: SegmentHeader.Size, kept: 62, droppedTo: 100, segmentBytes: 64 * 1024);
    }

    [Fact]
    public void A_flipped_bit_in_the_header_of_a_last_segment_holding_one_batch_is_not_a_torn_tail()
    {
        // The only segment, holding one batch at offset 64 (just after a rotation, or a log with one segment).
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory)))
        {
            log.AppendDurable(Payloads.Make(3, 1, 3000));
        }

        Assert.Single(LogLayout.Read(directory).Units, u => u.Kind == UnitKind.Batch);
        string segment = SegmentNames.PathOf(directory, 1);
        SegmentFiles.Flip(segment, 20); // inside SegmentNumber

        // The intact batch at offset 64 was written after the header's write returned: the header was damaged later.
        Assert.Equal(0, Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(directory))).Offset);
        Assert.Equal(0, Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(directory, WalRecoveryMode.Strict))).Offset);
        using WriteAheadLog recovered = WriteAheadLog.Open(Options(directory, WalRecoveryMode.PointInTime));
        Assert.Equal(Lsn.None, recovered.LastLsn);
        Assert.Equal((new Lsn(1), new Lsn(1)), (recovered.GetMetrics().RecoveryDroppedFrom, recovered.GetMetrics().RecoveryDroppedTo));
    }

    [Fact]
    public void A_flipped_bit_in_a_batch_header_within_the_last_writes_reach_is_not_a_torn_tail_when_later_writes_follow()
    {
        // Records 91..100 lie within one write's reach (1 MiB) of record 90's batch: their batch headers prove that
        // those writes returned, so 90's write was not the interrupted last one.
        string directory = WriteLog(100);
        string segment = SegmentNames.PathOf(directory, 1);
        const long Header90 = SegmentHeader.Size + (89 * BatchBytes);
        SegmentFiles.Flip(segment, Header90 + 9); // inside FirstLsn

        AssertRefusedThenCut(directory, segment, writeStart: Header90, writeEnd: Header90 + BatchBytes, kept: 89, droppedTo: 100);
    }

    [Fact]
    public void A_zeroed_first_sector_of_a_last_segment_whose_writes_all_lie_in_it_is_reported()
    {
        // Found by review: segment 2 holds one small batch, in its first sector with the header. Zeroed, the segment looks
        // never used; but segment 1 was closed (its end marker says the log goes on in segment 2), so it is an opening
        // write lost, and nothing after it shows a later write: a torn tail, cut and reported.
        string directory = _temp.Log();
        WalOptions options = Options(directory, segmentBytes: 64 * 1024);
        ulong last = 0;
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            while (SegmentFiles.Used(directory).Length < 2)
            {
                last = log.AppendDurable(Payloads.Make(3, (long)last + 1, 300)).Value;
            }
        }

        LogLayout layout = LogLayout.Read(directory);
        Assert.True(layout.EndOfLog + BatchHeader.Size <= 512, "Segment 2's writes all lie in its first sector.");
        ulong first = layout.Used.Last().FirstLsn;
        SegmentFiles.Patch(SegmentNames.PathOf(directory, 2), 0, new byte[512]);

        Assert.Equal(0, Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(directory, WalRecoveryMode.Strict, 64 * 1024))).Offset);
        using WriteAheadLog reopened = WriteAheadLog.Open(options);
        Assert.Equal(new Lsn(first - 1), reopened.LastLsn);
        Assert.Equal((new Lsn(first), Lsn.None), (reopened.GetMetrics().RecoveryDroppedFrom, reopened.GetMetrics().RecoveryDroppedTo));
        Assert.Equal(last, first); // the one record lost, and said so
    }

    [Fact]
    public void The_last_segments_files_deleted_after_a_closed_segment_are_corruption_not_the_end_of_the_log()
    {
        // Found by review: the last used segment and the prepared one after it deleted. Segment 2's end marker is closed,
        // so the log goes on in segment 3, whose file is gone: no crash leaves that.
        string directory = WriteLog(200, segmentBytes: 64 * 1024);
        Assert.Equal(4, SegmentFiles.Used(directory).Length);
        File.Delete(SegmentNames.PathOf(directory, 4));
        File.Delete(SegmentNames.PathOf(directory, 5));
        string missing = SegmentNames.PathOf(directory, 4);
        AssertRefusedThenCut(directory, missing, writeStart: 0, writeEnd: SegmentHeader.Size, kept: 186, droppedTo: 0, segmentBytes: 64 * 1024);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_zeroed_header_of_the_head_segment_is_damage_not_an_empty_log(bool truncatedFirst)
    {
        // Found by review: no test held the head to the rule that a zero header where the log goes on is damage. The
        // head was opened (wal.head says so), and its writes follow the zeroed sector.
        string directory = WriteLog(truncatedFirst ? 200 : 20, segmentBytes: 64 * 1024);
        ulong head = 1;
        ulong first = 1;
        if (truncatedFirst)
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory, segmentBytes: 64 * 1024));
            log.TruncateBefore(log.DurableLsn);
            (head, first) = (4, 187);
        }

        string segment = SegmentNames.PathOf(directory, head);
        SegmentFiles.Patch(segment, 0, new byte[512]);
        AssertRefusedThenCut(directory, segment, writeStart: 0, writeEnd: SegmentHeader.Size, kept: first - 1, droppedTo: truncatedFirst ? 200ul : 20ul, segmentBytes: 64 * 1024, first: first);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_head_segment_and_every_segment_after_it_deleted_is_corruption_not_an_empty_log(bool truncatedFirst)
    {
        // Found by review: with no segment file at all the log opened empty, and LSNs from the head on were handed out
        // again. wal.head says the head was opened: its file is missing.
        string directory = WriteLog(200, segmentBytes: 64 * 1024);
        ulong head = 1;
        if (truncatedFirst)
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory, segmentBytes: 64 * 1024));
            log.TruncateBefore(log.DurableLsn);
            head = 4;
        }

        foreach (string file in Directory.GetFiles(directory, "*.wal"))
        {
            File.Delete(file);
        }

        ulong first = truncatedFirst ? 187ul : 1ul;
        AssertRefusedThenCut(directory, SegmentNames.PathOf(directory, head), writeStart: 0, writeEnd: SegmentHeader.Size, kept: first - 1, droppedTo: 0, segmentBytes: 64 * 1024, first: first);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A_writer_reopened_with_larger_records_rotates_out_of_a_segment_holding_only_its_opening_write(bool largerSegments, bool afterRecords)
    {
        // Found by review: a segment opened by an earlier writer with smaller writes (a new log's head, or one opened at a
        // rotation just before the writer stopped) was refused as too small, the log faulting at every reopen.
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions
        {
            Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 1, MaxEntryBytes = 4096, WriteBufferBytes = largerSegments ? 1 << 20 : 16 * 1024,
        }))
        {
            for (long i = 0; afterRecords && SegmentFiles.Used(directory).Length < 2; i++)
            {
                log.AppendDurable(Payloads.Make(6, i, 4000)); // the last one rotates: segment 2 holds only its opening write
            }
        }

        var larger = new WalOptions
        {
            Directory = directory, SegmentSizeBytes = largerSegments ? 1 << 20 : 64 * 1024, StripeCount = 1, MaxEntryBytes = largerSegments ? 200 * 1024 : 32 * 1024,
        };
        byte[] record = Payloads.Make(7, 0, largerSegments ? 100 * 1024 : 20 * 1024);
        ulong lsn = 0;
        using (WriteAheadLog reopened = WriteAheadLog.Open(larger))
        {
            Bounded.Run(() => lsn = reopened.AppendDurable(record).Value);
        }

        List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(lsn, records[^1].Lsn);
        Assert.True(records[^1].Payload.AsSpan().SequenceEqual(record));
    }

    [Fact]
    public void A_payload_holding_a_batch_header_of_its_own_segment_does_not_make_a_torn_last_write_fatal()
    {
        // Found by review: the evidence search reads 24-byte structures anywhere after the damage; the torn write's own
        // frames are payload, whatever they hold.
        string directory = _temp.Log();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory)))
        {
            for (ulong lsn = 1; lsn <= 10; lsn++)
            {
                log.AppendDurable(PayloadOf(lsn));
            }

            byte[] forged = PayloadOf(11);
            unsafe
            {
                fixed (byte* p = forged)
                {
                    BatchHeader.Write(p, 16, 12, 1, SegmentSalt.Of(LogLayout.Read(directory).LogId, 1));
                }
            }

            log.AppendDurable(forged);
        }

        string segment = SegmentNames.PathOf(directory, 1);
        SegmentFiles.Patch(segment, SegmentFiles.EndOfLog(directory) - 16, new byte[16]); // the tail of record 11 never reached the disk
        using WriteAheadLog reopened = WriteAheadLog.Open(Options(directory));
        Assert.Equal(new Lsn(10), reopened.LastLsn);
        Assert.Equal((new Lsn(11), new Lsn(11)), (reopened.GetMetrics().RecoveryDroppedFrom, reopened.GetMetrics().RecoveryDroppedTo));
    }

    [Fact]
    public void A_segment_file_longer_than_its_header_says_is_written_only_up_to_the_header_size()
    {
        // Found by review: the writer took the file's length for the segment's end, wrote batches past the header's
        // SegmentSize, and the next open refused them.
        string directory = WriteLog(20, segmentBytes: 64 * 1024);
        string segment = SegmentNames.PathOf(directory, 1);
        SegmentFiles.Extend(segment, 8192);
        ulong last;
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory, segmentBytes: 64 * 1024)))
        {
            for (ulong lsn = 21; lsn <= 130; lsn++)
            {
                log.AppendDurable(PayloadOf(lsn));
            }

            last = log.LastLsn.Value;
        }

        Assert.True(LogLayout.Read(directory).Segments[0].DataEnd + BatchHeader.Size <= 64 * 1024, "Segment 1 ends within its header's size.");
        using WriteAheadLog reopened = WriteAheadLog.Open(Options(directory, WalRecoveryMode.Strict, 64 * 1024));
        Assert.Equal(new Lsn(last), reopened.LastLsn);
    }

    [Fact]
    public void A_wal_head_torn_while_the_log_was_created_starts_the_log_anew()
    {
        // Found by review: a creation interrupted before its fsync, with a prefix of wal.head on disk and no segment yet,
        // holds no record: the log is created again instead of being refused forever.
        string directory = _temp.Log();
        Directory.CreateDirectory(directory);
        byte[] torn = new byte[LogHeadFile.FileBytes];
        var head = new LogHead(LogId: 42, Segment: 1, FirstLsn: 1, Sequence: 1);
        LogHeadFile.Create(WalStorage.Files, directory, head);
        File.ReadAllBytes(LogHeadFile.PathOf(directory)).AsSpan(0, 40).CopyTo(torn);
        File.WriteAllBytes(LogHeadFile.PathOf(directory), torn);

        using WriteAheadLog log = WriteAheadLog.Open(Options(directory));
        Assert.Equal(new Lsn(1), log.AppendDurable(PayloadOf(1)));
    }

    /// <summary>
    /// Strict and TruncateTornTail refuse the log at the damaged write (file and an offset in it), changing nothing;
    /// PointInTime keeps exactly the records to <paramref name="kept"/>, reports the dropped range, and continues after it.
    /// </summary>
    private void AssertRefusedThenCut(string directory, string segment, long writeStart, long writeEnd, ulong kept, ulong droppedTo, long segmentBytes = 1 << 20, ulong first = 1)
    {
        foreach (WalRecoveryMode mode in new[] { WalRecoveryMode.Strict, WalRecoveryMode.TruncateTornTail })
        {
            var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(directory, mode, segmentBytes)));
            Assert.Equal(segment, e.SegmentPath);
            Assert.True(e.Offset >= writeStart && e.Offset < writeEnd, $"{mode}: the error's offset {e.Offset} lies in the damaged write [{writeStart}, {writeEnd}).");
        }

        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory, WalRecoveryMode.PointInTime, segmentBytes)))
        {
            Assert.Equal(new Lsn(kept), log.LastLsn);
            WalMetrics metrics = log.GetMetrics();
            Assert.Equal((new Lsn(kept + 1), droppedTo == 0 ? Lsn.None : new Lsn(droppedTo)), (metrics.RecoveryDroppedFrom, metrics.RecoveryDroppedTo));
            Assert.Equal(new Lsn(kept + 1), log.AppendDurable(PayloadOf(kept + 1)));
        }

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(Enumerable.Range((int)first, (int)(kept + 2 - first)).Select(i => (ulong)i), records.Select(r => r.Lsn));
        Assert.All(records, r => Assert.True(r.Payload.AsSpan().SequenceEqual(PayloadOf(r.Lsn)), $"Record {r.Lsn} is byte-exact."));
    }

    [Fact]
    public void A_recycled_segment_of_an_older_smaller_size_is_not_reused_and_no_rotation_skips_a_segment()
    {
        // Written with 64 KiB segments, reopened with 256 KiB ones and records that do not fit 64 KiB: truncation must not
        // keep the small segments for reuse, or the writer would rotate past one it cannot write into.
        string directory = WriteLog(300, segmentBytes: 64 * 1024);
        WalOptions larger = Options(directory, segmentBytes: 256 * 1024, maxEntryBytes: 100_000);
        byte[] Large(ulong lsn) => Payloads.Make(4, (long)lsn, 80_000);
        ulong last;
        using (WriteAheadLog log = WriteAheadLog.Open(larger))
        {
            log.TruncateBefore(log.LastLsn);
            Assert.All(Directory.GetFiles(directory, "*.recycle"), f => Assert.Equal(256 * 1024, new FileInfo(f).Length));
            Bounded.Run(() =>
            {
                for (int i = 0; i < 12; i++)
                {
                    log.AppendDurable(Large(log.LastLsn.Value + 1));
                }
            });
            last = log.LastLsn.Value;
        }

        using (WriteAheadLog reopened = WriteAheadLog.Open(Options(directory, WalRecoveryMode.Strict, segmentBytes: 256 * 1024, maxEntryBytes: 100_000)))
        {
            Assert.Equal(new Lsn(last), reopened.LastLsn);
        }

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(last, records[^1].Lsn);
        Assert.All(records.Where(r => r.Lsn > 300), r => Assert.True(r.Payload.AsSpan().SequenceEqual(Large(r.Lsn))));
    }

    [Fact]
    public void Point_in_time_dropping_the_head_segments_header_continues_at_the_head_not_at_lsn_1_and_reports_the_drop()
    {
        // 64 KiB segments, 62 records each; truncation recycles segments 1-2 (LSNs 1-124) and makes segment 3 the head.
        string directory = _temp.Log();
        WalOptions options = Options(directory, segmentBytes: 64 * 1024, maxRecycled: 2);
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            for (ulong lsn = 1; lsn <= 300; lsn++)
            {
                log.AppendDurable(PayloadOf(lsn));
            }

            log.TruncateBefore(new Lsn(125));
        }

        Assert.Equal(2, Directory.GetFiles(directory, "*.recycle").Length);
        string head = SegmentNames.PathOf(directory, 3);
        Assert.Equal(125ul, BitConverter.ToUInt64(File.ReadAllBytes(head).AsSpan(24, 8)));
        SegmentFiles.Flip(head, 20);

        // Everything from the head on is dropped, and said so; the log goes on at LSN 125, above every stale frame of
        // the recycled files (LSNs 1-124), so they can never meet reissued LSNs.
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory, WalRecoveryMode.PointInTime, segmentBytes: 64 * 1024, maxRecycled: 2)))
        {
            Assert.Equal(new Lsn(124), log.LastLsn);
            Assert.Equal((new Lsn(125), new Lsn(300)), (log.GetMetrics().RecoveryDroppedFrom, log.GetMetrics().RecoveryDroppedTo));
            for (ulong lsn = 125; lsn <= 400; lsn++)
            {
                Assert.Equal(new Lsn(lsn), log.AppendDurable(PayloadOf(lsn))); // through the recycled files
            }
        }

        // An ordinary torn tail afterwards is cut as one, in a log whose reused files hold stale frames.
        string last = SegmentFiles.Used(directory)[^1];
        SegmentFiles.Flip(last, SegmentFiles.OffsetOf(last, PayloadOf(400)) + 10);
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            Assert.Equal(new Lsn(399), log.LastLsn);
        }

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(Enumerable.Range(125, 275).Select(i => (ulong)i), records.Select(r => r.Lsn));
        Assert.All(records, r => Assert.True(r.Payload.AsSpan().SequenceEqual(PayloadOf(r.Lsn))));
    }

    [Fact]
    public void Recovery_work_on_payloads_made_of_lsn_like_words_is_bounded_by_the_bytes()
    {
        // Every 8-aligned word of every payload passes the cheap filters of the evidence search (tag bit set, zero
        // reserved word, an LSN in range), so the search checksums a 24-byte candidate at every position: no more. No
        // frame is checksummed at a guessed position, and the buffer never grows.
        string directory = _temp.Log();
        byte[] hostile = new byte[4000];
        for (int i = 0; i < hostile.Length; i += 8)
        {
            BitConverter.TryWriteBytes(hostile.AsSpan(i), 0x0000_0000_8000_0010UL);
        }

        WalOptions options = Options(directory, segmentBytes: 4 << 20, maxEntryBytes: 8000);
        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            for (int i = 0; i < 1000; i++)
            {
                log.AppendDurable(hostile);
            }
        }

        // Damage the first write: the search then looks at the whole rest of the segment.
        SegmentFiles.Flip(SegmentNames.PathOf(directory, 1), SegmentHeader.Size + BatchHeader.Size + FrameHeader.Size + 8);
        LogHead head = LogHeadFile.Read(WalStorage.Files, directory).Head!.Value;
        using var cursor = new LogCursor(WalStorage.Files, directory, head, tolerateRepairableMarkers: true, retryBeforeRefusing: null);
        while (cursor.MoveNext())
        {
        }

        Assert.Equal(DamageKind.Corruption, cursor.Damage!.Kind);
        Assert.Equal(1000ul, cursor.Damage.HighestLsnAfter);
        long scanned = new FileInfo(SegmentNames.PathOf(directory, 1)).Length + new FileInfo(SegmentNames.PathOf(directory, 2)).Length;
        Assert.True(cursor.EvidenceCandidatesChecked <= scanned / 8, $"{cursor.EvidenceCandidatesChecked} candidates checked in {scanned} bytes: at most one per 8-byte position.");
        Assert.True(cursor.EvidenceCandidatesChecked > 400_000, "The payloads do look like candidates at nearly every position (the test is hostile).");
        Assert.Equal(1 << 20, cursor.BufferCapacity);
    }
}
