using System.Buffers.Binary;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// What recovery must do with a damaged copy of a pristine log, computed from the pristine log's writes
/// (<see cref="LogLayout"/>) and the bytes the damage changed, by the rules of native-layout.md section 5, not by the
/// library's reader:
/// <list type="bullet">
/// <item>The damaged write is the first unit (in log order) with a changed or missing byte. A damaged end marker of a
/// segment whose next segment's header is intact is made good by that header (it starts at exactly the LSN the marker
/// held): Strict refuses it, the other modes read past it.</item>
/// <item>It is corruption when no interrupted write could have left it: its file was cut short, or is missing (every used
/// segment is where the log goes on: the opened head, or after a closed segment), or a valid segment header stands in the
/// wrong place; or when a later write follows it, that is, an intact batch header, end marker or segment header after it that
/// is not the damaged write's own. Otherwise it is a torn tail: the damage left nothing of any later write, which no
/// reader can tell from an interrupted last write.</item>
/// <item>Strict throws at the first damaged unit; TruncateTornTail keeps exactly the records before a torn tail and throws
/// at corruption; PointInTime keeps exactly the records before the damaged write. A cut reports the first LSN it drops and
/// the highest LSN that an intact structure at or after the damaged write speaks of (0 if none).</item>
/// </list>
/// Damage wholly in bytes no write of the log holds (after a segment's end marker, anywhere in an unused segment: the
/// last end marker is open, so nothing after it is read) changes no unit and leaves every record readable in every mode.
/// </summary>
internal static class DamageOracle
{
    public static Expectation Expect(LogLayout pristine, IReadOnlyDictionary<string, byte[]> pristineBytes, string damagedDirectory)
    {
        var view = new DamagedView(pristineBytes, damagedDirectory);
        List<LayoutUnit> units = pristine.Units;
        LayoutUnit? strict = units.FirstOrDefault(view.Changed);
        LayoutUnit? cut = null;
        foreach (LayoutUnit unit in units.Where(view.Changed))
        {
            bool madeGood = unit.Kind == UnitKind.EndMarker
                && units.FirstOrDefault(u => u.Kind == UnitKind.Opening && u.Segment == unit.Segment + 1) is { } nextOpening
                && !view.Changed(nextOpening)
                && !view.CutShortBefore(unit.Path, unit.End);
            if (!madeGood)
            {
                cut = unit;
                break;
            }
        }

        ulong all = pristine.LastLsn;
        if (cut is null)
        {
            return new Expectation(strict, null, IsCorruption: false, KeptLast: all, DroppedFrom: 0, DroppedTo: 0);
        }

        ulong e = cut.FirstLsn;
        LayoutSegment segment = pristine.Segments.Single(s => s.Number == cut.Segment);
        bool forced = view.IsMissing(cut.Path) || view.CutShort(cut.Path) || (cut.Kind == UnitKind.Opening && view.IsValidSegmentHeader(cut.Path));

        // Intact structures at or after the damaged write that speak of LSNs from e on; the damaged write's own do not
        // show a later write.
        bool later = false;
        ulong highest = 0;
        bool headerIntact = cut.Kind == UnitKind.Batch && !view.Changed(cut with { End = cut.Start + BatchHeader.Size });
        foreach (LayoutUnit unit in units)
        {
            bool sameSegment = unit.Segment == cut.Segment;
            if (unit.Segment < cut.Segment || (sameSegment && unit.Start < cut.Start) || view.Changed(StructureOf(unit)))
            {
                continue;
            }

            ulong last;
            bool own;
            switch (unit.Kind)
            {
                case UnitKind.Opening when !sameSegment:
                    later = true; // a valid header of a later segment of this log
                    if (unit.FirstLsn > e)
                    {
                        highest = Math.Max(highest, unit.FirstLsn - 1);
                    }

                    continue;
                case UnitKind.Batch:
                    last = unit.LastLsn;
                    own = sameSegment && unit.Start == cut.Start;
                    break;
                case UnitKind.EndMarker:
                    last = unit.FirstLsn - 1;
                    own = sameSegment && cut.Kind switch
                    {
                        UnitKind.Opening => unit.Start == SegmentHeader.Size,
                        UnitKind.Batch when headerIntact => unit.Start == cut.End,
                        UnitKind.Batch or UnitKind.EndMarker => unit.Start + BatchHeader.Size <= cut.Start + segment.MaxWriteBytes,
                        _ => false,
                    };
                    break;
                default:
                    continue;
            }

            if (unit.FirstLsn + (ulong)unit.Records > e && last >= e)
            {
                highest = Math.Max(highest, last);
                later |= !own;
            }
        }

        return new Expectation(strict, cut, forced || later, e - 1, e, highest);
    }

    /// <summary>The bytes that make up a unit's structure: a segment header, or a batch header or end marker.</summary>
    private static LayoutUnit StructureOf(LayoutUnit unit) =>
        unit with { End = unit.Kind == UnitKind.Opening ? unit.Start + SegmentHeader.Size : unit.Start + BatchHeader.Size };

    /// <summary>The damaged log as the oracle sees it: which pristine bytes changed, went missing or were cut off.</summary>
    private sealed class DamagedView(IReadOnlyDictionary<string, byte[]> pristine, string directory)
    {
        private readonly Dictionary<string, byte[]?> _damaged = [];

        public bool Changed(LayoutUnit unit)
        {
            byte[] before = pristine[Path.GetFileName(unit.Path)];
            byte[]? after = Bytes(unit.Path);
            if (after is null)
            {
                return true;
            }

            long end = Math.Min(unit.End, before.Length);
            return after.Length < end || !after.AsSpan((int)unit.Start, (int)(end - unit.Start)).SequenceEqual(before.AsSpan((int)unit.Start, (int)(end - unit.Start)));
        }

        public bool IsMissing(string path) => Bytes(path) is null;

        public bool CutShort(string path) => Bytes(path) is { } after && after.Length < pristine[Path.GetFileName(path)].Length;

        public bool CutShortBefore(string path, long end) => Bytes(path) is not { } after || after.Length < end;

        public bool IsValidSegmentHeader(string path) =>
            Bytes(path) is { Length: >= SegmentHeader.Size } after && SegmentHeader.TryRead(after.AsSpan(0, SegmentHeader.Size), out _) is null;

        private byte[]? Bytes(string pristinePath)
        {
            string name = Path.GetFileName(pristinePath);
            if (!_damaged.TryGetValue(name, out byte[]? bytes))
            {
                string path = Path.Combine(directory, name);
                bytes = File.Exists(path) ? File.ReadAllBytes(path) : null;
                _damaged[name] = bytes;
            }

            return bytes;
        }
    }
}

/// <summary>What <see cref="DamageOracle"/> says must happen.</summary>
/// <param name="StrictUnit">The first damaged unit, where Strict throws; null when Strict reads everything.</param>
/// <param name="CutUnit">The damaged write the other modes act on; null when they keep everything.</param>
/// <param name="IsCorruption">TruncateTornTail throws at <paramref name="CutUnit"/>; else it keeps what PointInTime keeps.</param>
/// <param name="KeptLast">The last LSN kept by a cut (or the log's last, when nothing is cut).</param>
/// <param name="DroppedFrom">The first LSN a cut drops, 0 for none.</param>
/// <param name="DroppedTo">The highest dropped LSN an intact structure speaks of, 0 for none.</param>
internal sealed record Expectation(LayoutUnit? StrictUnit, LayoutUnit? CutUnit, bool IsCorruption, ulong KeptLast, ulong DroppedFrom, ulong DroppedTo)
{
    /// <summary>The unit where <paramref name="mode"/> throws, or null when it keeps records (see <see cref="KeptLast"/>).</summary>
    public LayoutUnit? ThrowsAt(WalRecoveryMode mode) => mode switch
    {
        WalRecoveryMode.Strict => StrictUnit,
        WalRecoveryMode.TruncateTornTail => IsCorruption ? CutUnit : null,
        _ => null,
    };

    /// <summary>
    /// Where a reader in <paramref name="mode"/> throws: as recovery, except that a reader stops at a torn tail in every
    /// mode, Strict included (from the files, a torn tail and a write in flight look the same).
    /// </summary>
    public LayoutUnit? ReaderThrowsAt(WalRecoveryMode mode) => mode == WalRecoveryMode.Strict && StopsReaderAtTornTail ? null : ThrowsAt(mode);

    /// <summary>The first damage is a torn tail and Strict meets nothing before it: a Strict reader stops there, as the others do.</summary>
    public bool StopsReaderAtTornTail => CutUnit is not null && !IsCorruption && StrictUnit == CutUnit;

    /// <summary>The last LSN a reader in <paramref name="mode"/> returns when it does not throw.</summary>
    public ulong ReaderKeptLast(WalRecoveryMode mode, ulong logLast) => mode == WalRecoveryMode.Strict && !StopsReaderAtTornTail ? logLast : KeptLast;

    /// <summary>Whether a reader in <paramref name="mode"/> that does not throw says it stopped at a write it cannot verify.</summary>
    public bool ReaderStopsUnverified(WalRecoveryMode mode) => mode == WalRecoveryMode.Strict ? StopsReaderAtTornTail : CutUnit is not null;

    public override string ToString() =>
        $"strict throws at {StrictUnit?.ToString() ?? "nothing"}; cut at {CutUnit?.ToString() ?? "nothing"} ({(IsCorruption ? "corruption" : "torn tail")}), kept to LSN {KeptLast}, dropped [{DroppedFrom}, {DroppedTo}]";
}
