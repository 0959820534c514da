using Aletheia.Wal.Storage;
using Xunit;

namespace Aletheia.Wal.Tests.Support;

/// <summary>
/// The damage table's cases (<c>DamageTableTests.Cases</c>), each made byte by byte on a copy of a pristine log written
/// for it: for the table's own checks of readers and recovery, and for the inspection tests, which hold
/// <c>WalInspection</c> and the tool to the same oracle.
/// </summary>
internal static class DamageCases
{
    private const int PayloadBytes = 1001; // 7 bytes of frame padding per record

    /// <summary>Records of log B, one batch each: 62 fill a 64 KiB segment, so the third segment holds 26.</summary>
    private const int RecordsB = 150;

    /// <summary>Records of log A: the third segment holds exactly one batch.</summary>
    private const int RecordsA = 125;

    private const int Seed = 5;

    public static WalOptions Options(string directory, WalRecoveryMode mode) =>
        new() { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 2, MaxEntryBytes = 4096, RecoveryMode = mode };

    /// <summary>
    /// Writes the pristine log the case <paramref name="damage"/> needs (in <paramref name="temp"/>, as "pristine"), and a
    /// copy of it with the damage made ("damaged").
    /// </summary>
    public static (DamageCheck Check, string Damaged) Build(string damage, TempDirectory temp)
    {
        (int records, int payload) = damage switch
        {
            "flipped bit in the header of a last segment of one batch" => (RecordsA, PayloadBytes),
            "zeroed last sector of a log of small writes" => (2000, 40),
            _ => (RecordsB, PayloadBytes),
        };
        string pristine = temp.Log("pristine");
        Write(pristine, Seed, records, payload);
        var check = new DamageCheck(pristine, lsn => PayloadOf(Seed, lsn, payload), Options);
        string damaged = temp.Log("damaged");
        check.CopyTo(damaged);
        Apply(damage, damaged, check.Layout, payload, temp);
        return (check, damaged);
    }

    public static byte[] PayloadOf(int seed, ulong lsn, int length) => Payloads.Make(seed, (long)lsn, length);

    /// <summary>A log of <paramref name="records"/> durable appends of <paramref name="payload"/> bytes each, one batch each.</summary>
    public static void Write(string directory, int seed, int records, int payload)
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory, WalRecoveryMode.TruncateTornTail));
        for (ulong lsn = 1; lsn <= (ulong)records; lsn++)
        {
            log.AppendDurable(PayloadOf(seed, lsn, payload));
        }
    }

    public static void Apply(string damage, string directory, LogLayout layout, int payload, TempDirectory temp)
    {
        LayoutSegment[] used = layout.Used.ToArray();
        Assert.True(used.Length >= 3, "The log spans at least three segments.");
        string Here(LayoutSegment segment) => Path.Combine(directory, Path.GetFileName(segment.Path));
        string last = Here(used[^1]);
        string middle = Here(used[1]);
        string next = Here(layout.Segments.Single(s => s.Number == used[^1].Number + 1));
        ulong lastLsn = layout.LastLsn;
        long FrameOf(ulong lsn) => layout.FrameOffset(lsn);
        long BatchOf(ulong lsn) => layout.BatchOf(lsn).Start;
        ulong MiddleFirst() => used[1].FirstLsn;
        switch (damage)
        {
            case "torn last record":
                SegmentFiles.Patch(last, FrameOf(lastLsn) + FrameHeader.Size + 300, [0xDE, 0xAD, 0xBE, 0xEF]);
                break;
            case "zeroed tail sector":
                SegmentFiles.Patch(last, (FrameOf(lastLsn) + 500) / 512 * 512, new byte[512]);
                break;
            case "garbage right after the end":
                SegmentFiles.Patch(last, layout.EndOfLog, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
                break;
            case "garbage far after the end":
                SegmentFiles.Patch(last, layout.EndOfLog + 4096, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
                break;
            case "flipped bit in a middle record":
                SegmentFiles.Flip(middle, FrameOf(MiddleFirst() + 3) + FrameHeader.Size + 10);
                break;
            case "flipped bit in a padding byte":
                SegmentFiles.Flip(middle, FrameOf(MiddleFirst() + 3) + FrameHeader.Size + payload + 2);
                break;
            case "flipped bit in a segment header":
                SegmentFiles.Flip(middle, 26); // inside FirstLsn
                break;
            case "flipped bit in a batch header":
                SegmentFiles.Flip(middle, BatchOf(MiddleFirst() + 3) + 9); // its FirstLsn
                break;
            case "truncated header of the last segment":
                SegmentFiles.TruncateTo(last, 30);
                break;
            case "truncated header of a middle segment":
                SegmentFiles.TruncateTo(middle, 30);
                break;
            case "missing middle segment":
                File.Delete(middle);
                break;
            case "empty segment file at the end":
                File.WriteAllBytes(SegmentNames.PathOf(directory, layout.Segments[^1].Number + 1), []);
                break;
            case "segment from another log":
                string other = temp.Log("other");
                Write(other, seed: 6, RecordsB, payload);
                File.Copy(SegmentFiles.Used(other)[1], middle, overwrite: true);
                break;
            case "zeroed sector at a batch header, records after it":
                // Issue 10, defect 1: one sector that reads back as zeros where a batch header starts, mid last segment.
                SegmentFiles.Patch(last, BatchOf(used[^1].FirstLsn + 5) / 512 * 512, new byte[512]);
                break;
            case "zeroed header sector of the last segment, records after it":
                SegmentFiles.Patch(last, 0, new byte[512]);
                break;
            case "flipped bit in the header of a last segment of one batch":
                // Issue 10, defect 2: the intact batch at offset 64 was written after the header; the damage is no tear.
                Assert.Equal(1, layout.Units.Count(u => u.Kind == UnitKind.Batch && u.Segment == used[^1].Number));
                SegmentFiles.Flip(last, 20);
                break;
            case "flipped bit in a batch header, later writes in reach":
                // Issue 10, defect 3: later batches within one write's reach (1 MiB) prove that later writes returned.
                SegmentFiles.Flip(last, BatchOf(lastLsn - 3) + 9);
                break;
            case "flipped bit in a middle segment's end marker":
                SegmentFiles.Flip(middle, layout.Segments.Single(s => s.Number == used[1].Number).DataEnd + 9);
                break;
            case "flipped bit in the header of the unused next segment":
                SegmentFiles.Flip(next, 30);
                break;
            case "garbage in the unused next segment after its header":
                SegmentFiles.Patch(next, SegmentHeader.OpeningWriteBytes + 1000, [9, 9, 9, 9, 9, 9, 9, 9]);
                break;
            case "last segment cut short after its end":
                SegmentFiles.TruncateTo(last, (int)layout.EndOfLog + BatchHeader.Size + 100);
                break;
            case "last segment cut short inside its last record":
                SegmentFiles.TruncateTo(last, (int)FrameOf(lastLsn) + 100);
                break;
            case "zeroed last sector of a log of small writes":
                // The limit of what any reader can tell: writes wholly inside the sector leave nothing; the damaged write
                // before them is cut as an interrupted last write, and the cut is reported.
                SegmentFiles.Patch(last, layout.EndOfLog / 512 * 512, new byte[512]);
                break;
            default:
                throw new ArgumentException($"Unknown damage case '{damage}'.", nameof(damage));
        }
    }
}
