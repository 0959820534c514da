using System.Buffers.Binary;
using Aletheia.Wal.Native;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Reading;

/// <summary>
/// Reads one segment file at a time through a native buffer and checks what it finds: the segment header, batch
/// headers and frames. Streams: memory is one buffer (1 MiB, grown only for a frame larger than that), never the file.
/// A pointer it returns is valid until the next call.
/// </summary>
internal sealed unsafe class SegmentScanner : IDisposable
{
    private NativeSlab _slab;
    private byte* _buffer;
    private int _capacity;
    private WalFile? _file;
    private long _bufferStart;
    private int _bufferCount;

    public SegmentScanner(int bufferBytes = 1 << 20)
    {
        _capacity = bufferBytes;
        _slab = new NativeSlab((nuint)bufferBytes);
        _buffer = _slab.Pointer;
    }

    public long Length { get; private set; }

    public void Attach(WalFile file)
    {
        _file = file;
        Length = file.Length;
        _bufferStart = 0;
        _bufferCount = 0;
    }

    /// <summary>[offset, offset + count) in memory, or null if the file ends before.</summary>
    public byte* Fetch(long offset, int count)
    {
        if (offset < 0 || count < 0 || offset + count > Length)
        {
            return null;
        }

        if (offset >= _bufferStart && offset + count <= _bufferStart + _bufferCount)
        {
            return _buffer + (offset - _bufferStart);
        }

        if (count > _capacity)
        {
            Grow(count);
        }

        int wanted = (int)Math.Min(_capacity, Length - offset);
        int read = _file!.Read(new Span<byte>(_buffer, wanted), offset);
        _bufferStart = offset;
        _bufferCount = read;
        return read >= count ? _buffer : null;
    }

    /// <summary>True when every byte of [from, to) is zero.</summary>
    public bool IsZero(long from, long to)
    {
        for (long position = from; position < to;)
        {
            int chunk = (int)Math.Min(_capacity, to - position);
            byte* bytes = Fetch(position, chunk);
            if (bytes is null || new ReadOnlySpan<byte>(bytes, chunk).ContainsAnyExcept((byte)0))
            {
                return false;
            }

            position += chunk;
        }

        return true;
    }

    /// <summary>The header of the segment file at <paramref name="path"/>, or null when it is empty or damaged.</summary>
    public static SegmentHeader? ReadValidHeader(WalStorage storage, string path)
    {
        using WalFile file = storage.OpenRead(path);
        using var scanner = new SegmentScanner(4096);
        scanner.Attach(file);
        return scanner.ReadSegmentHeader(out SegmentHeader header, out _) == HeaderVerdict.Valid ? header : null;
    }

    public HeaderVerdict ReadSegmentHeader(out SegmentHeader header, out string? reason)
    {
        header = default;
        byte* bytes = Fetch(0, SegmentHeader.Size);
        if (bytes is null)
        {
            reason = $"the file is {Length} bytes, shorter than a segment header ({SegmentHeader.Size} bytes)";
            return Length == 0 || IsZero(0, Length) ? HeaderVerdict.Empty : HeaderVerdict.Damaged;
        }

        var span = new ReadOnlySpan<byte>(bytes, SegmentHeader.Size);
        if (!span.ContainsAnyExcept((byte)0))
        {
            reason = null;
            return HeaderVerdict.Empty;
        }

        reason = SegmentHeader.TryRead(span, out header);
        return reason is null ? HeaderVerdict.Valid : HeaderVerdict.Damaged;
    }

    /// <summary>Reads the batch header at <paramref name="offset"/>, expecting its first LSN to be <paramref name="expectedLsn"/>.</summary>
    public BatchVerdict ReadBatch(long offset, ulong expectedLsn, out BatchHeader header, out string? reason)
    {
        header = default;
        byte* bytes = Fetch(offset, BatchHeader.Size);
        if (bytes is null)
        {
            reason = "a batch header would run past the end of the file";
            return IsZero(offset, Length) ? BatchVerdict.End : BatchVerdict.Damaged;
        }

        var span = new ReadOnlySpan<byte>(bytes, BatchHeader.Size);
        if (!span.ContainsAnyExcept((byte)0))
        {
            reason = null;
            return BatchVerdict.End;
        }

        if (!BatchHeader.TryRead(span, out header))
        {
            reason = "the batch header's CRC-32C does not match (or it is not a batch header)";
            return BatchVerdict.Damaged;
        }

        if (header.FirstLsn < expectedLsn)
        {
            reason = $"a batch from an earlier use of this file (first LSN {header.FirstLsn}, the log continues at {expectedLsn})";
            return BatchVerdict.Stale;
        }

        if (header.FirstLsn != expectedLsn)
        {
            reason = $"the batch starts at LSN {header.FirstLsn} but the log continues at LSN {expectedLsn}";
            return BatchVerdict.Damaged;
        }

        if (offset + BatchHeader.Size + header.FrameBytes > Length || header.RecordCount == 0)
        {
            reason = $"the batch claims {header.FrameBytes} bytes in {header.RecordCount} frames, past the end of the {Length}-byte file";
            return BatchVerdict.Damaged;
        }

        reason = null;
        return BatchVerdict.Valid;
    }

    /// <summary>Reads and checks the frame at <paramref name="offset"/>, which must end by <paramref name="batchEnd"/>.</summary>
    public bool TryReadFrame(long offset, long batchEnd, ulong expectedLsn, out byte* frame, out string? reason)
    {
        frame = Fetch(offset, FrameHeader.Size);
        if (frame is null || offset + FrameHeader.Size > batchEnd)
        {
            reason = "a frame header runs past the end of its batch";
            return false;
        }

        uint payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(frame, 4));
        long size = FrameHeader.Size + ((payloadLength + 7L) & ~7L);
        if (offset + size > batchEnd)
        {
            reason = $"a frame of {payloadLength} payload bytes runs past the end of its batch";
            return false;
        }

        frame = Fetch(offset, (int)size);
        if (frame is null)
        {
            reason = "the frame runs past the end of the file";
            return false;
        }

        if (((FrameHeader*)frame)->Crc != FrameHeader.ComputeCrc(frame, (int)size))
        {
            reason = "the frame's CRC-32C does not match";
            return false;
        }

        ulong lsn = ((FrameHeader*)frame)->Lsn;
        if (lsn != expectedLsn)
        {
            reason = $"the frame has LSN {lsn} where LSN {expectedLsn} must follow";
            return false;
        }

        reason = null;
        return true;
    }

    /// <summary>
    /// Looks for data of the current use of the log at or after <paramref name="from"/>: a valid batch header or frame
    /// whose LSN is at least <paramref name="minLsn"/>. Returns the highest such LSN found, or 0.
    /// </summary>
    public ulong FindCurrentDataAfter(long from, ulong minLsn)
    {
        ulong highest = 0;
        for (long position = (from + 7) & ~7L; position + FrameHeader.Size <= Length; position += 8)
        {
            byte* bytes = Fetch(position, FrameHeader.Size);
            if (bytes is null)
            {
                break;
            }

            uint first = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(bytes, 4));
            ulong lsn = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(bytes + 8, 8));
            if (first == 0 && lsn == 0)
            {
                continue;
            }

            if ((first & BatchHeader.TagBit) != 0)
            {
                byte* batch = Fetch(position, BatchHeader.Size);
                if (batch is not null && BatchHeader.TryRead(new ReadOnlySpan<byte>(batch, BatchHeader.Size), out BatchHeader header) && header.FirstLsn >= minLsn)
                {
                    highest = Math.Max(highest, header.FirstLsn + header.RecordCount - 1);
                }
            }
            else if (lsn >= minLsn && lsn - minLsn < (1UL << 40) && position + FrameHeader.FrameSize((int)Math.Min(first, int.MaxValue - 16)) <= Length)
            {
                int size = FrameHeader.FrameSize((int)first);
                byte* frame = Fetch(position, size);
                if (frame is not null && ((FrameHeader*)frame)->Crc == FrameHeader.ComputeCrc(frame, size))
                {
                    highest = Math.Max(highest, lsn);
                }
            }
        }

        return highest;
    }

    public void Dispose() => _slab.Dispose();

    private void Grow(int count)
    {
        int capacity = (int)Math.Min(int.MaxValue, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count));
        var slab = new NativeSlab((nuint)capacity);
        _slab.Dispose();
        _slab = slab;
        _buffer = slab.Pointer;
        _capacity = capacity;
        _bufferCount = 0;
    }
}
