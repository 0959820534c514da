using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// Damages a copy of a pristine log and holds the reader and the writer's recovery, in every mode, to exactly what
/// <see cref="DamageOracle"/> says: where they throw (file and an offset within the damaged write), the last record kept,
/// every kept record byte-exact, the dropped range reported, and a log that reads clean in Strict after recovery.
/// </summary>
internal sealed class DamageCheck
{
    private readonly string _pristine;
    private readonly Dictionary<string, byte[]> _pristineBytes;
    private readonly Func<ulong, byte[]> _payloadOf;
    private readonly Func<string, WalRecoveryMode, WalOptions> _options;

    public DamageCheck(string pristine, Func<ulong, byte[]> payloadOf, Func<string, WalRecoveryMode, WalOptions> options)
    {
        _pristine = pristine;
        _payloadOf = payloadOf;
        _options = options;
        _pristineBytes = Directory.GetFiles(pristine).ToDictionary(p => Path.GetFileName(p)!, File.ReadAllBytes);
        Layout = LogLayout.Read(pristine);
    }

    public LogLayout Layout { get; }

    /// <summary>The payload record <paramref name="lsn"/> of the pristine log carries.</summary>
    public byte[] PayloadOf(ulong lsn) => _payloadOf(lsn);

    /// <summary>What the oracle says recovery does with <paramref name="damaged"/>, a damaged copy of the pristine log.</summary>
    public Expectation Expect(string damaged) => DamageOracle.Expect(Layout, _pristineBytes, damaged);

    /// <summary>A fresh copy of the pristine log in <paramref name="directory"/>.</summary>
    public void CopyTo(string directory) => SegmentFiles.CopyLog(_pristine, directory);

    /// <summary>
    /// Runs the check on <paramref name="damaged"/>, a damaged copy that is left unchanged: the reader in every mode reads
    /// it in place; the writer's recovery in each of <paramref name="openModes"/> runs on a copy of it under
    /// <paramref name="scratch"/>.
    /// </summary>
    public Expectation Verify(string damaged, string scratch, string context, IEnumerable<WalRecoveryMode> openModes)
    {
        Expectation expected = DamageOracle.Expect(Layout, _pristineBytes, damaged);
        context = $"{context}; expected: {expected}";
        foreach (WalRecoveryMode mode in Enum.GetValues<WalRecoveryMode>())
        {
            CheckReader(damaged, mode, expected, $"{context}; reader in {mode}");
        }

        foreach (WalRecoveryMode mode in openModes)
        {
            string copy = Path.Combine(scratch, $"open-{mode}");
            SegmentFiles.CopyLog(damaged, copy);
            CheckOpen(copy, mode, expected, $"{context}; open in {mode}");
        }

        return expected;
    }

    /// <summary>
    /// Inspects <paramref name="damaged"/> in every mode (<see cref="WalInspection"/>) and holds each report to what
    /// <see cref="DamageOracle"/> says recovery does in that mode (verdict, action, the damaged file and write, the last
    /// record kept, where the log ends, the dropped range, every segment's state, used bytes and records), then to what
    /// <see cref="WriteAheadLog.Open(WalOptions)"/> in that mode does to a copy (the same exception, or the same last LSN
    /// and reported range). The inspection changes no byte of <paramref name="damaged"/> and creates no file there.
    /// Returns the reports, by mode.
    /// </summary>
    public Dictionary<WalRecoveryMode, WalInspectionReport> VerifyInspection(string damaged, string scratch, string context)
    {
        Expectation expected = DamageOracle.Expect(Layout, _pristineBytes, damaged);
        var reports = new Dictionary<WalRecoveryMode, WalInspectionReport>();
        foreach (WalRecoveryMode mode in Enum.GetValues<WalRecoveryMode>())
        {
            string where = $"{context}; expected: {expected}; inspected in {mode}";
            string before = DirectorySnapshot.Of(damaged);
            WalInspectionReport report = WalInspection.Inspect(_options(damaged, mode), null, CancellationToken.None);
            Assert.True(before == DirectorySnapshot.Of(damaged), $"{where}: the inspection changed the directory.");
            CheckReport(report, damaged, mode, expected, where);
            string copy = Path.Combine(scratch, $"inspect-{mode}");
            SegmentFiles.CopyLog(damaged, copy);
            CheckAgainstOpen(report, copy, mode, where);
            reports[mode] = report;
        }

        return reports;
    }

    private void CheckReport(WalInspectionReport report, string damaged, WalRecoveryMode mode, Expectation expected, string context)
    {
        LayoutUnit? unit = mode == WalRecoveryMode.Strict ? expected.StrictUnit : expected.CutUnit;
        Assert.True((report.FormatVersion, report.LogId, report.OldestLsn, report.Mode) == (2, Layout.LogId, new Lsn(Layout.FirstLsn), mode), $"{context}: version, log id, oldest LSN, mode.");
        Assert.Null(report.PendingTruncation);
        ulong last = unit is null ? Layout.LastLsn : unit.FirstLsn - 1;
        Assert.True(report.LastLsn == new Lsn(last) && report.RecordCount == (long)(last + 1 - Layout.FirstLsn), $"{context}: last LSN {report.LastLsn} and {report.RecordCount} records; must be {last}.");
        LayoutSegment lastUsed = Layout.Used.Last();
        (ulong Segment, long Offset) end = unit is null ? (lastUsed.Number, lastUsed.DataEnd)
            : unit.Kind != UnitKind.Opening ? (unit.Segment, unit.Start)
            : Layout.Used.LastOrDefault(s => s.Number < unit.Segment) is { } previous ? (previous.Number, previous.DataEnd)
            : (0UL, 0L);
        Assert.True((report.EndSegment, report.EndOffset) == end, $"{context}: the log ends at segment {report.EndSegment}, offset {report.EndOffset}; must be {end}.");
        if (unit is null)
        {
            Assert.True(
                (report.Verdict, report.Action, report.Damage, report.Refusal, report.RecoveryDroppedFrom, report.RecoveryDroppedTo) == (WalVerdict.Healthy, WalRecoveryAction.Keep, null, null, Lsn.None, Lsn.None),
                $"{context}: verdict {report.Verdict}, action {report.Action}, damage at {report.Damage?.Offset}: must be healthy.");
        }
        else
        {
            // In Strict the first damaged unit may be an end marker that the next segment's intact header makes good in the
            // other modes: that header is a later write, so it is corruption.
            bool corruption = unit != expected.CutUnit || expected.IsCorruption;
            WalRecoveryAction action = mode == WalRecoveryMode.PointInTime || (mode == WalRecoveryMode.TruncateTornTail && !corruption) ? WalRecoveryAction.Cut : WalRecoveryAction.Refuse;
            WalDamage damage = report.Damage ?? throw new Xunit.Sdk.XunitException($"{context}: no damage reported.");
            Assert.True(
                (report.Verdict, report.Action, damage.Kind, damage.Action) == (corruption ? WalVerdict.Corruption : WalVerdict.TornTail, action, corruption ? WalDamageKind.Corruption : WalDamageKind.TornTail, action),
                $"{context}: verdict {report.Verdict} ({damage.Kind}), action {report.Action}: {damage.Reason}");
            Assert.True(
                Path.GetFileName(damage.SegmentPath) == Path.GetFileName(unit.Path) && damage.SegmentNumber == unit.Segment && damage.WriteOffset == unit.Start && damage.Offset >= unit.Start && damage.Offset < unit.End,
                $"{context}: damage at byte {damage.Offset} (write at {damage.WriteOffset}) of {Path.GetFileName(damage.SegmentPath)}, must be the write {unit}.");
            Assert.True(damage.DroppedFrom == new Lsn(unit.FirstLsn) && (unit != expected.CutUnit || damage.DroppedTo == new Lsn(expected.DroppedTo)), $"{context}: dropped [{damage.DroppedFrom}, {damage.DroppedTo}].");
            bool cut = action == WalRecoveryAction.Cut;
            Assert.True(
                (report.RecoveryDroppedFrom, report.RecoveryDroppedTo) == (cut ? new Lsn(expected.DroppedFrom) : Lsn.None, cut ? new Lsn(expected.DroppedTo) : Lsn.None),
                $"{context}: recovery reports [{report.RecoveryDroppedFrom}, {report.RecoveryDroppedTo}].");
            Assert.True((report.Refusal is not null) == !cut, $"{context}: a refusal is given exactly when the mode refuses.");
        }

        string[] files = Directory.GetFiles(damaged, "*" + Storage.SegmentNames.Extension);
        Assert.Equal(files.Length, report.Segments.Count(s => s.Path.EndsWith(Storage.SegmentNames.Extension, StringComparison.Ordinal)));
        foreach (LayoutSegment segment in Layout.Segments)
        {
            string path = Path.Combine(damaged, Path.GetFileName(segment.Path));
            if (!File.Exists(path))
            {
                continue;
            }

            WalSegmentInfo info = report.Segments.Single(s => s.Path == Path.GetFullPath(path));
            long records = Layout.Units.Where(u => u.Kind == UnitKind.Batch && u.Segment == segment.Number).Sum(u => (long)u.Records);
            (WalSegmentState State, long Used, long Records) want =
                segment.Used && (unit is null || segment.Number < unit.Segment) ? (WalSegmentState.Used, segment.DataEnd, records)
                : unit is not null && segment.Number == unit.Segment ? (WalSegmentState.Damaged, unit.Kind == UnitKind.Opening ? 0 : unit.Start, unit.Kind == UnitKind.Opening ? 0 : (long)(unit.FirstLsn - segment.FirstLsn))
                : (OpeningIsZero(path) ? WalSegmentState.Prepared : WalSegmentState.BeyondEnd, 0, 0);
            Assert.True(
                (info.State, info.UsedBytes, info.Records, info.FileBytes) == (want.State, want.Used, want.Records, new FileInfo(path).Length),
                $"{context}: segment {segment.Number} is {info.State} with {info.UsedBytes} bytes used and {info.Records} records; must be {want}.");
        }
    }

    /// <summary>The report is what Open in that mode does: the exception it throws, or the log it leaves and the range it reports.</summary>
    private void CheckAgainstOpen(WalInspectionReport report, string copy, WalRecoveryMode mode, string context)
    {
        if (report.Action == WalRecoveryAction.Refuse)
        {
            var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(_options(copy, mode)).Dispose());
            WalCorruptionException refusal = report.Refusal!;
            Assert.True(
                Path.GetFileName(e.SegmentPath) == Path.GetFileName(refusal.SegmentPath) && e.Offset == refusal.Offset && e.Message == refusal.Message.Replace(report.Directory, Path.GetFullPath(copy), StringComparison.Ordinal),
                $"{context}: Open threw '{e.Message}', the inspection said '{refusal.Message}'.");
            return;
        }

        using WriteAheadLog log = WriteAheadLog.Open(_options(copy, mode));
        WalMetrics metrics = log.GetMetrics();
        Assert.True(
            (log.LastLsn, metrics.RecoveryDroppedFrom, metrics.RecoveryDroppedTo) == (report.LastLsn, report.RecoveryDroppedFrom, report.RecoveryDroppedTo),
            $"{context}: Open kept to LSN {log.LastLsn} and reported [{metrics.RecoveryDroppedFrom}, {metrics.RecoveryDroppedTo}]; the inspection said {report.LastLsn}, [{report.RecoveryDroppedFrom}, {report.RecoveryDroppedTo}].");
    }

    private static bool OpeningIsZero(string path)
    {
        byte[] bytes = SegmentFiles.ReadShared(path, Storage.SegmentHeader.OpeningWriteBytes);
        return bytes.Length == Storage.SegmentHeader.OpeningWriteBytes && !bytes.AsSpan().ContainsAnyExcept((byte)0);
    }

    private void CheckReader(string directory, WalRecoveryMode mode, Expectation expected, string context)
    {
        LayoutUnit? throwsAt = expected.ReaderThrowsAt(mode);
        var records = new List<(ulong Lsn, byte[] Payload)>();
        bool stoppedUnverified;
        try
        {
            using WalReader reader = WalReader.Open(directory, Lsn.None, mode);
            while (reader.TryRead(out WalRecord record))
            {
                records.Add((record.Lsn.Value, record.Payload.ToArray()));
            }

            stoppedUnverified = reader.StoppedAtUnverifiedWrite;
        }
        catch (WalCorruptionException e)
        {
            AssertLocated(e, throwsAt, context);
            return;
        }

        Assert.True(throwsAt is null, $"{context}: it must throw at {throwsAt}, but read {records.Count} records.");
        AssertRecords(records, expected.ReaderKeptLast(mode, Layout.LastLsn), context);
        Assert.True(stoppedUnverified == expected.ReaderStopsUnverified(mode), $"{context}: StoppedAtUnverifiedWrite is {stoppedUnverified}.");
    }

    private void CheckOpen(string directory, WalRecoveryMode mode, Expectation expected, string context)
    {
        LayoutUnit? throwsAt = expected.ThrowsAt(mode);
        ulong kept = mode == WalRecoveryMode.Strict ? Layout.LastLsn : expected.KeptLast;
        try
        {
            using WriteAheadLog log = WriteAheadLog.Open(_options(directory, mode));
            Assert.True(throwsAt is null, $"{context}: it must throw at {throwsAt}, but opened with last LSN {log.LastLsn}.");
            Assert.True(log.LastLsn == new Lsn(kept), $"{context}: the last record kept is {log.LastLsn}, must be {kept}.");
            WalMetrics metrics = log.GetMetrics();
            bool cut = mode != WalRecoveryMode.Strict && expected.CutUnit is not null;
            Assert.True(
                metrics.RecoveryDroppedFrom == new Lsn(cut ? expected.DroppedFrom : 0) && metrics.RecoveryDroppedTo == new Lsn(cut ? expected.DroppedTo : 0),
                $"{context}: reported dropped [{metrics.RecoveryDroppedFrom}, {metrics.RecoveryDroppedTo}].");
            Assert.Equal(new Lsn(kept + 1), log.AppendDurable(_payloadOf(kept + 1)));
        }
        catch (WalCorruptionException e)
        {
            AssertLocated(e, throwsAt, context);
            return;
        }

        // The repair is durable and complete: the log reads clean even in Strict, and reopens the same.
        var records = new List<(ulong Lsn, byte[] Payload)>();
        using (WalReader reader = WalReader.Open(directory, Lsn.None, WalRecoveryMode.Strict))
        {
            while (reader.TryRead(out WalRecord record))
            {
                records.Add((record.Lsn.Value, record.Payload.ToArray()));
            }
        }

        AssertRecords(records, kept + 1, context + ", then reread in Strict");
        using WriteAheadLog again = WriteAheadLog.Open(_options(directory, WalRecoveryMode.Strict));
        Assert.Equal(new Lsn(kept + 1), again.LastLsn);
    }

    private void AssertRecords(List<(ulong Lsn, byte[] Payload)> records, ulong last, string context)
    {
        ulong first = Layout.FirstLsn;
        Assert.True(records.Count == (int)(last + 1 - first), $"{context}: read {records.Count} records (to LSN {(records.Count > 0 ? records[^1].Lsn : 0)}), must read LSNs {first} to {last}.");
        for (int i = 0; i < records.Count; i++)
        {
            ulong lsn = first + (ulong)i;
            Assert.True(records[i].Lsn == lsn && records[i].Payload.AsSpan().SequenceEqual(_payloadOf(lsn)), $"{context}: record {i} is LSN {lsn}, byte-exact.");
        }
    }

    private static void AssertLocated(WalCorruptionException e, LayoutUnit? unit, string context)
    {
        Assert.True(unit is not null, $"{context}: it must not throw, but threw: {e.Message}");
        Assert.True(
            e.SegmentPath.EndsWith(Path.GetFileName(unit.Path), StringComparison.Ordinal) && e.Offset >= unit.Start && e.Offset < unit.End,
            $"{context}: it threw at byte {e.Offset} of {Path.GetFileName(e.SegmentPath)}, which must lie in {unit}: {e.Message}");
    }
}
