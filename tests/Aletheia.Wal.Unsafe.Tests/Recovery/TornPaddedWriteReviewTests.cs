using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// Review of the padded batch writes (native-layout.md section 4): the last write of a log, [batch][end marker][zeros to
/// the next 4 KiB offset], is torn at every 512-byte sector of it, by byte surgery on a copy of the real files: every
/// prefix of its sectors, every single sector lost, every single sector kept. Five records were acknowledged before it;
/// the torn write's record is kept exactly when its batch and end marker reached the disk. For each tear the dry run
/// (WalInspection) and the real recovery must agree, the log must open, take an append and read back byte-exact.
/// Three segments: fresh (written by this version), one whose header says the 0.6 write size (buffer + 24, patched and
/// re-sealed) and is continued by this version (its padding is cut short by that size), and a recycled file whose stale
/// bytes the padding overwrites.
/// </summary>
public sealed class TornPaddedWriteReviewTests(ITestOutputHelper output) : IDisposable
{
    private const int Sector = 512;
    private const int Buffer = 4608;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    public enum SegmentKind
    {
        Fresh,
        OldHeader,
        Recycled,
    }

    [Theory]
    [InlineData(SegmentKind.Fresh, 3000)]
    [InlineData(SegmentKind.Fresh, 3900)]
    [InlineData(SegmentKind.OldHeader, 4400)]
    [InlineData(SegmentKind.Recycled, 3900)]
    public void A_padded_write_torn_at_any_sector_keeps_its_record_exactly_when_its_batch_and_end_marker_reached_the_disk(SegmentKind kind, int lastPayload)
    {
        string pristine = _temp.Log("pristine");
        var expected = new Dictionary<ulong, byte[]>();
        (string segment, long offset, byte[] before, byte[] written, int dataLength, ulong kept, uint maxWrite) = WriteLog(pristine, kind, lastPayload, expected);
        int paddingLength = written.Length - dataLength;
        output.WriteLine($"{kind}: last write [{offset}, {offset + written.Length}) = {dataLength} bytes of batch and end marker + {paddingLength} of padding; header MaxWriteBytes {maxWrite}; records {expected.Keys.Min()} to {kept} before it");
        Assert.True(written.AsSpan(dataLength).IndexOfAnyExcept((byte)0) < 0, "The padding is zeros.");
        if (kind == SegmentKind.OldHeader)
        {
            Assert.Equal(offset + maxWrite, offset + written.Length); // cut short by the 0.6 header's write size, not at a page
            Assert.NotEqual(0, (offset + written.Length) % 4096);
        }
        else
        {
            Assert.Equal(0, (offset + written.Length) % 4096);
        }

        if (kind == SegmentKind.Recycled)
        {
            Assert.True(before.AsSpan((int)offset + dataLength, paddingLength).IndexOfAnyExcept((byte)0) >= 0, "Stale bytes of the recycled file lay where the padding goes.");
            Assert.True(before.AsSpan((int)offset + written.Length).IndexOfAnyExcept((byte)0) >= 0, "Stale bytes of the recycled file lie after the write.");
        }

        // The pieces of the write on 512-byte device sectors (the first and last may be partial).
        var pieces = new List<(int Start, int End)>();
        for (int start = 0; start < written.Length;)
        {
            int end = (int)Math.Min(written.Length, ((offset + start) / Sector + 1) * Sector - offset);
            pieces.Add((start, end));
            start = end;
        }

        var cases = new List<(string Name, bool[] Kept)>();
        for (int k = 0; k <= pieces.Count; k++)
        {
            cases.Add(($"prefix of {k} sectors", pieces.Select((_, i) => i < k).ToArray()));
        }

        for (int j = 0; j < pieces.Count; j++)
        {
            cases.Add(($"all but sector {j}", pieces.Select((_, i) => i != j).ToArray()));
            cases.Add(($"sector {j} alone", pieces.Select((_, i) => i == j).ToArray()));
        }

        int keptCount = 0;
        int tornCount = 0;
        int index = 0;
        foreach ((string name, bool[] keptPieces) in cases)
        {
            string directory = _temp.Log($"case-{index++}");
            SegmentFiles.CopyLog(pristine, directory);
            byte[] image = before.ToArray();
            for (int i = 0; i < pieces.Count; i++)
            {
                if (keptPieces[i])
                {
                    written.AsSpan(pieces[i].Start, pieces[i].End - pieces[i].Start).CopyTo(image.AsSpan((int)offset + pieces[i].Start));
                }
            }

            string path = Path.Combine(directory, Path.GetFileName(segment));
            File.WriteAllBytes(path, image);
            bool complete = pieces.Select((p, i) => (p, i)).Where(x => x.p.Start < dataLength).All(x => keptPieces[x.i]);
            bool markerChanged = image.AsSpan((int)offset, BatchHeader.Size).SequenceEqual(before.AsSpan((int)offset, BatchHeader.Size)) == false;
            ulong expectedLast = kept + (complete ? 1UL : 0UL);
            WalVerdict expectedVerdict = complete || !markerChanged ? WalVerdict.Healthy : WalVerdict.TornTail;
            string context = $"{kind}, {name}";

            WalInspectionReport report = WalInspection.Inspect(directory);
            Assert.True(expectedVerdict == report.Verdict, $"{context}: the dry run says {report.Verdict}, expected {expectedVerdict} ({report.Damage?.Reason}).");
            Assert.True(new Lsn(expectedLast) == report.LastLsn, $"{context}: the dry run ends at {report.LastLsn}, expected {expectedLast}.");
            using (WriteAheadLog log = WriteAheadLog.Open(Options(directory)))
            {
                Assert.True(new Lsn(expectedLast) == log.LastLsn, $"{context}: recovery kept up to {log.LastLsn}, expected {expectedLast}.");
                Assert.Equal(new Lsn(expectedLast + 1), log.AppendDurable(Payloads.Make(9, (long)expectedLast, 500)));
            }

            var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
            ulong firstLsn = expected.Keys.Min();
            Assert.True(records.Count > 0 && records[0].Lsn == firstLsn && records[^1].Lsn == expectedLast + 1, $"{context}: records {records[0].Lsn} to {records[^1].Lsn} read back, expected {firstLsn} to {expectedLast + 1}.");
            LogContents.AssertContiguousFrom(records, firstLsn);
            foreach ((ulong lsn, byte[] payload) in records.SkipLast(1))
            {
                Assert.True(expected[lsn].AsSpan().SequenceEqual(payload), $"{context}: record {lsn} is byte-exact.");
            }

            Assert.True(Payloads.Matches(records[^1].Payload, 9, (long)expectedLast), $"{context}: the record appended after recovery is byte-exact.");
            if (complete)
            {
                keptCount++;
            }
            else
            {
                tornCount++;
            }
        }

        output.WriteLine($"{cases.Count} tears over {pieces.Count} sectors: {keptCount} kept the record, {tornCount} dropped it; dry run and recovery agreed on each");
    }

    /// <summary>
    /// A segment whose header says the 0.6 write size (buffer + 24) is continued by this version under load, cut with
    /// TruncateAfter (the writer continues in it from the cut) and written again: no write into it, padding included, is
    /// longer than its header allows, and every record reads back.
    /// </summary>
    [Fact]
    public void A_segment_with_a_0_6_header_continued_and_cut_is_never_written_past_its_write_size()
    {
        string directory = _temp.Log();
        var expected = new Dictionary<ulong, byte[]>();
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory, maxRecycled: 0)))
        {
            AppendFive(log, expected);
        }

        string segment = SegmentFiles.Used(directory).Single();
        byte[] header = File.ReadAllBytes(segment).AsSpan(0, SegmentHeader.Size).ToArray();
        const uint OldMaxWrite = Buffer + BatchHeader.Size;
        BitConverter.TryWriteBytes(header.AsSpan(48), OldMaxWrite);
        BitConverter.TryWriteBytes(header.AsSpan(60), Crc32C.Compute(header.AsSpan(0, 60)));
        SegmentFiles.Patch(segment, 0, header);

        // Which thread made each segment write (writes are sequential here: recovery's, then the flush thread's and the
        // cut's, which holds the flush thread): the flush thread's are the batch writes; the others zero-fill (recovery's
        // seal of the tail, the cut's zeroing after its end marker) and may be as long as the bytes to zero.
        var storage = new FaultyStorage();
        var writers = new System.Collections.Concurrent.ConcurrentQueue<string>();
        bool slow = false;
        storage.BeforeWrite = () =>
        {
            writers.Enqueue(Thread.CurrentThread.Name ?? "");
            if (Volatile.Read(ref slow))
            {
                Thread.Sleep(1); // records pile up: batches as large as the header allows
            }
        };
        Bounded.Run(() =>
        {
            using WriteAheadLog log = WriteAheadLog.Open(Options(directory, maxRecycled: 0), storage);
            Volatile.Write(ref slow, true);
            for (int i = 0; i < 40; i++)
            {
                byte[] payload = Payloads.Make(3, i, 300 + (i * 37 % 900));
                expected[log.Append(payload).Value] = payload;
            }

            log.Flush();
            Volatile.Write(ref slow, false);
            log.TruncateAfter(new Lsn(20));
            foreach (ulong gone in expected.Keys.Where(l => l > 20).ToList())
            {
                expected.Remove(gone);
            }

            Volatile.Write(ref slow, true);
            for (int i = 40; i < 60; i++)
            {
                byte[] payload = Payloads.Make(3, i, 300 + (i * 37 % 900));
                expected[log.Append(payload).Value] = payload;
            }

            log.Flush();
        });

        Assert.Equal(writers.Count, storage.Writes.Count);
        var intoOld = storage.Writes.Zip(writers).Where(w => w.First.Path == segment && w.Second.EndsWith("-flush", StringComparison.Ordinal)).Select(w => w.First).ToList();
        output.WriteLine($"{intoOld.Count} batch writes into the 0.6 segment, the longest {intoOld.Max(w => w.Length)} bytes; its header allows {OldMaxWrite}");
        Assert.Contains(intoOld, w => w.Length > Buffer / 2); // the load made large batches there
        Assert.All(intoOld, w => Assert.True(w.Length <= OldMaxWrite, $"The write [{w.Offset}, {w.Offset + w.Length}) into the 0.6 segment is longer than its header's {OldMaxWrite} bytes."));
        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(expected.Count, records.Count);
        Assert.All(records, r => Assert.True(expected[r.Lsn].AsSpan().SequenceEqual(r.Payload), $"Record {r.Lsn} is byte-exact."));
    }

    /// <summary>
    /// Writes the log: five acknowledged records of 700 bytes (the last write then ends mid-page), then one of
    /// <paramref name="lastPayload"/> bytes, whose write is captured: the segment's bytes before it, and what it wrote.
    /// The recycled kind first fills segments 1 and 2 with records of 1000 bytes, truncates segment 1 away (kept as a
    /// recycled file, stale bytes and all) and writes on until the writer reuses it, as segment 4.
    /// </summary>
    private static (string Segment, long Offset, byte[] Before, byte[] Written, int DataLength, ulong Kept, uint MaxWrite) WriteLog(
        string directory, SegmentKind kind, int lastPayload, Dictionary<ulong, byte[]> expected)
    {
        if (kind == SegmentKind.OldHeader)
        {
            using (WriteAheadLog log = WriteAheadLog.Open(Options(directory)))
            {
                AppendFive(log, expected);
            }

            // As version 0.6 wrote it: MaxWriteBytes = write buffer + 24, the header's CRC sealed again.
            string first = SegmentFiles.Used(directory).Single();
            byte[] header = File.ReadAllBytes(first).AsSpan(0, SegmentHeader.Size).ToArray();
            BitConverter.TryWriteBytes(header.AsSpan(48), (uint)(Buffer + BatchHeader.Size));
            BitConverter.TryWriteBytes(header.AsSpan(60), Crc32C.Compute(header.AsSpan(0, 60)));
            SegmentFiles.Patch(first, 0, header);
        }

        // One session from here: a reopen would zero the stale bytes within a write's reach (recovery's seal of the tail).
        var storage = new FaultyStorage();
        byte[]? before = null;
        string segment;
        ulong kept;
        int writesBefore;
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage))
        {
            if (kind == SegmentKind.Recycled)
            {
                int i = 0;
                while (LastSegment(directory) < 2)
                {
                    byte[] payload = Payloads.Make(7, i++, 1000);
                    expected[log.AppendDurable(payload).Value] = payload;
                }

                log.TruncateBefore(log.DurableLsn);
                Assert.Single(Directory.GetFiles(directory, "*" + SegmentNames.RecycledExtension));
                while (LastSegment(directory) < 4)
                {
                    byte[] payload = Payloads.Make(7, i++, 1000);
                    expected[log.AppendDurable(payload).Value] = payload;
                }

                Assert.Empty(Directory.GetFiles(directory, "*" + SegmentNames.RecycledExtension)); // reused as segment 4
            }

            if (kind != SegmentKind.OldHeader)
            {
                AppendFive(log, expected);
            }

            segment = SegmentFiles.Used(directory)[^1];
            kept = log.LastLsn.Value;
            writesBefore = storage.Writes.Count;
            storage.BeforeWrite = () => before ??= File.ReadAllBytes(segment);
            byte[] last = Payloads.Make(2, 0, lastPayload);
            Assert.Equal(new Lsn(kept + 1), log.AppendDurable(last));
            expected[kept + 1] = last;
            storage.BeforeWrite = null;
            foreach (ulong gone in expected.Keys.Where(lsn => lsn < log.OldestLsn.Value).ToList())
            {
                expected.Remove(gone); // truncated away (the recycled kind)
            }
        }

        (string path, long offset, int length) = storage.Writes.Skip(writesBefore).Single();
        Assert.Equal(segment, path);
        byte[] after = File.ReadAllBytes(segment);
        uint maxWrite = LogLayout.Read(directory).Segments.Single(s => s.Path == segment).MaxWriteBytes;
        return (segment, offset, before!, after.AsSpan((int)offset, length).ToArray(), BatchHeader.Size + FrameHeader.FrameSize(lastPayload) + BatchHeader.Size, kept, maxWrite);
    }

    private static void AppendFive(WriteAheadLog log, Dictionary<ulong, byte[]> expected)
    {
        for (int i = 0; i < 5; i++)
        {
            byte[] payload = Payloads.Make(1, i, 700);
            expected[log.AppendDurable(payload).Value] = payload;
        }
    }

    private static ulong LastSegment(string directory) =>
        SegmentFiles.Used(directory).Select(p => ulong.Parse(Path.GetFileNameWithoutExtension(p), System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0UL).Max();

    private static WalOptions Options(string directory, int maxRecycled = 1) => new()
    {
        Directory = directory,
        SegmentSizeBytes = 64 * 1024,
        WriteBufferBytes = Buffer,
        MaxEntryBytes = 4400,
        StripeCount = 1,
        MaxRecycledSegments = maxRecycled,
    };
}
