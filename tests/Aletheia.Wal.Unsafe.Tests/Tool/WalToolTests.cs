using System.Globalization;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Aletheia.Wal.Tool;
using Spectre.Console.Testing;
using Xunit;
using static Aletheia.Wal.Tests.Support.ToolRun;

namespace Aletheia.Wal.Tests.Tool;

/// <summary>
/// The <c>aletheia-wal</c> log commands through their entry point (<see cref="WalTool.Run"/>, output and errors recorded) on
/// real logs: the exact exit code and the exact facts printed (records, LSN range, the damaged file and offsets, the
/// dropped range), held to the damage oracle and to what <see cref="WriteAheadLog.Open(WalOptions)"/> in the same mode then
/// does with a copy of the log.
/// </summary>
public sealed class WalToolTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>A healthy log of 150 records of 1001 bytes over three 64 KiB segments (the damage table's log B), without its lock file.</summary>
    private (string Log, LogLayout Layout) Healthy()
    {
        string written = _temp.Log("written");
        DamageCases.Write(written, seed: 5, records: 150, payload: 1001);
        string log = Path.GetFullPath(_temp.Log("log"));
        SegmentFiles.CopyLog(written, log);
        return (log, LogLayout.Read(log));
    }

    /// <summary>The damage table's case on its log; the oracle's expectation; a copy taken before anything runs on it.</summary>
    private (string Log, DamageCheck Check, Expectation Expected, string Before) Damaged(string damage)
    {
        (DamageCheck check, string damaged) = DamageCases.Build(damage, _temp);
        string before = Path.GetFullPath(_temp.Log("before"));
        SegmentFiles.CopyLog(damaged, before);
        return (Path.GetFullPath(damaged), check, check.Expect(damaged), before);
    }

    /// <summary>
    /// A damaged end marker that the next segment makes good: every mode but Strict keeps every record and writes the
    /// marker again, so the verdict is healthy, but bytes on the disk went bad: verify and stats say so, exit code 4
    /// (found by review: they said "healthy" with exit code 0). Strict refuses the same bytes: exit code 1.
    /// </summary>
    [Fact]
    public void Damage_recovery_repairs_without_loss_is_reported_with_exit_code_4()
    {
        (string log, DamageCheck check, _, _) = Damaged("flipped bit in a middle segment's end marker");
        LayoutSegment middle = check.Layout.Segments.Single(s => s.Number == check.Layout.Used.ElementAt(1).Number);
        string line = Invariant($"  damage repaired without loss: the end marker at byte {middle.DataEnd} of {Path.Combine(log, Path.GetFileName(middle.Path))} is damaged (");
        foreach (string command in new[] { "verify", "stats" })
        {
            (int code, string output, string errors) = Run(command, log);
            Assert.Equal((WalTool.RepairableDamage, ""), (code, errors));
            Assert.True(
                output.Split('\n').Count(l => l.StartsWith(line, StringComparison.Ordinal)
                    && l.EndsWith("); the next segment starts at the right LSN, so nothing is lost, and recovery at open writes it again", StringComparison.Ordinal)) == 1,
                output);
            Assert.Contains($"  TruncateTornTail keeps every record: {check.Layout.LastLsn} records, LSN 1 to {check.Layout.LastLsn}\n", output, StringComparison.Ordinal);
        }

        Assert.Equal(WalTool.Damaged, Run("verify", log, "--mode", "Strict").Code);
    }

    /// <summary>A damaged copy of wal.head: the other is intact, so nothing is lost, and verify says so with exit code 4.</summary>
    [Fact]
    public void A_damaged_copy_of_wal_head_is_reported_with_exit_code_4()
    {
        (string log, LogLayout layout) = Healthy();
        SegmentFiles.Flip(Path.Combine(log, LogHeadFile.FileName), 4096 + 20); // the second copy's sequence
        (int code, string output, string errors) = Run("verify", log);

        Assert.Equal((WalTool.RepairableDamage, ""), (code, errors));
        Assert.Equal(
            [
                $"{log}: healthy",
                Invariant($"  TruncateTornTail keeps every record: {layout.LastLsn} records, LSN 1 to {layout.LastLsn}"),
                $"  damage repaired without loss: one copy of {Path.Combine(log, LogHeadFile.FileName)} is damaged: recovery at open uses the intact one and writes both again",
            ],
            output.Split('\n').Take(3));
    }

    /// <summary>A copy of <paramref name="log"/> opened in <paramref name="mode"/>: what recovery at open does.</summary>
    private (Lsn Last, Lsn From, Lsn To) OpenCopy(string log, WalRecoveryMode mode)
    {
        string copy = _temp.Log($"open-{mode}-{Guid.NewGuid():N}");
        SegmentFiles.CopyLog(log, copy);
        using WriteAheadLog opened = WriteAheadLog.Open(DamageCases.Options(copy, mode));
        return (opened.LastLsn, opened.GetMetrics().RecoveryDroppedFrom, opened.GetMetrics().RecoveryDroppedTo);
    }

    private WalCorruptionException OpenCopyRefused(string log, WalRecoveryMode mode)
    {
        string copy = Path.GetFullPath(_temp.Log($"open-{mode}-{Guid.NewGuid():N}"));
        SegmentFiles.CopyLog(log, copy);
        var e = Assert.Throws<WalCorruptionException>(() => WriteAheadLog.Open(DamageCases.Options(copy, mode)).Dispose());
        return new WalCorruptionException(e.SegmentPath.Replace(copy, log, StringComparison.Ordinal), e.Offset, e.Message.Split(": ", 2)[1]);
    }

    [Fact]
    public void Verify_says_a_healthy_log_is_healthy()
    {
        (string log, LogLayout layout) = Healthy();

        (int code, string output, string errors) = Run("verify", log);

        Assert.Equal(WalTool.Ok, code);
        Assert.Equal(
            $"{log}: healthy\n" +
            "  TruncateTornTail keeps every record: 150 records, LSN 1 to 150\n" +
            Invariant($"  the log ends at byte {layout.EndOfLog} of segment 3\n"),
            output);
        Assert.Equal("", errors);
        Assert.Equal((new Lsn(150), Lsn.None, Lsn.None), OpenCopy(log, WalRecoveryMode.Strict));
    }

    /// <summary>A torn tail: the file, the bad byte, the damaged write, the range TruncateTornTail drops, all as the open then does.</summary>
    [Fact]
    public void Verify_names_a_torn_tail_and_the_range_the_open_drops()
    {
        (string log, DamageCheck check, Expectation expected, _) = Damaged("torn last record");
        LayoutUnit unit = expected.CutUnit!;
        string segment = Path.Combine(log, Path.GetFileName(unit.Path));

        (int code, string output, string errors) = Run("verify", log);

        Assert.Equal(WalTool.Damaged, code);
        string[] lines = output.Split('\n');
        Assert.Equal(Invariant($"{log}: torn tail at byte {check.Layout.FrameOffset(150)} of {segment} (the write at byte {unit.Start}): the frame's CRC-32C does not match"), lines[0]);
        Assert.Equal("  TruncateTornTail cuts it: dropped from LSN 150 to 150; kept 149 records, LSN 1 to 149", lines[1]);
        Assert.Equal(Invariant($"  the log ends at byte {unit.Start} of segment 3"), lines[2]);
        Assert.Equal((new Lsn(149), new Lsn(expected.DroppedFrom), new Lsn(expected.DroppedTo)), OpenCopy(log, WalRecoveryMode.TruncateTornTail));
        Assert.Equal((150UL, 150UL), (expected.DroppedFrom, expected.DroppedTo));
        Assert.Equal(RecoveryChanges(log, WalRecoveryMode.TruncateTornTail), lines[3..^1]);
        Assert.Equal("", errors);
    }

    /// <summary>A corruption: TruncateTornTail refuses it exactly where the open throws; PointInTime cuts it as the open does.</summary>
    [Fact]
    public void Verify_names_a_corruption_as_each_mode_judges_it()
    {
        (string log, DamageCheck check, Expectation expected, _) = Damaged("flipped bit in a middle record");
        LayoutUnit unit = expected.CutUnit!;
        WalCorruptionException refused = OpenCopyRefused(log, WalRecoveryMode.TruncateTornTail);
        ulong kept = unit.FirstLsn - 1;
        string headline = Invariant($"{log}: corruption at byte {refused.Offset} of {refused.SegmentPath} (the write at byte {unit.Start}): ") + refused.Message.Split(": ", 2)[1];

        (int code, string output, _) = Run("verify", log);

        Assert.Equal(WalTool.Damaged, code);
        Assert.Equal(
            headline + "\n" + Invariant($"  TruncateTornTail refuses the log (WriteAheadLog.Open throws WalCorruptionException); PointInTime would cut it, keeping {kept} records, LSN 1 to {kept}\n"),
            output);
        Assert.Equal(Path.Combine(log, Path.GetFileName(unit.Path)), refused.SegmentPath);

        (code, output, _) = Run("verify", log, "--mode", "PointInTime");

        Assert.Equal(WalTool.Damaged, code);
        string[] lines = output.Split('\n');
        Assert.Equal(headline, lines[0]);
        Assert.Equal(Invariant($"  PointInTime cuts it: dropped from LSN {unit.FirstLsn} to {check.Layout.LastLsn}; kept {kept} records, LSN 1 to {kept}"), lines[1]);
        Assert.Equal((new Lsn(kept), new Lsn(unit.FirstLsn), new Lsn(check.Layout.LastLsn)), OpenCopy(log, WalRecoveryMode.PointInTime));
        Assert.Equal((unit.FirstLsn, check.Layout.LastLsn), (expected.DroppedFrom, expected.DroppedTo));
    }

    [Fact]
    public void Stats_shows_the_segments_the_range_the_end_and_the_recycled_files()
    {
        string log = Path.GetFullPath(_temp.Log("recycling"));
        using (var writer = WriteAheadLog.Open(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail)))
        {
            for (ulong lsn = 1; lsn <= 150; lsn++)
            {
                writer.AppendDurable(DamageCases.PayloadOf(5, lsn, 1001));
            }

            Assert.Equal(2, writer.TruncateBefore(new Lsn(130)).SegmentsRemoved); // segments 1 and 2 become recycled files
        }

        File.Delete(Path.Combine(log, SegmentNames.LockFileName));
        LogLayout layout = LogLayout.Read(log);
        ulong logId = layout.LogId;
        LayoutSegment last = layout.Used.Single();

        (int code, string output, string errors) = Run("stats", log);

        Assert.Equal(WalTool.Ok, code);
        Assert.Equal("", errors);
        string[] lines = output.Split('\n');
        Assert.Equal(
            [
                $"log {log}",
                Invariant($"  format version 2, log id {logId:X16}"),
                "  26 records, LSN 125 to 150",
                Invariant($"  the log ends at byte {last.DataEnd} of segment 3"),
                "  2 segment files, 2 recycled files",
                "  healthy",
                "  TruncateTornTail keeps every record: 26 records, LSN 125 to 150",
            ],
            lines[..7]);
        Assert.Equal(
            [
                ["1", "recycled", "65536", "-", "-", "-", "-"],
                ["2", "recycled", "65536", "-", "-", "-", "-"],
                ["3", "used", "65536", "65536", "125", Invariant($"{last.DataEnd}"), "26"],
                ["4", "prepared", "65536", "-", "-", "-", "-"],
            ],
            Rows(lines));
    }

    [Fact]
    public void Stats_of_a_damaged_log_shows_the_damaged_segment_and_exits_1()
    {
        (string log, DamageCheck check, Expectation expected, _) = Damaged("flipped bit in a middle record");
        LayoutUnit unit = expected.CutUnit!;
        LayoutSegment[] used = check.Layout.Used.ToArray();

        (int code, string output, _) = Run("stats", log, "--mode", "PointInTime");

        Assert.Equal(WalTool.Damaged, code);
        string[][] rows = Rows(output.Split('\n'));
        Assert.Equal(["1", "used", "65536", "65536", "1", Invariant($"{used[0].DataEnd}"), "62"], rows[0]);
        Assert.Equal(["2", "damaged", "65536", "65536", "63", Invariant($"{unit.Start}"), Invariant($"{unit.FirstLsn - 63}")], rows[1]);
        Assert.Equal(["3", "beyond the end", "65536", "65536", "125", "-", "-"], rows[2]);
        Assert.Equal(["4", "prepared", "65536", "-", "-", "-", "-"], rows[3]);
        Assert.Contains(Invariant($"  {unit.FirstLsn - 1} records, LSN 1 to {unit.FirstLsn - 1}"), output.Split('\n'));
    }

    [Fact]
    public void Dump_shows_records_from_an_LSN_and_says_more_follow()
    {
        (string log, _) = Healthy();

        (int code, string output, _) = Run("dump", log, "--from", "10", "--count", "3");

        Assert.Equal(WalTool.Ok, code);
        string Line(ulong lsn) => Invariant($"{lsn,12}  {1001,10}  {Convert.ToHexStringLower(DamageCases.PayloadOf(5, lsn, 1001).AsSpan(0, 32))}...");
        Assert.Equal(
            $"{"LSN",12}  {"bytes",10}  first 32 bytes (hex)\n{Line(10)}\n{Line(11)}\n{Line(12)}\n3 records shown (--count 3); more follow, from LSN 13\n",
            output);
    }

    [Fact]
    public void Dump_as_text_escapes_what_is_not_printable_and_says_where_the_log_ends()
    {
        string log = Path.GetFullPath(_temp.Log("text"));
        using (var writer = WriteAheadLog.Open(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail)))
        {
            writer.AppendDurable("hello, [world]"u8);
            writer.AppendDurable("tab\there\r\n"u8);
            writer.AppendDurable([0, 1, 0xFF, (byte)'\\', (byte)'a']);
            writer.AppendDurable([]);
        }

        LogLayout layout = LogLayout.Read(log);

        (int code, string output, _) = Run("dump", log, "--text");

        Assert.Equal(WalTool.Ok, code);
        Assert.Equal(
            $"{"LSN",12}  {"bytes",10}  first 32 bytes (text)\n" +
            Invariant($"{1,12}  {14,10}  hello, [world]\n") +
            Invariant($"{2,12}  {10,10}  tab\\there\\r\\n\n") +
            Invariant($"{3,12}  {5,10}  \\0\\x01\\xff\\\\a\n") +
            Invariant($"{4,12}  {0,10}  \n") +
            Invariant($"4 records shown, LSN 1 to 4; the end of the log: an open end marker: the log ends here (byte {layout.EndOfLog} of {layout.Used.Last().Path})\n"),
            output);
    }

    [Fact]
    public void Dump_of_a_torn_tail_stops_before_it_and_says_where()
    {
        (string log, DamageCheck check, Expectation expected, _) = Damaged("torn last record");
        string segment = Path.Combine(log, Path.GetFileName(expected.CutUnit!.Path));

        (int code, string output, _) = Run("dump", log, "--from", "148");

        Assert.Equal(WalTool.Ok, code);
        Assert.EndsWith(
            Invariant($"2 records shown, LSN 148 to 149; stopped at a write it cannot verify, at byte {check.Layout.FrameOffset(150)} of {segment}: the frame's CRC-32C does not match (a write in flight, or damage: 'aletheia-wal verify' judges it)\n"),
            output,
            StringComparison.Ordinal);
        Assert.Equal(4, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Dump_of_a_corruption_its_mode_refuses_exits_1_with_the_open_error()
    {
        (string log, _, _, _) = Damaged("flipped bit in a middle record");
        WalCorruptionException refused = OpenCopyRefused(log, WalRecoveryMode.TruncateTornTail);

        (int code, _, string errors) = Run("dump", log);

        Assert.Equal(WalTool.Damaged, code);
        Assert.Equal($"aletheia-wal: {refused.Message}\n", errors);
    }

    [Fact]
    public void Repair_cuts_a_torn_tail_saves_the_bytes_and_leaves_a_healthy_log()
    {
        (string log, _, Expectation expected, string before) = Damaged("torn last record");
        LayoutUnit unit = expected.CutUnit!;
        string backup = Path.GetFullPath(_temp.Log("backup"));
        string tail = Path.GetFileName(unit.Path);

        (int code, string output, string errors) = Run("repair", log, "--backup", backup);

        // What the repair changed, found by comparing the files: from the torn write to the last byte that differs.
        byte[] original = File.ReadAllBytes(Path.Combine(before, tail));
        byte[] repaired = File.ReadAllBytes(Path.Combine(log, tail));
        int lastChanged = original.Length - 1;
        while (original[lastChanged] == repaired[lastChanged])
        {
            lastChanged--;
        }

        long tailBytes = lastChanged + 1 - unit.Start;
        Assert.True(tailBytes > 0 && tailBytes < original.Length - unit.Start, $"The repair changed {tailBytes} bytes from the torn write, of {original.Length - unit.Start} after it.");

        Assert.Equal(WalTool.Ok, code);
        Assert.Equal("", errors);
        string[] lines = output.Split('\n');
        Assert.StartsWith($"{log}: torn tail at byte ", lines[0], StringComparison.Ordinal);
        Assert.Equal("  repaired in TruncateTornTail: dropped from LSN 150 to 150; kept 149 records, LSN 1 to 149", lines[1]);
        Assert.Equal(Invariant($"  saved 2 files ({tailBytes + LogHeadFile.FileBytes} bytes) in {backup}:"), lines[2]);
        Assert.Equal(
            [
                [Invariant($"{tail}.from-{unit.Start}"), Invariant($"{tailBytes}"), Invariant($"{tail} from byte {unit.Start}, rewritten")],
                ["wal.head", "8192", "wal.head from byte 0, rewritten"],
            ],
            Rows(lines));
        Assert.True(original.AsSpan((int)unit.Start, (int)tailBytes).SequenceEqual(File.ReadAllBytes(Path.Combine(backup, $"{tail}.from-{unit.Start}"))), "The side file holds the bytes cut.");
        Assert.Equal(File.ReadAllBytes(Path.Combine(before, LogHeadFile.FileName)), File.ReadAllBytes(Path.Combine(backup, LogHeadFile.FileName)));

        (code, output, _) = Run("verify", log, "--mode", "Strict");

        Assert.Equal(WalTool.Ok, code);
        Assert.StartsWith(
            $"{log}: healthy\n  Strict keeps every record: 149 records, LSN 1 to 149; it reports LSN 150 to 150 dropped by an earlier recovery's cut (wal.head records it until something is appended)\n",
            output,
            StringComparison.Ordinal);
        Assert.Equal((new Lsn(149), new Lsn(150), new Lsn(150)), OpenCopy(log, WalRecoveryMode.Strict)); // the repair's cut, reported until something is appended
    }

    [Fact]
    public void Repair_saves_to_a_sibling_directory_by_default()
    {
        (string log, _, _, _) = Damaged("torn last record");

        (int code, string output, _) = Run("repair", log);

        Assert.Equal(WalTool.Ok, code);
        string backup = Assert.Single(Directory.GetDirectories(Path.GetDirectoryName(log)!, Path.GetFileName(log) + ".repair-*"));
        Assert.Matches(@"\.repair-\d{8}T\d{6}Z$", backup);
        Assert.Contains(Invariant($"  saved 2 files ("), output, StringComparison.Ordinal);
        Assert.Contains($" in {backup}:\n", output, StringComparison.Ordinal);
        Assert.Equal(2, Directory.GetFiles(backup).Length);
    }

    [Fact]
    public void Repair_refused_by_its_mode_exits_1_and_changes_no_byte()
    {
        (string log, _, _, _) = Damaged("flipped bit in a middle record");
        WalCorruptionException refused = OpenCopyRefused(log, WalRecoveryMode.TruncateTornTail);
        string snapshot = DirectorySnapshot.Of(log);
        string backup = _temp.Log("backup");

        (int code, string output, string errors) = Run("repair", log, "--backup", backup);

        Assert.Equal(WalTool.Damaged, code);
        Assert.Equal("", output);
        Assert.Equal($"aletheia-wal: {refused.Message} (TruncateTornTail refuses it: nothing was saved or changed)\n", errors);
        Assert.Equal(snapshot, DirectorySnapshot.Of(log));
        Assert.False(Directory.Exists(backup));
    }

    [Fact]
    public void Repair_of_a_healthy_log_changes_nothing()
    {
        (string log, _) = Healthy();
        string snapshot = DirectorySnapshot.Of(log);

        (int code, string output, _) = Run("repair", log, "--backup", _temp.Log("backup"));

        Assert.Equal(WalTool.Ok, code);
        Assert.Equal($"{log}: healthy\n  nothing to repair in TruncateTornTail: nothing saved, nothing changed; 150 records, LSN 1 to 150\n", output);
        Assert.Equal(snapshot, DirectorySnapshot.Of(log));
        Assert.False(Directory.Exists(_temp.Log("backup")));
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("stats")]
    [InlineData("dump")]
    [InlineData("repair")]
    public void A_missing_directory_is_one_line_and_exit_code_3(string command)
    {
        string missing = Path.GetFullPath(_temp.Log("missing"));

        (int code, string output, string errors) = Run(command, missing);

        Assert.Equal(WalTool.CouldNotRun, code);
        Assert.Equal("", output);
        Assert.Equal($"aletheia-wal: The log directory '{missing}' does not exist.\n", errors);
    }

    [Theory]
    [InlineData("verify")]
    [InlineData("stats")]
    public void A_directory_without_a_log_is_one_line_and_exit_code_3(string command)
    {
        string empty = Path.GetFullPath(_temp.Log("empty"));
        Directory.CreateDirectory(empty);

        (int code, _, string errors) = Run(command, empty);

        Assert.Equal(WalTool.CouldNotRun, code);
        Assert.Equal($"aletheia-wal: no log in {empty}: it holds no wal.head and no segment file\n", errors);
        Assert.Empty(Directory.GetFileSystemEntries(empty));
    }

    [Fact]
    public void A_log_a_writer_has_open_is_not_verified()
    {
        string log = Path.GetFullPath(_temp.Log("live"));
        using var writer = WriteAheadLog.Open(DamageCases.Options(log, WalRecoveryMode.TruncateTornTail));
        writer.AppendDurable(new byte[10]);

        (int code, _, string errors) = Run("verify", log);

        Assert.Equal(WalTool.CouldNotRun, code);
        Assert.StartsWith($"aletheia-wal: The log directory '{log}' is open by a writer (its lock is held)", errors, StringComparison.Ordinal);
        (code, string output, _) = Run("dump", log);
        Assert.Equal(WalTool.Ok, code); // a snapshot reader needs no lock
        Assert.Contains("1 record shown, LSN 1 to 1; ", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "verify" }, "aletheia-wal: Required argument 'DIR' missing for command: 'verify'.")]
    [InlineData(new[] { "verify", "x", "--mode", "Lenient" }, "aletheia-wal: --mode must be one of TruncateTornTail, PointInTime, Strict; it is 'Lenient'.")]
    [InlineData(new[] { "verify", "x", "--mode", "1" }, "aletheia-wal: --mode must be one of TruncateTornTail, PointInTime, Strict; it is '1'.")]
    [InlineData(new[] { "dump", "x", "--count", "0" }, "aletheia-wal: --count must be 1 or more; it is '0'.")]
    [InlineData(new[] { "dump", "x", "--from", "-3" }, "aletheia-wal: --from must be an LSN, 1 or more; it is '-3'.")]
    [InlineData(new[] { "dump", "x", "--hex", "--text" }, "aletheia-wal: --hex and --text cannot be used together.")]
    [InlineData(new[] { "stats", "x", "--bogus" }, "aletheia-wal: Unrecognized command or argument '--bogus'.")]
    public void A_usage_error_is_exit_code_2_with_one_line_and_a_pointer_to_help(string[] args, string line)
    {
        (int code, string output, string errors) = Run(args);

        Assert.Equal(WalTool.UsageError, code);
        Assert.Equal("", output);
        Assert.Equal($"{line}\naletheia-wal: see 'aletheia-wal {args[0]} --help'.\n", errors);
    }

    [Fact]
    public void Help_lists_the_commands_and_the_exit_codes()
    {
        (int code, string output, _) = Run("--help");

        Assert.Equal(WalTool.Ok, code);
        Assert.Contains(WalTool.ExitCodes, output, StringComparison.Ordinal);
        foreach (string command in new[] { "dump <DIR>", "verify <DIR>", "stats <DIR>", "repair <DIR>" })
        {
            Assert.Contains(command, output, StringComparison.Ordinal);
        }

        foreach (string command in new[] { "dump", "verify", "stats", "repair" })
        {
            (code, output, _) = Run(command, "--help");
            Assert.Equal(WalTool.Ok, code);
            Assert.Contains($"aletheia-wal {command} <DIR> [options]", output, StringComparison.Ordinal);
        }
    }

    /// <summary>An interactive console gets a progress bar for a large log (segment files of 64 MiB and more); a plain one does not.</summary>
    [Fact]
    public void Verify_of_a_large_log_shows_progress_on_an_interactive_console_only()
    {
        string log = Path.GetFullPath(_temp.Log("large"));
        using (var writer = WriteAheadLog.Open(new WalOptions { Directory = log, SegmentSizeBytes = 64L << 20 }))
        {
            writer.AppendDurable(new byte[100]);
        }

        var interactive = new TestConsole();
        interactive.Interactive();
        (int code, string output, _) = Run(interactive, "verify", log);

        Assert.Equal(WalTool.Ok, code);
        Assert.Contains("reading large", output, StringComparison.Ordinal);
        Assert.Contains("100%", output, StringComparison.Ordinal);
        Assert.EndsWith($"{log}: healthy\n  TruncateTornTail keeps every record: 1 record, LSN 1 to 1\n  the log ends at byte 208 of segment 1\n", output, StringComparison.Ordinal);

        (code, output, _) = Run("verify", log);

        Assert.Equal(WalTool.Ok, code);
        Assert.Equal($"{log}: healthy\n  TruncateTornTail keeps every record: 1 record, LSN 1 to 1\n  the log ends at byte 208 of segment 1\n", output);
    }

    /// <summary>The lines <c>verify</c> prints for what recovery at open changes, from the inspection's report.</summary>
    private static string[] RecoveryChanges(string log, WalRecoveryMode mode) =>
        WalInspection.Inspect(log, mode).Changes.Select(c => c.Kind switch
        {
            WalFileChangeKind.Rewritten => Invariant($"  recovery at open rewrites {c.Path} from byte {c.Offset}"),
            WalFileChangeKind.Deleted => $"  recovery at open deletes {c.Path}",
            _ => $"  recovery at open {c.Kind} {c.Path}",
        }).ToArray();

    /// <summary>The cells of an ASCII table's data rows (the lines between its header rule and its bottom rule).</summary>
    private static string[][] Rows(string[] lines)
    {
        int[] rules = lines.Select((line, i) => (line, i)).Where(l => l.line.StartsWith('|') && l.line.Contains("---", StringComparison.Ordinal)).Select(l => l.i).ToArray();
        int start = rules.Length > 0 ? rules[0] + 1 : lines.Length;
        return lines.Skip(start).TakeWhile(l => l.StartsWith('|')).Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToArray();
    }
}
