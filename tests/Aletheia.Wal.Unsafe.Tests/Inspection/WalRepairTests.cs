using System.Globalization;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Inspection;

/// <summary>
/// <see cref="WalInspection.Repair(WalOptions, string)"/> on the damage table's logs: the side files hold exactly the bytes
/// recovery cut or deleted (compared with a copy taken before), everything before the cut is untouched, the log then reads
/// clean in Strict and opens with nothing more to drop; a refused repair and a repair of a healthy log change no byte.
/// </summary>
public sealed class WalRepairTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>The damage made on a fresh log, and a copy of the damaged log taken before the repair.</summary>
    private (DamageCheck Check, string Damaged, string Before) Damaged(string damage)
    {
        (DamageCheck check, string damaged) = DamageCases.Build(damage, _temp);
        string before = _temp.Log("before");
        SegmentFiles.CopyLog(damaged, before);
        return (check, Path.GetFullPath(damaged), before);
    }

    [Fact]
    public void A_torn_tail_is_cut_after_its_bytes_are_saved()
    {
        (DamageCheck check, string log, string before) = Damaged("torn last record");
        LayoutUnit torn = check.Layout.BatchOf(check.Layout.LastLsn);
        string backup = _temp.Log("backup");

        WalRepairReport repair = WalInspection.Repair(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail), backup);

        ulong kept = torn.FirstLsn - 1;
        Assert.True(repair.Changed);
        Assert.Equal((WalVerdict.TornTail, WalRecoveryAction.Cut), (repair.Inspection.Verdict, repair.Inspection.Action));
        Expectation oracle = check.Expect(before);
        Assert.Equal((new Lsn(torn.FirstLsn), new Lsn(oracle.DroppedFrom), new Lsn(oracle.DroppedTo)), (repair.DroppedFrom, repair.DroppedFrom, repair.DroppedTo));
        AssertSaved(repair, log, before, backup, (Path.GetFileName(torn.Path), torn.Start, WalFileChangeKind.Rewritten), (LogHeadFile.FileName, 0, WalFileChangeKind.Rewritten));
        AssertUntouchedBefore(log, before, Path.GetFileName(torn.Path), torn.Start);
        AssertRepaired(check, log, kept, repair);
    }

    /// <summary>
    /// The side files hold the log's records: the backup directory and its files get the log's modes (0700 and 0600 by
    /// default, 0750 and 0640 with UnixCreateMode 0640), whatever the umask. Found by review: they were 0755 and 0644.
    /// </summary>
    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute)]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute)]
    public void Side_files_are_no_more_readable_than_the_log(UnixFileMode files, UnixFileMode directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        (_, string log, _) = Damaged("torn last record");
        string backup = _temp.Log("backup");
        WalOptions options = DamageCases.Options(log, WalRecoveryMode.TruncateTornTail);
        WalRepairReport repair = WalInspection.Repair(new WalOptions { Directory = log, SegmentSizeBytes = options.SegmentSizeBytes, StripeCount = options.StripeCount, MaxEntryBytes = options.MaxEntryBytes, UnixCreateMode = files }, backup);

        Assert.Equal(2, repair.Saved.Count);
        Assert.Equal(directory, File.GetUnixFileMode(backup));
        foreach (WalSavedFile saved in repair.Saved)
        {
            Assert.Equal(files, File.GetUnixFileMode(saved.BackupPath));
        }
    }

    /// <summary>PointInTime cuts a corrupted middle segment: its tail and every later segment, deleted, are saved whole.</summary>
    [Fact]
    public void A_corruption_cut_in_PointInTime_saves_every_segment_it_deletes()
    {
        (DamageCheck check, string log, string before) = Damaged("flipped bit in a middle record");
        LayoutSegment middle = check.Layout.Used.ElementAt(1);
        LayoutUnit damaged = check.Layout.BatchOf(middle.FirstLsn + 3);
        string backup = _temp.Log("backup");

        WalRepairReport repair = WalInspection.Repair(DamageCases.Options(log, WalRecoveryMode.PointInTime), backup);

        Assert.Equal((WalVerdict.Corruption, WalRecoveryAction.Cut), (repair.Inspection.Verdict, repair.Inspection.Action));
        Expectation oracle = check.Expect(before);
        Assert.Equal((new Lsn(damaged.FirstLsn), new Lsn(oracle.DroppedFrom), new Lsn(oracle.DroppedTo)), (repair.DroppedFrom, repair.DroppedFrom, repair.DroppedTo));
        Assert.Equal(check.Layout.LastLsn, oracle.DroppedTo); // the last segment's end marker speaks of the last record
        var expected = new List<(string, long, WalFileChangeKind)> { (Path.GetFileName(middle.Path), damaged.Start, WalFileChangeKind.Rewritten) };
        expected.AddRange(check.Layout.Segments.Where(s => s.Number > middle.Number).Select(s => (Path.GetFileName(s.Path), 0L, WalFileChangeKind.Deleted)));
        expected.Add((LogHeadFile.FileName, 0, WalFileChangeKind.Rewritten));
        Assert.Equal(4, expected.Count); // the middle segment's tail, the last used segment, the prepared one, wal.head
        AssertSaved(repair, log, before, backup, [.. expected]);
        AssertUntouchedBefore(log, before, Path.GetFileName(middle.Path), damaged.Start);
        Assert.Equal([Path.GetFileName(check.Layout.Used.First().Path), Path.GetFileName(middle.Path)], Directory.GetFiles(log, "*.wal").Select(Path.GetFileName).Order(StringComparer.Ordinal));
        AssertRepaired(check, log, damaged.FirstLsn - 1, repair);
    }

    /// <summary>A healthy verdict can still rewrite bytes: an end marker the next segment makes good is written again, its old bytes saved first.</summary>
    [Fact]
    public void A_repaired_end_marker_is_saved_before_it_is_rewritten()
    {
        (DamageCheck check, string log, string before) = Damaged("flipped bit in a middle segment's end marker");
        LayoutSegment middle = check.Layout.Used.ElementAt(1);
        string backup = _temp.Log("backup");

        WalRepairReport repair = WalInspection.Repair(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail), backup);

        Assert.Equal((WalVerdict.Healthy, WalRecoveryAction.Keep, true, Lsn.None), (repair.Inspection.Verdict, repair.Inspection.Action, repair.Changed, repair.DroppedFrom));
        AssertSaved(repair, log, before, backup, (Path.GetFileName(middle.Path), middle.DataEnd + 9, WalFileChangeKind.Rewritten), (LogHeadFile.FileName, 0, WalFileChangeKind.Rewritten));
        AssertUntouchedBefore(log, before, Path.GetFileName(middle.Path), middle.DataEnd);
        AssertRepaired(check, log, check.Layout.LastLsn, repair);
    }

    [Fact]
    public void A_repair_the_mode_refuses_throws_as_the_open_does_and_changes_no_byte()
    {
        (_, string log, _) = Damaged("flipped bit in a middle record");
        string snapshot = DirectorySnapshot.Of(log);
        string backup = _temp.Log("backup");
        string copy = Path.GetFullPath(_temp.Log("open"));
        SegmentFiles.CopyLog(log, copy);
        var refused = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(DamageCases.Options(copy, WalRecoveryMode.TruncateTornTail)).Dispose());

        var e = Assert.Throws<WalCorruptionException>(() => WalInspection.Repair(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail), backup));

        Assert.Equal(refused.Message.Replace(copy, log, StringComparison.Ordinal), e.Message);
        Assert.Equal(snapshot, DirectorySnapshot.Of(log));
        Assert.False(Directory.Exists(backup), "Nothing was saved.");
    }

    [Fact]
    public void A_healthy_log_is_left_as_it_is_and_nothing_is_saved()
    {
        string log = Path.GetFullPath(_temp.Log("healthy"));
        DamageCases.Write(log, seed: 5, records: 150, payload: 1001);
        string snapshot = DirectorySnapshot.Of(log);
        string backup = _temp.Log("backup");

        WalRepairReport repair = WalInspection.Repair(log, WalRecoveryMode.Strict, backup); // the segment size of the log's segments

        Assert.Equal((false, 0L, Lsn.None, Lsn.None, WalVerdict.Healthy), (repair.Changed, repair.BytesSaved, repair.DroppedFrom, repair.DroppedTo, repair.Inspection.Verdict));
        Assert.Empty(repair.Saved);
        Assert.Equal(snapshot, DirectorySnapshot.Of(log));
        Assert.False(Directory.Exists(backup));
    }

    [Fact]
    public void A_backup_directory_in_the_log_or_holding_files_is_refused()
    {
        (_, string log, _) = Damaged("torn last record");
        string snapshot = DirectorySnapshot.Of(log);
        string inside = Path.Combine(log, "backup");
        var e = Assert.Throws<ArgumentException>(() => WalInspection.Repair(log, WalRecoveryMode.TruncateTornTail, inside));
        Assert.StartsWith($"The backup directory '{inside}' lies in the log directory '{log}'", e.Message, StringComparison.Ordinal);
        string dotted = Path.Combine(log, "..backup"); // a name that starts with two dots, inside
        e = Assert.Throws<ArgumentException>(() => WalInspection.Repair(log, WalRecoveryMode.TruncateTornTail, dotted));
        Assert.StartsWith($"The backup directory '{dotted}' lies in the log directory '{log}'", e.Message, StringComparison.Ordinal);
        string used = _temp.Log("used");
        Directory.CreateDirectory(used);
        File.WriteAllText(Path.Combine(used, "note"), "x");
        e = Assert.Throws<ArgumentException>(() => WalInspection.Repair(log, WalRecoveryMode.TruncateTornTail, used));
        Assert.StartsWith($"The backup directory '{Path.GetFullPath(used)}' already holds files", e.Message, StringComparison.Ordinal);
        Assert.Equal(snapshot, DirectorySnapshot.Of(log));
    }

    /// <summary>
    /// The repair saved exactly these side files, in this order: each holds the bytes its source had, before the repair,
    /// from its offset on (a deleted file and wal.head: all of them), and every byte of a rewritten source after what was
    /// saved is what it was: the side files hold every byte the repair changed.
    /// </summary>
    private static void AssertSaved(WalRepairReport repair, string log, string before, string backup, params (string Name, long Offset, WalFileChangeKind Change)[] expected)
    {
        Assert.Equal(Path.GetFullPath(backup), repair.BackupDirectory);
        Assert.Equal(
            expected.Select(e => (e.Name, e.Offset, e.Change)),
            repair.Saved.Select(s => (Path.GetFileName(s.SourcePath), s.Offset, s.Change)));
        long total = 0;
        foreach (((string name, long offset, WalFileChangeKind change), WalSavedFile saved) in expected.Zip(repair.Saved))
        {
            string side = change == WalFileChangeKind.Deleted || name == LogHeadFile.FileName ? name : string.Create(CultureInfo.InvariantCulture, $"{name}.from-{offset}");
            Assert.Equal(Path.Combine(Path.GetFullPath(backup), side), saved.BackupPath);
            byte[] original = File.ReadAllBytes(Path.Combine(before, name));
            byte[] kept = File.ReadAllBytes(saved.BackupPath);
            bool whole = change == WalFileChangeKind.Deleted || name == LogHeadFile.FileName;
            Assert.True(whole ? original.AsSpan().SequenceEqual(kept) : original.AsSpan((int)offset, kept.Length).SequenceEqual(kept), $"{side} holds {name}'s bytes from {offset} ({kept.Length} bytes).");
            if (!whole)
            {
                byte[] now = File.ReadAllBytes(Path.Combine(log, name));
                long unchanged = offset + kept.Length;
                Assert.True(kept.Length > 0 && unchanged <= original.Length, $"{side} holds {kept.Length} bytes from {offset} of a file of {original.Length}.");
                Assert.True(original.AsSpan((int)unchanged).SequenceEqual(now.AsSpan((int)unchanged)), $"{name} changed after byte {unchanged}, beyond what {side} holds.");
            }

            Assert.Equal(kept.Length, saved.Bytes);
            total += kept.Length;
        }

        Assert.Equal(total, repair.BytesSaved);
        Assert.Equal(expected.Length, Directory.GetFiles(backup).Length);
    }

    /// <summary>Every byte of <paramref name="name"/> before <paramref name="cut"/> is what it was.</summary>
    private static void AssertUntouchedBefore(string log, string before, string name, long cut) =>
        Assert.True(File.ReadAllBytes(Path.Combine(before, name)).AsSpan(0, (int)cut).SequenceEqual(File.ReadAllBytes(Path.Combine(log, name)).AsSpan(0, (int)cut)), $"{name} is untouched before byte {cut}.");

    /// <summary>
    /// The repaired log: healthy even in Strict, every record up to <paramref name="kept"/> byte-exact, and an open with
    /// nothing more to drop (it reports the repair's cut again, recorded in wal.head until something is appended).
    /// </summary>
    private static void AssertRepaired(DamageCheck check, string log, ulong kept, WalRepairReport repair)
    {
        WalInspectionReport after = WalInspection.Inspect(log, WalRecoveryMode.Strict);
        Assert.Equal((WalVerdict.Healthy, new Lsn(kept)), (after.Verdict, after.LastLsn));
        Assert.Equal((repair.DroppedFrom, repair.DroppedTo), (after.RecoveryDroppedFrom, after.RecoveryDroppedTo));

        // Nothing more to cut or rewrite. While the repair's cut stays recorded in wal.head (until something is appended),
        // recovery deletes every segment after the end, prepared ones included: the only change left.
        string changes = string.Join("; ", after.Changes.Select(c => $"{c.Kind} {Path.GetFileName(c.Path)} at {c.Offset}"));
        Assert.True(
            repair.DroppedFrom == Lsn.None ? after.Changes.Count == 0 : after.Changes.All(c => c.Kind == WalFileChangeKind.Deleted && after.Segments.Single(s => s.Path == c.Path).State == WalSegmentState.Prepared),
            $"Recovery has nothing more to change but prepared segments to delete after a recorded cut: {changes}");
        List<(ulong Lsn, byte[] Payload)> records = LogContents.ReadAll(log, WalRecoveryMode.Strict);
        Assert.Equal((int)kept, records.Count);
        Assert.All(records, r => Assert.True(r.Payload.AsSpan().SequenceEqual(check.PayloadOf(r.Lsn)), $"Record {r.Lsn} is byte-exact."));
        using WriteAheadLog opened = WriteAheadLog.Open(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail));
        Assert.Equal((new Lsn(kept), repair.DroppedFrom, repair.DroppedTo), (opened.LastLsn, opened.GetMetrics().RecoveryDroppedFrom, opened.GetMetrics().RecoveryDroppedTo));
    }
}
