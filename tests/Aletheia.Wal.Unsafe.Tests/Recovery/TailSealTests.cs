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
    /// A torn write that lost the sector holding its batch header (and, as a segment's first write, the segment header)
    /// while its later sectors reached the disk: the log ends cleanly before it, and its frames, of the LSNs the writer
    /// hands out again, lie after the end. Left there, they would make the next torn tail look like damage followed by
    /// valid data, and the log would no longer open.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Frames_a_torn_write_left_after_a_clean_end_do_not_make_the_next_torn_tail_fatal(bool firstWriteOfSegment)
    {
        string directory = _temp.Log();
        int before = firstWriteOfSegment ? (int)((Options(directory).SegmentSizeBytes - SegmentHeader.Size) / WriteBytes) : 4;
        Bounded.Run(() => WriteThenBurst(directory, before));

        // The crash: the burst's first sector(s), up to the end of its batch header, never reached the disk.
        string[] segments = SegmentFiles.Used(directory);
        string burstSegment = segments[^1];
        long burstStart = SegmentFiles.OffsetOf(burstSegment, Payloads.Make(5, before, Payload)) - FrameHeader.Size - BatchHeader.Size;
        Assert.Equal(firstWriteOfSegment ? SegmentHeader.Size : SegmentHeader.Size + (before * WriteBytes), burstStart);
        Assert.Equal(firstWriteOfSegment ? 2 : 1, segments.Length);
        long lost = firstWriteOfSegment ? 0 : burstStart;
        SegmentFiles.Patch(burstSegment, lost, new byte[AlignUp(burstStart + BatchHeader.Size, SimulatedDisk.SectorSize) - lost]);

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

        Bounded.Run(() => WriteThenBurst(directory, before: 2, startAt: 1));

        string segment = SegmentFiles.Used(directory).Single();
        byte[] bytes = SegmentFiles.ReadShared(segment);
        int batches = 0;
        int records = 0;
        for (long offset = SegmentHeader.Size; BatchHeader.TryRead(bytes.AsSpan((int)offset, BatchHeader.Size), out BatchHeader batch); offset += BatchHeader.Size + batch.FrameBytes)
        {
            Assert.True(BatchHeader.Size + batch.FrameBytes <= SmallBuffer, $"The batch at offset {offset} ({batch.RecordCount} records) fits the segment's {SmallBuffer}-byte writes.");
            batches++;
            records += (int)batch.RecordCount;
        }

        Assert.Equal(2 + Burst, records);
        Assert.True(batches >= 2 + (Burst * WriteBytes / SmallBuffer), $"The burst was split into writes of the segment's size ({batches} batches).");
        Assert.Equal(2 + Burst, LogContents.ReadAll(directory, WalRecoveryMode.Strict).Count);
    }

    private static WalOptions Options(string directory, int writeBufferBytes = 1 << 20) =>
        new() { Directory = directory, SegmentSizeBytes = 64 * 1024, StripeCount = 2, MaxEntryBytes = Payload, WriteBufferBytes = writeBufferBytes };

    private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    /// <summary>
    /// Appends records <paramref name="startAt"/> to <paramref name="before"/> - 1 (producer 5), each its own durable
    /// write, then <see cref="Burst"/> more as one write: the write of the last single record is held while they are
    /// appended.
    /// </summary>
    private static void WriteThenBurst(string directory, int before, int startAt = 0)
    {
        var storage = new FaultyStorage();
        using WriteAheadLog log = WriteAheadLog.Open(Options(directory), storage);
        for (int i = startAt; i < before - 1; i++)
        {
            log.AppendDurable(Payloads.Make(5, i, Payload));
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

        log.Append(Payloads.Make(5, before - 1, Payload));
        Assert.True(held.Wait(TimeSpan.FromSeconds(30)), "The flush thread began writing the last single record.");
        for (int i = 0; i < Burst; i++)
        {
            log.Append(Payloads.Make(5, before + i, Payload));
        }

        release.Set();
        log.Flush();
    }
}
