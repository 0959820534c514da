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
    public void Reused_segment_whose_last_batch_ends_less_than_a_terminator_before_its_end_reopens()
    {
        // Found by review: a reused file filled to 8 bytes before its end kept 8 stale bytes there (the terminator was
        // skipped when 24 did not fit), which read as a damaged batch header: a clean shutdown that would not reopen.
        // One record per AppendDurable is one batch. A 2,072 B payload is a 2,088 B frame and a 2,112 B batch: 31 of
        // them after the 64 B segment header fill segment 1 exactly, with non-zero bytes up to its last.
        // A 1,296 B payload is a 1,336 B batch: 49 of them fill a segment to 65,528, 8 bytes short of its end.
        string directory = _temp.Log();
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = 64 * 1024, MaxEntryBytes = 4096, StripeCount = 1, MaxRecycledSegments = 4 };
        byte[] Filled(int length, byte value)
        {
            byte[] payload = new byte[length];
            Array.Fill(payload, value);
            return payload;
        }

        string segment4 = SegmentNames.PathOf(directory, 4);
        var acknowledged = new List<(Lsn Lsn, byte[] Payload)>();
        void AppendDurable(WriteAheadLog log, byte[] payload) => acknowledged.Add((log.AppendDurable(payload), payload));

        using (WriteAheadLog log = WriteAheadLog.Open(options))
        {
            for (int i = 0; i < 31; i++)
            {
                AppendDurable(log, Filled(2072, 0xAB));
            }

            AppendDurable(log, Filled(100, 1)); // opens segment 2; segment 3 is prepared fresh
            log.TruncateBefore(acknowledged[^1].Lsn); // segment 1 is recycled: it becomes segment 4
            while (!SegmentFiles.IsUsed(segment4))
            {
                AppendDurable(log, Filled(1296, 2));
            }

            for (int i = 0; i < 48; i++)
            {
                AppendDurable(log, Filled(1296, 3)); // segment 4 now ends 8 bytes before its end
            }

            AppendDurable(log, Filled(1296, 4)); // does not fit: opens segment 5
            Assert.True(SegmentFiles.IsUsed(SegmentNames.PathOf(directory, 5)));
        }

        Assert.Equal(new byte[8], SegmentFiles.ReadShared(segment4)[^8..]);
        using (WriteAheadLog reopened = WriteAheadLog.Open(options))
        {
            Assert.Equal(acknowledged[^1].Lsn, reopened.LastLsn);
        }

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(acknowledged.Where(a => a.Lsn >= new Lsn(records[0].Lsn)).Select(a => a.Payload), records.Select(r => r.Payload));
    }

    [Fact]
    public void Truncation_never_trusts_a_segment_header_whose_write_has_not_returned()
    {
        // Found by review: a header still in flight is in the page cache, not yet on disk. Truncating below it could
        // remove the last durable segment; after a power loss the log would restart at LSN 1.
        var storage = new FaultyStorage();
        using var inFlight = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        string directory = _temp.Log();
        using WriteAheadLog log = WriteAheadLog.Open(Options(), storage);
        AppendRange(log, 1, 100); // segment 1 holds them
        Lsn durable = log.DurableLsn;
        storage.AfterWrite = () =>
        {
            if (SegmentFiles.IsUsed(SegmentNames.PathOf(directory, 2)) && !inFlight.IsSet)
            {
                inFlight.Set();
                Assert.True(release.Wait(TimeSpan.FromSeconds(30)));
            }
        };

        Bounded.Run(() =>
        {
            var appender = new Thread(() =>
            {
                for (ulong lsn = 101; !inFlight.IsSet; lsn++)
                {
                    log.Append(PayloadOf(lsn));
                }
            });
            appender.Start();
            try
            {
                Assert.True(inFlight.Wait(TimeSpan.FromSeconds(30)), "Segment 2's first write is in the file and has not returned.");
                log.TruncateBefore(log.LastLsn);
                Assert.True(File.Exists(SegmentNames.PathOf(directory, 1)), "Segment 1 stays: segment 2's header is not durable yet.");
            }
            finally
            {
                inFlight.Set(); // stops the appender, also after a failed assertion, before the log is disposed under it
                release.Set();
                Assert.True(appender.Join(TimeSpan.FromSeconds(30)));
            }

            log.Flush();
        });

        Assert.True(log.DurableLsn > durable);
    }

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
