using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>Segments freed by truncation are kept and reused; their stale frames never pass as records.</summary>
public sealed class RecyclingTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private WalOptions Options(WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) => new()
    {
        Directory = _temp.Log(), SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, StripeCount = 2, MaxRecycledSegments = 2, RecoveryMode = mode,
    };

    private static byte[] PayloadOf(ulong lsn) => Payloads.Make(4, (long)lsn, (int)(lsn * 7919 % 900) + 100);

    private static void AppendRange(WriteAheadLog log, ulong from, ulong to)
    {
        for (ulong lsn = from; lsn <= to; lsn++)
        {
            Assert.Equal(new Lsn(lsn), log.Append(PayloadOf(lsn)));
        }

        log.Flush();
    }

    private int Count(string pattern) => Directory.GetFiles(_temp.Log(), pattern).Length;

    [Fact]
    public void Truncated_segments_are_recycled_reused_and_their_stale_frames_never_read()
    {
        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            AppendRange(log, 1, 600);
            log.TruncateBefore(new Lsn(450));
            Assert.Equal(2, Count("*.recycle")); // the configured number kept; the other freed segments deleted

            // Appending on rotates into the recycled files: no new zero-filled file is needed for them.
            AppendRange(log, 601, 1200);
            Assert.Equal(0, Count("*.recycle"));
            using WalReader reader = log.ReadFrom(new Lsn(450));
            ulong expected = 450;
            while (reader.TryRead(out WalRecord record))
            {
                Assert.Equal(new Lsn(expected), record.Lsn);
                Assert.True(record.Payload.SequenceEqual(PayloadOf(expected)), $"Record {expected} is byte-exact.");
                expected++;
            }

            Assert.Equal(1201ul, expected);
        }

        // A reused file holds stale frames after the end of its new data: a strict reopen still finds the log clean.
        using (WriteAheadLog log = WriteAheadLog.Open(Options(WalRecoveryMode.Strict)))
        {
            Assert.Equal(new Lsn(1200), log.LastLsn);
        }

        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        LogContents.AssertContiguousFrom(records, records[0].Lsn);
        Assert.Equal(1200ul, records[^1].Lsn);
        Assert.All(records, r => Assert.True(r.Payload.SequenceEqual(PayloadOf(r.Lsn))));
    }

    [Fact]
    public void Recycled_files_survive_reopen_and_a_crash_right_after_reuse_reads_as_an_unused_segment()
    {
        using (WriteAheadLog log = WriteAheadLog.Open(Options()))
        {
            AppendRange(log, 1, 600);
            log.TruncateBefore(new Lsn(450));
        }

        Assert.Equal(2, Count("*.recycle"));
        string recycled = Directory.GetFiles(_temp.Log(), "*.recycle").Order(StringComparer.Ordinal).First();

        // The state a crash leaves between a reuse's rename and its first write: header zeroed, stale frames after it.
        List<ulong> numbers = SegmentNames.List(WalStorage.Files, _temp.Log());
        ulong next = numbers[^1] + 1;
        SegmentWriter.Reuse(WalStorage.Files, _temp.Log(), recycled, next).Dispose();

        using (WriteAheadLog log = WriteAheadLog.Open(Options(WalRecoveryMode.Strict)))
        {
            Assert.Equal(new Lsn(600), log.LastLsn);
            AppendRange(log, 601, 1000);
        }

        var records = LogContents.ReadAll(_temp.Log(), WalRecoveryMode.Strict);
        Assert.Equal(1000ul, records[^1].Lsn);
        LogContents.AssertContiguousFrom(records, records[0].Lsn);
        Assert.All(records, r => Assert.True(r.Payload.SequenceEqual(PayloadOf(r.Lsn))));
    }
}
