using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// A TruncateAfter that wal.head records and a crash interrupted (native-layout.md, section 6), met by readers and by
/// recovery together with damage besides the crash. Each case found by review: a reader called the torn rewrite of the
/// cut's batch header damage; a damaged kept frame made the log unopenable in every mode; a missing cut segment made Open
/// throw a FileNotFoundException in every mode.
/// </summary>
public sealed class PendingCutTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static WalOptions Options(string directory, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) =>
        new() { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 1, MaxEntryBytes = 4096, MaxRecycledSegments = 1, RecoveryMode = mode };

    private static byte[] PayloadOf(ulong lsn) => Payloads.Make(1, (long)lsn, 200 + (int)(lsn % 300));

    private static LogHead Head(string directory) => LogHeadFile.Read(WalStorage.Files, directory).Head!.Value;

    /// <summary>
    /// 400 records in bursts of 8, then TruncateAfter(cut) with the power lost right after wal.head's two copies record the
    /// cut: the image, with the cut pending, in <paramref name="pending"/>.
    /// </summary>
    private static void BuildPending(string pending, ulong cut)
    {
        var disk = new SimulatedDisk(1);
        string directory = Path.GetFullPath(pending + "-disk");
        int headWrites = 0;
        bool armed = false;
        disk.BeforeOperation = (operation, path) =>
        {
            if (!Volatile.Read(ref armed))
            {
                return;
            }

            if (headWrites == 2)
            {
                disk.PowerLoss(); // both copies record the cut; nothing of it is made
                return;
            }

            if (operation == DiskOperation.Write && path.EndsWith(LogHeadFile.FileName, StringComparison.Ordinal))
            {
                headWrites++;
            }
        };

        WriteAheadLog log = WriteAheadLog.Open(Options(directory), disk);
        try
        {
            for (ulong lsn = 1; lsn <= 400;)
            {
                for (int i = 0; i < 8 && lsn <= 400; i++, lsn++)
                {
                    log.Append(PayloadOf(lsn));
                }

                log.Flush();
            }

            log.TestHookWaitForPreparedSegment();
            Volatile.Write(ref armed, true);
            Assert.Throws<WalException>(() => log.TruncateAfter(new Lsn(cut)));
        }
        finally
        {
            Record.Exception(log.Dispose);
        }

        disk.RestoreImageTo(pending);
        Assert.True(Head(pending).RewindPending, "The image holds the cut, pending.");
    }

    /// <summary>A pending cut whose batch keeps at least one record (its first LSN below the cut's); returns the cut's LSN.</summary>
    private ulong PendingKeepingFrames(string pending)
    {
        foreach (ulong cut in new ulong[] { 42, 43, 45, 46, 50, 51 })
        {
            string attempt = pending + "-" + cut;
            BuildPending(attempt, cut);
            if (Head(attempt).RewindBatchLsn < cut)
            {
                SegmentFiles.CopyLog(attempt, pending);
                return cut;
            }
        }

        throw new InvalidOperationException("No cut fell inside a batch.");
    }

    /// <summary>
    /// The crash tore the first write that completes the cut (the new batch header, its first 5 bytes): a reader in every
    /// mode reads exactly the records up to the cut, with no error, as recovery keeps them.
    /// </summary>
    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    [InlineData(WalRecoveryMode.Strict)]
    public void A_reader_of_a_pending_cut_with_a_torn_header_rewrite_reads_the_kept_records(WalRecoveryMode mode)
    {
        string pending = _temp.Log("pending");
        ulong cut = PendingKeepingFrames(pending);
        LogHead head = Head(pending);
        string completed = _temp.Log("completed");
        SegmentFiles.CopyLog(pending, completed);
        using (WriteAheadLog.Open(Options(completed)))
        {
        }

        string segment = Path.GetFileName(SegmentNames.PathOf(pending, head.RewindSegment));
        byte[] torn = File.ReadAllBytes(Path.Combine(completed, segment)).AsSpan((int)head.RewindOffset, 5).ToArray();
        SegmentFiles.Patch(Path.Combine(pending, segment), head.RewindOffset, torn);

        var records = new List<(ulong Lsn, byte[] Payload)>();
        using (WalReader reader = WalReader.Open(pending, Lsn.None, mode))
        {
            while (reader.TryRead(out WalRecord record))
            {
                records.Add((record.Lsn.Value, record.Payload.ToArray()));
            }

            Assert.False(reader.StoppedAtUnverifiedWrite);
        }

        Assert.Equal((int)cut, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(records[i].Lsn == (ulong)i + 1 && records[i].Payload.AsSpan().SequenceEqual(PayloadOf((ulong)i + 1)), $"Record {i + 1} is byte-exact.");
        }

        using WriteAheadLog log = WriteAheadLog.Open(Options(pending, mode));
        Assert.Equal(new Lsn(cut), log.LastLsn);
        Assert.Equal(Lsn.None, log.GetMetrics().RecoveryDroppedFrom);
    }

    /// <summary>
    /// A flipped byte in the first kept frame of a pending cut: as for a damaged last write, TruncateTornTail and
    /// PointInTime drop the kept batch and report it; Strict refuses.
    /// </summary>
    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    [InlineData(WalRecoveryMode.Strict)]
    public void A_damaged_kept_frame_of_a_pending_cut_drops_the_kept_batch_and_says_so(WalRecoveryMode mode)
    {
        string pending = _temp.Log("pending");
        ulong cut = PendingKeepingFrames(pending);
        LogHead head = Head(pending);
        string segment = SegmentNames.PathOf(pending, head.RewindSegment);
        SegmentFiles.Flip(segment, head.RewindOffset + BatchHeader.Size + 20);
        if (mode == WalRecoveryMode.Strict)
        {
            var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(pending, mode)).Dispose());
            Assert.StartsWith($"TruncateAfter({cut}) keeps LSN {head.RewindBatchLsn}, but its frame is damaged", e.Message.Split(": ", 2)[1], StringComparison.Ordinal);
            return;
        }

        using (WriteAheadLog log = WriteAheadLog.Open(Options(pending, mode)))
        {
            Assert.Equal(new Lsn(head.RewindBatchLsn - 1), log.LastLsn);
            Assert.Equal((new Lsn(head.RewindBatchLsn), new Lsn(cut)), (log.GetMetrics().RecoveryDroppedFrom, log.GetMetrics().RecoveryDroppedTo));
        }

        List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(pending, WalRecoveryMode.Strict);
        Assert.Equal((int)head.RewindBatchLsn - 1, records.Count);
        Assert.All(records, r => Assert.True(r.Payload.AsSpan().SequenceEqual(PayloadOf(r.Lsn)), $"Record {r.Lsn} is byte-exact."));
    }

    /// <summary>
    /// An inspection of a pending cut reports it, changes nothing, and gives the log recovery leaves: the records up to the
    /// cut, nothing reported dropped (a cut asked for is no loss), the cut's segment rewritten and the segments after it
    /// deleted.
    /// </summary>
    [Fact]
    public void An_inspection_reports_a_pending_cut_and_the_log_its_completion_leaves()
    {
        string pending = _temp.Log("pending");
        BuildPending(pending, 42);
        LogHead head = Head(pending);
        string before = DirectorySnapshot.Of(pending);

        WalInspectionReport report = WalInspection.Inspect(Options(pending), null, CancellationToken.None);

        Assert.Equal(before, DirectorySnapshot.Of(pending));
        WalPendingTruncation truncation = report.PendingTruncation!;
        Assert.Equal((new Lsn(42), SegmentNames.PathOf(Path.GetFullPath(pending), head.RewindSegment), head.RewindOffset), (truncation.KeepsUpTo, truncation.SegmentPath, truncation.Offset));
        Assert.Equal((WalVerdict.Healthy, WalRecoveryAction.Keep, new Lsn(42), Lsn.None), (report.Verdict, report.Action, report.LastLsn, report.RecoveryDroppedFrom));
        Assert.Contains(report.Changes, c => c.Kind == WalFileChangeKind.Rewritten && c.Path == truncation.SegmentPath && c.Offset >= head.RewindOffset);
        Assert.Equal(
            SegmentNames.List(WalStorage.Files, pending).Where(n => n > head.RewindSegment).Select(n => SegmentNames.PathOf(Path.GetFullPath(pending), n)),
            report.Changes.Where(c => c.Kind == WalFileChangeKind.Deleted).Select(c => c.Path));
        using WriteAheadLog log = WriteAheadLog.Open(Options(pending));
        Assert.Equal((new Lsn(42), Lsn.None), (log.LastLsn, log.GetMetrics().RecoveryDroppedFrom));
    }

    /// <summary>
    /// A repair completes a pending cut as recovery does, after saving what the cut drops: the cut segment from its
    /// rewritten batch header on, every segment after it whole, and wal.head; nothing is reported dropped (a cut asked for).
    /// </summary>
    [Fact]
    public void A_repair_completes_a_pending_cut_after_saving_what_it_drops()
    {
        string pending = Path.GetFullPath(_temp.Log("pending"));
        BuildPending(pending, 42);
        LogHead head = Head(pending);
        string before = _temp.Log("before");
        SegmentFiles.CopyLog(pending, before);
        ulong[] later = SegmentNames.List(WalStorage.Files, pending).Where(n => n > head.RewindSegment).ToArray();
        Assert.NotEmpty(later);

        WalRepairReport repair = WalInspection.Repair(Options(pending), _temp.Log("backup"));

        Assert.Equal((true, Lsn.None, Lsn.None), (repair.Changed, repair.DroppedFrom, repair.DroppedTo));
        WalSavedFile tail = repair.Saved[0];
        Assert.Equal((SegmentNames.PathOf(pending, head.RewindSegment), WalFileChangeKind.Rewritten), (tail.SourcePath, tail.Change));
        Assert.InRange(tail.Offset, head.RewindOffset, head.RewindOffset + BatchHeader.Size - 1);
        Assert.Equal(
            later.Select(n => (SegmentNames.PathOf(pending, n), WalFileChangeKind.Deleted, 0L)).Append((LogHeadFile.PathOf(pending), WalFileChangeKind.Rewritten, 0L)),
            repair.Saved.Skip(1).Select(s => (s.SourcePath, s.Change, s.Offset)));
        Assert.All(repair.Saved, saved => Assert.True(
            File.ReadAllBytes(Path.Combine(before, Path.GetFileName(saved.SourcePath))).AsSpan((int)saved.Offset).SequenceEqual(File.ReadAllBytes(saved.BackupPath)),
            $"{saved.BackupPath} holds the bytes of {saved.SourcePath} from {saved.Offset} on, as they were."));
        using WriteAheadLog log = WriteAheadLog.Open(Options(pending));
        Assert.Equal((new Lsn(42), Lsn.None), (log.LastLsn, log.GetMetrics().RecoveryDroppedFrom));
    }

    /// <summary>A damaged kept frame of a pending cut, inspected: the verdict, the range and the refusal recovery gives in each mode.</summary>
    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    [InlineData(WalRecoveryMode.Strict)]
    public void An_inspection_of_a_damaged_kept_frame_of_a_pending_cut_gives_recoverys_verdict(WalRecoveryMode mode)
    {
        string pending = _temp.Log("pending");
        ulong cut = PendingKeepingFrames(pending);
        LogHead head = Head(pending);
        SegmentFiles.Flip(SegmentNames.PathOf(pending, head.RewindSegment), head.RewindOffset + BatchHeader.Size + 20);
        string before = DirectorySnapshot.Of(pending);

        WalInspectionReport report = WalInspection.Inspect(Options(pending, mode), null, CancellationToken.None);

        Assert.Equal(before, DirectorySnapshot.Of(pending));
        WalRecoveryAction action = mode == WalRecoveryMode.Strict ? WalRecoveryAction.Refuse : WalRecoveryAction.Cut;
        WalDamage damage = report.Damage!;
        Assert.Equal((WalVerdict.TornTail, action, WalDamageKind.TornTail, action), (report.Verdict, report.Action, damage.Kind, damage.Action));
        Assert.Equal((head.RewindSegment, head.RewindOffset, new Lsn(head.RewindBatchLsn), new Lsn(cut)), (damage.SegmentNumber, damage.WriteOffset, damage.DroppedFrom, damage.DroppedTo));
        if (mode == WalRecoveryMode.Strict)
        {
            var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(pending, mode)).Dispose());
            Assert.Equal(report.Refusal!.Message, e.Message);
            return;
        }

        using WriteAheadLog log = WriteAheadLog.Open(Options(pending, mode));
        Assert.Equal((new Lsn(head.RewindBatchLsn - 1), new Lsn(head.RewindBatchLsn), new Lsn(cut)), (report.LastLsn, report.RecoveryDroppedFrom, report.RecoveryDroppedTo));
        Assert.Equal((report.LastLsn, report.RecoveryDroppedFrom, report.RecoveryDroppedTo), (log.LastLsn, log.GetMetrics().RecoveryDroppedFrom, log.GetMetrics().RecoveryDroppedTo));
    }

    /// <summary>The pending cut's segment is missing: recovery judges it as any missing segment (TruncateTornTail refuses, PointInTime cuts before it).</summary>
    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    public void A_missing_segment_of_a_pending_cut_is_judged_as_any_missing_segment(WalRecoveryMode mode)
    {
        string pending = _temp.Log("pending");
        BuildPending(pending, 42);
        LogHead head = Head(pending);
        string segment = SegmentNames.PathOf(pending, head.RewindSegment);
        ulong segmentFirst = SegmentHeader.ReadCurrent(WalStorage.Files, segment)!.Value.FirstLsn;
        File.Delete(segment);
        if (mode == WalRecoveryMode.TruncateTornTail)
        {
            var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(Options(pending, mode)).Dispose());
            Assert.EndsWith(Path.GetFileName(segment), e.SegmentPath, StringComparison.Ordinal);
            return;
        }

        using WriteAheadLog log = WriteAheadLog.Open(Options(pending, mode));
        Assert.Equal(new Lsn(segmentFirst - 1), log.LastLsn);
        Assert.Equal(new Lsn(segmentFirst), log.GetMetrics().RecoveryDroppedFrom);
    }
}
