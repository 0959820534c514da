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
