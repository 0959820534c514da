using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Recovery;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Inspection;

/// <summary>
/// <see cref="WalInspection.Inspect(WalOptions, IProgress{long}?, CancellationToken)"/>: the verdict of recovery at open in
/// each mode, held to <see cref="DamageOracle"/> on the damage table's cases and to what <see cref="WriteAheadLog.Open(WalOptions)"/>
/// then does; a healthy log's shape, to the byte; every <c>wal.head</c> verdict; and that an inspection changes nothing.
/// </summary>
public sealed class WalInspectionTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A log of 150 records of 1001 bytes, one batch each, over three 64 KiB segments, without its lock file.</summary>
    private string HealthyLog(string name = "log")
    {
        string written = _temp.Log(name + "-written");
        DamageCases.Write(written, seed: 5, records: 150, payload: 1001);
        string log = _temp.Log(name);
        SegmentFiles.CopyLog(written, log);
        return Path.GetFullPath(log);
    }

    private static WalInspectionReport Inspect(string directory, WalRecoveryMode mode) =>
        WalInspection.Inspect(DamageCases.Options(directory, mode), null, CancellationToken.None);

    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    [InlineData(WalRecoveryMode.Strict)]
    public void A_healthy_log_is_reported_as_it_is(WalRecoveryMode mode)
    {
        string log = HealthyLog();
        LogLayout layout = LogLayout.Read(log);
        string before = DirectorySnapshot.Of(log);

        WalInspectionReport report = Inspect(log, mode);

        Assert.Equal(before, DirectorySnapshot.Of(log));
        Assert.Equal((WalVerdict.Healthy, WalRecoveryAction.Keep), (report.Verdict, report.Action));
        Assert.Null(report.Damage);
        Assert.Null(report.Refusal);
        Assert.Equal((2, layout.LogId, log, mode), (report.FormatVersion, report.LogId, report.Directory, report.Mode));
        Assert.Equal((new Lsn(1), new Lsn(150), 150L), (report.OldestLsn, report.LastLsn, report.RecordCount));
        LayoutSegment[] used = layout.Used.ToArray();
        Assert.Equal(3, used.Length);
        Assert.Equal((used[2].Number, used[2].DataEnd), (report.EndSegment, report.EndOffset));
        Assert.Equal((Lsn.None, Lsn.None), (report.RecoveryDroppedFrom, report.RecoveryDroppedTo));
        Assert.Empty(report.Changes);
        Assert.False(report.HeadCopyDamaged);
        Assert.Null(report.PendingTruncation);

        // 62 records of 1024 bytes (with their 24-byte batch headers) fill a 64 KiB segment; the third holds the other 26.
        Assert.Equal(layout.Segments.Count, report.Segments.Count);
        long[] records = [62, 62, 26];
        for (int i = 0; i < 3; i++)
        {
            WalSegmentInfo info = report.Segments[i];
            Assert.Equal((used[i].Number, used[i].Path), (info.Number, info.Path));
            Assert.Equal((WalSegmentState.Used, 65536L, 65536L, new Lsn(used[i].FirstLsn), used[i].DataEnd, records[i]), (info.State, info.FileBytes, info.HeaderBytes, info.FirstLsn, info.UsedBytes, info.Records));
        }

        WalSegmentInfo next = report.Segments[3];
        Assert.Equal((used[2].Number + 1, WalSegmentState.Prepared, 65536L, 0L, Lsn.None, 0L, 0L), (next.Number, next.State, next.FileBytes, next.HeaderBytes, next.FirstLsn, next.UsedBytes, next.Records));
        Assert.True(report.BytesRead > used[2].DataEnd, $"It read the segments ({report.BytesRead} bytes).");
    }

    /// <summary>Each case of the damage table, inspected in every mode, is what the oracle and the open say, and what the table declares.</summary>
    [Theory]
    [MemberData(nameof(DamageTableTests.Cases), MemberType = typeof(DamageTableTests))]
    public void A_damage_case_is_inspected_as_recovery_judges_it(string damage, DamageTableTests.Verdict tornTail, DamageTableTests.Verdict pointInTime, DamageTableTests.Verdict strict)
    {
        (DamageCheck check, string damaged) = DamageCases.Build(damage, _temp);
        Dictionary<WalRecoveryMode, WalInspectionReport> reports = check.VerifyInspection(damaged, _temp.Log("scratch"), damage);
        foreach ((WalRecoveryMode mode, DamageTableTests.Verdict declared) in new[] { (WalRecoveryMode.TruncateTornTail, tornTail), (WalRecoveryMode.PointInTime, pointInTime), (WalRecoveryMode.Strict, strict) })
        {
            Assert.True(
                (reports[mode].Action == WalRecoveryAction.Refuse) == (declared == DamageTableTests.Verdict.Throws),
                $"{damage}: the table says {declared} in {mode}; the inspection says {reports[mode].Action}.");
        }
    }

    [Fact]
    public void An_empty_directory_holds_no_log_and_its_inspection_creates_nothing()
    {
        string empty = _temp.Log("empty");
        Directory.CreateDirectory(empty);

        WalInspectionReport report = Inspect(empty, WalRecoveryMode.TruncateTornTail);

        Assert.Equal((WalVerdict.NoLog, WalRecoveryAction.Create, 0UL, 0, Lsn.None, 0L), (report.Verdict, report.Action, report.LogId, report.FormatVersion, report.LastLsn, report.RecordCount));
        Assert.Empty(report.Segments);
        Assert.Empty(Directory.GetFileSystemEntries(empty));
    }

    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    [InlineData(WalRecoveryMode.Strict)]
    public void A_missing_wal_head_beside_segments_is_refused_as_the_open_refuses_it(WalRecoveryMode mode)
    {
        string log = HealthyLog();
        File.Delete(LogHeadFile.PathOf(log));
        string before = DirectorySnapshot.Of(log);

        WalInspectionReport report = Inspect(log, mode);

        Assert.Equal(before, DirectorySnapshot.Of(log));
        Assert.Equal((WalVerdict.HeadMissing, WalRecoveryAction.Refuse), (report.Verdict, report.Action));
        Assert.All(report.Segments, s => Assert.Equal(WalSegmentState.NotRead, s.State));
        Assert.Equal((Lsn.None, 0L), (report.OldestLsn, report.RecordCount));
        AssertOpenRefusesAsReported(report, log, mode);
    }

    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    [InlineData(WalRecoveryMode.Strict)]
    public void A_wal_head_without_an_intact_copy_is_refused_as_the_open_refuses_it(WalRecoveryMode mode)
    {
        string log = HealthyLog();
        SegmentFiles.Flip(LogHeadFile.PathOf(log), 30);
        SegmentFiles.Flip(LogHeadFile.PathOf(log), 4096 + 30);

        WalInspectionReport report = Inspect(log, mode);

        Assert.Equal((WalVerdict.HeadDamaged, WalRecoveryAction.Refuse), (report.Verdict, report.Action));
        Assert.StartsWith("no copy of wal.head is intact", report.Refusal!.Message.Split(": ", 2)[1], StringComparison.Ordinal);
        AssertOpenRefusesAsReported(report, log, mode);
    }

    /// <summary>One damaged copy: Strict refuses; the other modes keep everything and rewrite both copies (a change from byte 16, the sequence).</summary>
    [Theory]
    [InlineData(WalRecoveryMode.TruncateTornTail)]
    [InlineData(WalRecoveryMode.PointInTime)]
    [InlineData(WalRecoveryMode.Strict)]
    public void One_damaged_copy_of_wal_head_is_refused_by_Strict_only(WalRecoveryMode mode)
    {
        string log = HealthyLog();
        SegmentFiles.Flip(LogHeadFile.PathOf(log), 4096 + 30);

        WalInspectionReport report = Inspect(log, mode);

        if (mode == WalRecoveryMode.Strict)
        {
            Assert.Equal((WalVerdict.HeadDamaged, WalRecoveryAction.Refuse), (report.Verdict, report.Action));
            Assert.Equal(4096, report.Refusal!.Offset);
            AssertOpenRefusesAsReported(report, log, mode);
            return;
        }

        Assert.Equal((WalVerdict.Healthy, WalRecoveryAction.Keep, true, new Lsn(150)), (report.Verdict, report.Action, report.HeadCopyDamaged, report.LastLsn));
        WalFileChange change = Assert.Single(report.Changes);
        Assert.Equal((LogHeadFile.PathOf(log), WalFileChangeKind.Rewritten, 16L, (long)LogHeadFile.FileBytes), (change.Path, change.Kind, change.Offset, change.FileBytes));
        using WriteAheadLog opened = WriteAheadLog.Open(DamageCases.Options(log, mode));
        Assert.Equal(new Lsn(150), opened.LastLsn);
    }

    [Fact]
    public void A_log_a_writer_holds_open_is_refused_and_the_writer_goes_on()
    {
        string log = _temp.Log("live");
        using var writer = WriteAheadLog.Open(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail));
        writer.AppendDurable(new byte[100]);

        var e = Assert.Throws<WalException>(() => Inspect(log, WalRecoveryMode.TruncateTornTail));

        Assert.Equal($"The log directory '{Path.GetFullPath(log)}' is open by a writer (its lock is held): inspect or repair it once the writer has closed it. WalReader.Open reads a snapshot of a log being written.", e.Message);
        Assert.Equal(new Lsn(2), writer.AppendDurable(new byte[100]));
    }

    [Fact]
    public void A_missing_directory_is_reported_and_not_created()
    {
        string missing = _temp.Log("missing");
        var e = Assert.Throws<DirectoryNotFoundException>(() => Inspect(missing, WalRecoveryMode.TruncateTornTail));
        Assert.Equal($"The log directory '{Path.GetFullPath(missing)}' does not exist.", e.Message);
        Assert.False(Directory.Exists(missing));
    }

    [Fact]
    public void Progress_counts_the_bytes_read_and_a_cancelled_inspection_stops()
    {
        string log = HealthyLog();
        var seen = new RecordingProgress();

        WalInspectionReport report = WalInspection.Inspect(log, WalRecoveryMode.TruncateTornTail, seen);

        Assert.True(seen.Values.Count > 1, $"Progress was told {seen.Values.Count} times.");
        Assert.True(seen.Values.Zip(seen.Values.Skip(1)).All(p => p.First < p.Second), "The bytes read only grow.");
        Assert.Equal(report.BytesRead, seen.Values[^1]);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => WalInspection.Inspect(log, WalRecoveryMode.TruncateTornTail, null, cancelled.Token));
    }

    /// <summary>
    /// A copy of wal.head whose write failed in this process stays suspect after an inspection (the next real update writes
    /// it first): the dry run's writes of wal.head are not the file's. (Found while building the inspection: recovery's
    /// write of wal.head over the dry run cleared the mark.)
    /// </summary>
    [Fact]
    public void An_inspection_leaves_a_head_copy_whose_write_failed_suspect()
    {
        string log = HealthyLog();
        string head = LogHeadFile.PathOf(log);
        bool armed = false;
        var disk = new SimulatedDisk(1)
        {
            FaultOn = DiskOperation.Write,
            FaultWhen = (_, path) => Volatile.Read(ref armed) && path == head,
            Fault = DiskFault.IoError,
            Tear = TornWrite.BytePrefix,
        };
        WriteAheadLog failing = WriteAheadLog.Open(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail), disk); // the same path, in memory
        try
        {
            for (ulong lsn = 1; lsn <= 150; lsn++)
            {
                failing.AppendDurable(new byte[1001]);
            }

            Volatile.Write(ref armed, true);
            Assert.Throws<WalException>(() => failing.TruncateBefore(new Lsn(100))); // wal.head's first copy: EIO
        }
        finally
        {
            Record.Exception(failing.Dispose);
        }

        Assert.True(LogHeadFile.HasSuspectCopy(head), "The failed copy is suspect.");

        WalInspectionReport report = Inspect(log, WalRecoveryMode.TruncateTornTail);

        Assert.Equal(WalVerdict.Healthy, report.Verdict);
        Assert.True(LogHeadFile.HasSuspectCopy(head), "The inspection left the failed copy suspect.");
    }

    /// <summary>
    /// An inspection tells the event source nothing: the segments its dry run deletes are not deleted. The repair that
    /// then deletes them says so, once each.
    /// </summary>
    [Fact]
    public void An_inspection_writes_no_event_and_the_repair_after_it_does()
    {
        (_, string damaged) = DamageCases.Build("flipped bit in a middle record", _temp);
        string log = Path.GetFullPath(damaged);
        using var events = new EventCapture(log);

        WalInspectionReport report = Inspect(log, WalRecoveryMode.PointInTime);

        string[] deleted = report.Changes.Where(c => c.Kind == WalFileChangeKind.Deleted).Select(c => c.Path).ToArray();
        Assert.Equal(2, deleted.Length); // the last used segment and the prepared one
        Assert.Empty(events.All);
        WalInspection.Repair(DamageCases.Options(log, WalRecoveryMode.PointInTime), _temp.Log("backup"));
        Assert.Equal(deleted.OrderDescending(StringComparer.Ordinal), events.Named("SegmentDeleted").Select(e => e.Field<string>("path")));
    }

    /// <summary>Open in that mode throws exactly the exception the inspection reported (on a copy of the log).</summary>
    private void AssertOpenRefusesAsReported(WalInspectionReport report, string log, WalRecoveryMode mode)
    {
        string copy = Path.GetFullPath(_temp.Log($"open-{mode}"));
        SegmentFiles.CopyLog(log, copy);
        var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(DamageCases.Options(copy, mode)).Dispose());
        Assert.Equal(report.Refusal!.Message.Replace(log, copy, StringComparison.Ordinal), e.Message);
        Assert.Equal(report.Refusal.Offset, e.Offset);
    }

    /// <summary>Records every report on the reporting thread (<see cref="Progress{T}"/> would post them elsewhere).</summary>
    private sealed class RecordingProgress : IProgress<long>
    {
        public List<long> Values { get; } = [];

        public void Report(long value) => Values.Add(value);
    }
}
