using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Recovery;

/// <summary>
/// What recovery leaves at the end of the log for the writer that continues there: no frames of the LSNs it will hand
/// out again (left by a torn write that lost its first sector), and no write larger than the segment header says.
/// </summary>
public sealed class TailSealTests : IDisposable
{
    private const int Payload = 1000;
    private const int Burst = 16;
    private static readonly int WriteBytes = BatchHeader.Size + FrameHeader.FrameSize(Payload);

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// A torn write that lost the sector holding its batch header while its later sectors reached the disk: that sector
    /// still holds the previous write's end marker, so the log ends cleanly before the torn write, and its frames and end
    /// marker, of the LSNs the writer hands out again, lie after the end. Left there, its end marker would read as a later
    /// write after the next torn tail, and the log would no longer open.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Frames_a_torn_write_left_after_a_clean_end_do_not_make_the_next_torn_tail_fatal(bool firstWriteOfSegment)
    {
        string directory = _temp.Log();
        int before = firstWriteOfSegment ? (int)((Options(directory).SegmentSizeBytes - SegmentHeader.Size) / WriteBytes) : 4;
        Bounded.Run(() => WriteThenBurst(Options(directory), before));

        // The crash: the burst's first sector(s), up to the end of its batch header, never reached the disk. They hold
        // what was there before: the previous write's end marker (for a segment's first batch, the opening write's),
        // saying the log continues at the burst's first LSN, then zeros.
        string[] segments = SegmentFiles.Used(directory);
        string burstSegment = segments[^1];
        long burstStart = SegmentFiles.OffsetOf(burstSegment, Payloads.Make(5, before, Payload)) - FrameHeader.Size - BatchHeader.Size;
        Assert.Equal(firstWriteOfSegment ? SegmentHeader.Size : SegmentHeader.Size + (before * WriteBytes), burstStart);
        Assert.Equal(firstWriteOfSegment ? 2 : 1, segments.Length);
        byte[] lostSectors = new byte[AlignUp(burstStart + BatchHeader.Size, SimulatedDisk.SectorSize) - burstStart];
        BatchHeader.WriteEndMarker(lostSectors, (ulong)before + 1, SegmentSalt.Of(LogLayout.Read(directory).LogId, (ulong)segments.Length));
        SegmentFiles.Patch(burstSegment, burstStart, lostSectors);

        // The next life: recovery ends the log before the burst; three records go where it was; the last write is torn.
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory)))
        {
            Assert.Equal(new Lsn((ulong)before), log.LastLsn);
            for (int i = 0; i < 3; i++)
            {
                log.AppendDurable(Payloads.Make(6, i, Payload));
            }
        }

        string last = SegmentFiles.Used(directory)[^1];
        Assert.Equal(burstSegment, last);
        SegmentFiles.Flip(last, SegmentFiles.OffsetOf(last, Payloads.Make(6, 2, Payload)) + 100);

        // A torn tail, nothing valid after it: cut, and the log opens.
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory)))
        {
            Assert.Equal(new Lsn((ulong)before + 2), log.LastLsn);
        }

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        LogContents.AssertContiguousFrom(records, 1);
        Assert.Equal(before + 2, records.Count);
        for (int i = 0; i < records.Count; i++)
        {
            Assert.True(i < before ? Payloads.Matches(records[i].Payload, 5, i) : Payloads.Matches(records[i].Payload, 6, i - before), $"Record {i + 1} is byte-exact.");
        }
    }

    [Fact]
    public void A_writer_with_a_larger_buffer_keeps_to_the_write_size_of_the_segment_it_continues()
    {
        // Recovery bounds a torn write by the size in the segment header: a reopened writer with a larger buffer that
        // wrote more at once into that segment could leave valid frames past the bound and make its torn tail fatal.
        string directory = _temp.Log();
        const int SmallBuffer = 4096;
        using (WriteAheadLog log = WriteAheadLog.Open(Options(directory, SmallBuffer)))
        {
            log.AppendDurable(Payloads.Make(5, 0, Payload));
        }

        Bounded.Run(() => WriteThenBurst(Options(directory), before: 2, startAt: 1));

        // The first writer's header allows its buffer, the end marker and the page padding (native-layout.md, section 4).
        uint maxWrite = LogLayout.Read(directory).Segments[0].MaxWriteBytes;
        Assert.Equal((uint)(SmallBuffer + BatchHeader.Size + global::Aletheia.Wal.Flush.FlushCoordinator.PageBytes), maxWrite);
        List<BatchHeader> batches = Batches(SegmentFiles.Used(directory).Single());
        foreach (BatchHeader batch in batches)
        {
            Assert.True(BatchHeader.Size + batch.FrameBytes + BatchHeader.Size <= maxWrite, $"The batch at LSN {batch.FirstLsn} ({batch.RecordCount} records) and its end marker fit the segment's {maxWrite}-byte writes.");
        }

        Assert.Equal(2 + Burst, batches.Sum(batch => (int)batch.RecordCount));
        Assert.True(batches.Count >= 2 + (Burst * WriteBytes / (maxWrite - BatchHeader.Size)), $"The burst was split into writes of the segment's size ({batches.Count} batches).");
        Assert.Equal(2 + Burst, LogContents.ReadAll(directory, WalRecoveryMode.Strict).Count);
    }

    [Fact]
    public void A_segments_opening_write_is_its_header_and_end_marker_alone_and_batches_follow_on_that_marker()
    {
        // Alone, so that nothing of a torn opening write reaches past its 88 bytes (recovery zeroes just those in the next
        // segment), and so that an intact batch at offset 64 proves the header was written before it. A frame larger than
        // 1 MiB still goes into a segment of its own.
        string directory = _temp.Log();
        var storage = new FaultyStorage();
        var options = new WalOptions { Directory = directory, SegmentSizeBytes = 4L << 20, WriteBufferBytes = 4 << 20, StripeCount = 1, StripeCapacityBytes = 4 << 20, MaxEntryBytes = 3 << 19 };
        const int Large = (3 << 20) / 2;
        using (WriteAheadLog log = WriteAheadLog.Open(options, storage))
        {
            Bounded.Run(() =>
            {
                for (int i = 0; i < 5; i++)
                {
                    log.AppendDurable(Payloads.Make(7, i, Large)); // two per 4 MiB segment: three segments
                }
            });
        }

        // Each segment: the opening write, then batch writes, each on the previous end marker; every segment but the last
        // is then closed, its end marker written again with the closed flag, before the next one's opening write.
        string[] segments = SegmentFiles.Used(directory);
        Assert.Equal(3, segments.Length);
        int batchWrite = BatchHeader.Size + FrameHeader.FrameSize(Large) + BatchHeader.Size;
        LogLayout layout = LogLayout.Read(directory);
        for (int i = 0; i < segments.Length; i++)
        {
            List<(long Offset, int Length)> writes = storage.Writes.Where(w => w.Path == segments[i]).Select(w => (w.Offset, w.Length)).ToList();
            Assert.Equal((0L, SegmentHeader.OpeningWriteBytes), writes[0]);
            bool closed = i < segments.Length - 1;
            List<(long Offset, int Length)> batches = writes.Skip(1).SkipLast(closed ? 1 : 0).ToList();
            Assert.Equal(SegmentHeader.Size, batches[0].Offset);
            // Padded with zeros to the next 4 KiB offset, within the segment and its header's write size.
            long segmentLength = layout.Segments[i].Length;
            uint maxWrite = layout.Segments[i].MaxWriteBytes;
            Assert.All(batches, w => Assert.True(
                w.Length == Math.Min((w.Offset + batchWrite + global::Aletheia.Wal.Flush.FlushCoordinator.PageBytes - 1) & ~(long)(global::Aletheia.Wal.Flush.FlushCoordinator.PageBytes - 1), Math.Min(segmentLength, w.Offset + maxWrite)) - w.Offset,
                $"A batch write is its header, one frame, its end marker and the padding to the next page ({w.Length} bytes at {w.Offset})."));
            if (closed)
            {
                Assert.Equal((layout.Segments[i].DataEnd, BatchHeader.Size), writes[^1]);
            }
        }

        var records = LogContents.ReadAll(directory, WalRecoveryMode.Strict);
        Assert.Equal(5, records.Count);
        Assert.True(Payloads.Matches(records[^1].Payload, 7, 4));
    }

    private static WalOptions Options(string directory, int writeBufferBytes = 1 << 20) =>
        new() { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 2, MaxEntryBytes = Payload, WriteBufferBytes = writeBufferBytes };

    private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    /// <summary>The batch headers of a segment file, in order.</summary>
    private static List<BatchHeader> Batches(string segment)
    {
        byte[] bytes = SegmentFiles.ReadShared(segment);
        uint salt = SegmentSalt.Of(LogLayout.Read(Path.GetDirectoryName(segment)!).LogId, ulong.Parse(Path.GetFileNameWithoutExtension(segment), System.Globalization.CultureInfo.InvariantCulture));
        var batches = new List<BatchHeader>();
        for (long offset = SegmentHeader.Size; BatchHeader.TryRead(bytes.AsSpan((int)offset, BatchHeader.Size), salt, out BatchHeader batch) && !batch.IsEndMarker; offset += BatchHeader.Size + batch.FrameBytes)
        {
            batches.Add(batch);
        }

        return batches;
    }

    /// <summary>
    /// Appends records <paramref name="startAt"/> to <paramref name="before"/> - 1 (producer 5), each its own durable
    /// write, then <paramref name="burst"/> more as one write (as far as it fits): the write of the last single record
    /// is held while they are appended.
    /// </summary>
    private static void WriteThenBurst(WalOptions options, int before, int startAt = 0, int payload = Payload, int burst = Burst)
    {
        var storage = new FaultyStorage();
        using WriteAheadLog log = WriteAheadLog.Open(options, storage);
        for (int i = startAt; i < before - 1; i++)
        {
            log.AppendDurable(Payloads.Make(5, i, payload));
        }

        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int hold = 1;
        storage.BeforeWrite = () =>
        {
            if (Interlocked.Exchange(ref hold, 0) == 1)
            {
                held.Set();
                Assert.True(release.Wait(TimeSpan.FromSeconds(30)));
            }
        };

        log.Append(Payloads.Make(5, before - 1, payload));
        Assert.True(held.Wait(TimeSpan.FromSeconds(30)), "The flush thread began writing the last single record.");
        for (int i = 0; i < burst; i++)
        {
            log.Append(Payloads.Make(5, before + i, payload));
        }

        release.Set();
        log.Flush();
    }
}
