using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// The damage table: each case with its verdict in each recovery mode, for the reader and for the writer's recovery.
/// "Prefix" means the log opens (or reads) and yields a byte-exact, gap-free prefix of what was written; "Throws" means
/// a <see cref="WalCorruptionException"/> naming a segment of this log and an offset.
/// </summary>
public sealed class DamageTableTests : IDisposable
{
    private const int Records = 150;
    private const int PayloadBytes = 1001; // 7 bytes of frame padding per record
    private readonly TempDirectory _temp = new();

    public enum Verdict
    {
        Prefix,
        Throws,
    }

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string, Verdict, Verdict, Verdict> Cases => new()
    {
        // case                          TruncateTornTail  PointInTime      Strict
        { "torn last record",            Verdict.Prefix,   Verdict.Prefix,  Verdict.Throws },
        { "zeroed tail sector",          Verdict.Prefix,   Verdict.Prefix,  Verdict.Throws },
        { "garbage right after the end", Verdict.Prefix,   Verdict.Prefix,  Verdict.Throws },
        { "garbage far after the end",   Verdict.Prefix,   Verdict.Prefix,  Verdict.Prefix },
        { "flipped bit in a middle record", Verdict.Throws, Verdict.Prefix, Verdict.Throws },
        { "flipped bit in a padding byte", Verdict.Throws,  Verdict.Prefix, Verdict.Throws },
        { "flipped bit in a segment header", Verdict.Throws, Verdict.Prefix, Verdict.Throws },
        { "flipped bit in a batch header", Verdict.Throws,  Verdict.Prefix, Verdict.Throws },
        { "truncated header of the last segment", Verdict.Prefix, Verdict.Prefix, Verdict.Throws },
        { "truncated header of a middle segment", Verdict.Throws, Verdict.Prefix, Verdict.Throws },
        { "missing middle segment",      Verdict.Throws,   Verdict.Prefix,  Verdict.Throws },
        { "empty segment file at the end", Verdict.Prefix, Verdict.Prefix,  Verdict.Prefix },
        { "segment from another log",    Verdict.Throws,   Verdict.Prefix,  Verdict.Throws },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Damage_case_has_its_verdict_in_every_mode(string damage, Verdict tornTail, Verdict pointInTime, Verdict strict)
    {
        string pristine = _temp.Log("pristine");
        Write(pristine, seed: 5);
        var expected = new Dictionary<WalRecoveryMode, Verdict>
        {
            [WalRecoveryMode.TruncateTornTail] = tornTail,
            [WalRecoveryMode.PointInTime] = pointInTime,
            [WalRecoveryMode.Strict] = strict,
        };

        foreach ((WalRecoveryMode mode, Verdict verdict) in expected)
        {
            // The reader, which changes nothing.
            string readCopy = Copy(pristine, $"read-{mode}");
            Apply(damage, readCopy);
            Assert.True(verdict == Read(readCopy, mode), $"{damage}: the reader in {mode} gives {verdict}.");

            // The writer's recovery, which repairs; after it the log reads clean even in Strict, and reopens the same.
            string openCopy = Copy(pristine, $"open-{mode}");
            Apply(damage, openCopy);
            Verdict opened;
            ulong last = 0;
            try
            {
                using WriteAheadLog log = WriteAheadLog.Open(Options(openCopy, mode));
                last = log.LastLsn.Value;
                opened = Verdict.Prefix;
            }
            catch (WalCorruptionException e)
            {
                Assert.StartsWith(openCopy, e.SegmentPath, StringComparison.Ordinal);
                Assert.True(e.Offset >= 0);
                opened = Verdict.Throws;
            }

            Assert.True(verdict == opened, $"{damage}: opening in {mode} gives {verdict}.");
            if (opened == Verdict.Prefix)
            {
                Assert.Equal(Verdict.Prefix, Read(openCopy, WalRecoveryMode.Strict));
                using WriteAheadLog again = WriteAheadLog.Open(Options(openCopy, WalRecoveryMode.Strict));
                Assert.Equal(new Lsn(last), again.LastLsn); // recovery after recovery is idempotent
            }
        }
    }

    private static WalOptions Options(string directory, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) =>
        new() { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 2, MaxEntryBytes = 4096, RecoveryMode = mode };

    private static byte[] PayloadOf(int seed, ulong lsn) => Payloads.Make(seed, (long)lsn, PayloadBytes);

    private static void Write(string directory, int seed)
    {
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory));
        for (ulong lsn = 1; lsn <= Records; lsn++)
        {
            log.AppendDurable(PayloadOf(seed, lsn));
        }
    }

    private string Copy(string from, string name)
    {
        string to = _temp.Log(name);
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from, "*.wal"))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }

        return to;
    }

    private static Verdict Read(string directory, WalRecoveryMode mode)
    {
        try
        {
            using WalReader reader = WalReader.Open(directory, Lsn.None, mode);
            ulong next = 1;
            while (reader.TryRead(out WalRecord record))
            {
                Assert.Equal(new Lsn(next), record.Lsn);
                Assert.True(record.Payload.SequenceEqual(PayloadOf(5, next)), $"Record {next} is byte-exact.");
                next++;
            }

            return Verdict.Prefix;
        }
        catch (WalCorruptionException e)
        {
            Assert.StartsWith(directory, e.SegmentPath, StringComparison.Ordinal);
            Assert.True(e.Offset >= 0);
            return Verdict.Throws;
        }
    }

    private static long PayloadOffset(string path, ulong lsn) => SegmentFiles.OffsetOf(path, PayloadOf(5, lsn));

    private void Apply(string damage, string directory)
    {
        string[] used = SegmentFiles.Used(directory);
        Assert.True(used.Length >= 3, "The log spans at least three segments.");
        string last = used[^1];
        string middle = used[1];
        switch (damage)
        {
            case "torn last record":
                SegmentFiles.Patch(last, PayloadOffset(last, Records) + 300, [0xDE, 0xAD, 0xBE, 0xEF]);
                break;
            case "zeroed tail sector":
                long sector = (PayloadOffset(last, Records) + 500) / 512 * 512;
                SegmentFiles.Patch(last, sector, new byte[512]);
                break;
            case "garbage right after the end":
                SegmentFiles.Patch(last, SegmentFiles.EndOfLog(directory), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
                break;
            case "garbage far after the end":
                SegmentFiles.Patch(last, SegmentFiles.EndOfLog(directory) + 4096, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
                break;
            case "flipped bit in a middle record":
                SegmentFiles.Flip(middle, PayloadOffset(middle, FirstLsnOf(middle) + 3) + 10);
                break;
            case "flipped bit in a padding byte":
                SegmentFiles.Flip(middle, PayloadOffset(middle, FirstLsnOf(middle) + 3) + PayloadBytes + 2);
                break;
            case "flipped bit in a segment header":
                SegmentFiles.Flip(middle, 26); // inside FirstLsn
                break;
            case "flipped bit in a batch header":
                SegmentFiles.Flip(middle, PayloadOffset(middle, FirstLsnOf(middle) + 3) - FrameHeader.Size - BatchHeader.Size + 9); // its FirstLsn
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
                File.WriteAllBytes(SegmentNames.PathOf(directory, SegmentNames.List(WalStorage.Files, directory)[^1] + 1), []);
                break;
            case "segment from another log":
                string other = _temp.Log($"other-{Guid.NewGuid():N}");
                Write(other, seed: 6);
                File.Copy(SegmentFiles.Used(other)[1], middle, overwrite: true);
                break;
            default:
                throw new ArgumentException($"Unknown damage case '{damage}'.", nameof(damage));
        }
    }

    private static ulong FirstLsnOf(string path) => BitConverter.ToUInt64(File.ReadAllBytes(path).AsSpan(24, 8));
}
