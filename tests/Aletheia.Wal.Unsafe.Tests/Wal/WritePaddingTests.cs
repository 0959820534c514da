using Aletheia.Wal.Flush;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Tests.Support;
using Xunit;

namespace Aletheia.Wal.Tests.Wal;

/// <summary>
/// Batch writes end on a 4 KiB page boundary (zeros after the end marker), so that no write-through write covers part of
/// a page the page cache does not hold; the segment's header allows the padding in its MaxWriteBytes, and a segment
/// opened by an earlier writer is never written past what its header allows.
/// </summary>
public sealed class WritePaddingTests : IDisposable
{
    private const int Page = FlushCoordinator.PageBytes;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Every_batch_write_ends_on_a_page_boundary_or_at_the_segment_end_and_the_header_allows_the_padding()
    {
        const int segmentBytes = 100_000; // not a multiple of the page: the last write of a segment may end at its end
        var storage = new FaultyStorage();
        var sizes = new List<int>();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), SegmentSizeBytes = segmentBytes, WriteBufferBytes = 64 << 10, MaxEntryBytes = 4096 }, storage))
        {
            var random = new Random(7);
            for (int i = 0; i < 300; i++)
            {
                int size = random.Next(0, 3000);
                sizes.Add(size);
                log.AppendDurable(Payloads.Make(0, i, size)); // one batch per record: every end offset mod 4096 occurs
            }
        }

        LogLayout layout = LogLayout.Read(_temp.Log());
        Assert.True(layout.Used.Count() > 2, "The records fill several segments, so that writes meet segment ends.");
        Assert.All(layout.Used, s => Assert.Equal((uint)((64 << 10) + BatchHeader.Size + Page), s.MaxWriteBytes));

        // Batch writes: not a segment's opening write (offset 0) and not a closing end marker (24 bytes alone).
        var batchWrites = storage.Writes.Where(w => w.Offset != 0 && w.Length != BatchHeader.Size).ToList();
        Assert.Equal(300, batchWrites.Count);
        foreach ((string path, long offset, int length) in batchWrites)
        {
            long end = offset + length;
            long segmentLength = new FileInfo(path).Length;
            Assert.True(
                end % Page == 0 || end == segmentLength,
                $"The write [{offset}, {end}) into {Path.GetFileName(path)} ends neither on a page boundary nor at the segment's end ({segmentLength}).");
            Assert.True(end - offset < BatchHeader.Size + FrameHeader.FrameSize(3000) + BatchHeader.Size + Page, "The padding is less than a page.");
        }

        // The records read back exactly: the padding is never taken for data.
        var records = LogContents.ReadAll(_temp.Log());
        Assert.Equal(sizes.Count, records.Count);
        for (int i = 0; i < sizes.Count; i++)
        {
            Assert.Equal(Payloads.Make(0, i, sizes[i]), records[i].Payload);
        }
    }

    [Fact]
    public void A_segment_opened_by_a_writer_with_a_smaller_buffer_is_never_written_past_what_its_header_allows()
    {
        const int smallBuffer = 16 << 10;
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), WriteBufferBytes = smallBuffer, MaxEntryBytes = 4096 }))
        {
            log.AppendDurable([1, 2, 3]);
        }

        uint inherited = LogLayout.Read(_temp.Log()).Segments[0].MaxWriteBytes;
        Assert.Equal((uint)(smallBuffer + BatchHeader.Size + Page), inherited);

        var storage = new FaultyStorage();
        using (WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = _temp.Log(), WriteBufferBytes = 1 << 20, MaxEntryBytes = 4096 }, storage))
        {
            storage.BeforeWrite = () => Thread.Sleep(2); // let the records pile up: batches as large as the segment allows
            for (int i = 0; i < 2_000; i++)
            {
                log.Append(Payloads.Make(0, i, 100));
            }

            log.Flush();
        }

        var batchWrites = storage.Writes.Where(w => w.Offset != 0 && w.Length != BatchHeader.Size).ToList();
        Assert.Contains(batchWrites, w => w.Length > smallBuffer); // batches reached the inherited limit
        Assert.All(batchWrites, w => Assert.True(
            w.Length <= inherited,
            $"The write [{w.Offset}, {w.Offset + w.Length}) is longer than the {inherited} bytes the segment's header allows."));
        Assert.Equal(2_001, LogContents.ReadAll(_temp.Log()).Count);
    }
}
