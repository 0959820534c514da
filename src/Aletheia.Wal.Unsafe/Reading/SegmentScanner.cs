using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Reading;

/// <summary>
/// Reads one segment file at a time through one buffer and checks what it finds: the segment header, batch headers and
/// end markers, frames. Streams: memory is one buffer (1 MiB, grown only for a frame larger than that), never the file.
/// A pointer it returns is valid until the next call.
/// </summary>
/// <remarks>
/// The buffer is a pinned managed array (pinned object heap), not a native slab: a record's payload handed to a caller
/// is a span over that array, which the GC tracks, so the memory under a live payload span stays valid even if the
/// reader holding the scanner is collected undisposed (a finalizer freeing native memory would leave the span dangling).
/// A disposed scanner gives its buffer back to a small pool, so that opening readers again and again allocates nothing.
/// </remarks>
internal sealed unsafe class SegmentScanner : IDisposable
{
    private const int PooledBytes = 1 << 20;

    private static readonly Microsoft.Extensions.ObjectPool.ObjectPool<byte[]> s_buffers =
        new Microsoft.Extensions.ObjectPool.DefaultObjectPool<byte[]>(new PinnedBufferPolicy(), maximumRetained: 8);

    /// <summary>Structures are 8-byte aligned in a segment: headers, batches and frames are all multiples of 8 bytes.</summary>
    private const int Alignment = 8;

    private byte[] _array;
    private byte* _buffer;
    private WalFile? _file;
    private long _bufferStart;
    private int _bufferCount;

    public SegmentScanner(int bufferBytes = PooledBytes)
    {
        _array = bufferBytes == PooledBytes ? s_buffers.Get() : GC.AllocateUninitializedArray<byte>(bufferBytes, pinned: true);
        _buffer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array)); // pinned: the address never moves
    }

    /// <summary>Gives the buffer back to the pool: no pointer or span into it may be used after this.</summary>
    public void Dispose()
    {
        if (_array.Length == PooledBytes)
        {
            s_buffers.Return(_array);
        }

        _array = [];
        _buffer = null;
        _file = null;
    }

    /// <summary>Reads from a file so far (a reader of files looks at <c>wal.head</c> again after bytes it has not seen).</summary>
    public long FileReads { get; private set; }

    /// <summary>The attached file's length.</summary>
    public long Length { get; private set; }

    /// <summary>24-byte candidates whose CRC was computed by <see cref="ScanStructures{TVisitor}"/> (tests: the work is bounded).</summary>
    public long CandidatesChecked { get; private set; }

    /// <summary>The buffer's size (tests: it grows only for a frame larger than it).</summary>
    public int Capacity => _array.Length;

    public void Attach(WalFile file)
    {
        _file = file;
        Length = file.Length;
        Invalidate();
    }

    /// <summary>Lets go of the attached file (its owner closes it): nothing is read until the next <see cref="Attach"/>.</summary>
    public void Detach()
    {
        _file = null;
        _bufferStart = 0;
        _bufferCount = 0;
        Length = 0;
    }

    /// <summary>Forgets the buffered bytes: the next fetch reads the file again (a writer may have written since).</summary>
    public void Invalidate()
    {
        _bufferStart = 0;
        _bufferCount = 0;
        if (_file is not null)
        {
            Length = _file.Length;
        }
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

        if (count > _array.Length)
        {
            Grow(count);
        }

        int wanted = (int)Math.Min(_array.Length, Length - offset);
        int read = _file!.Read(new Span<byte>(_buffer, wanted), offset);
        FileReads++;
        _bufferStart = offset;
        _bufferCount = read;
        return read >= count ? _buffer : null;
    }

    /// <summary>A GC-tracked span over <paramref name="length"/> bytes at <paramref name="pointer"/>, which must lie in the buffer.</summary>
    public ReadOnlySpan<byte> SpanOf(byte* pointer, int length) => new(_array, (int)(pointer - _buffer), length);

    public HeaderVerdict ReadSegmentHeader(out SegmentHeader header, out string? reason)
    {
        header = default;
        byte* bytes = Fetch(0, SegmentHeader.Size);
        if (bytes is null)
        {
            reason = $"the file is {Length} bytes, shorter than a segment header ({SegmentHeader.Size} bytes): it was cut short";
            return HeaderVerdict.Short;
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

    /// <summary>
    /// Reads the 24-byte slot at <paramref name="offset"/>, where a batch header or the end marker must stand, expecting the
    /// log to continue with <paramref name="expectedLsn"/> in a segment with <paramref name="salt"/>, whose writes are at
    /// most <paramref name="maxWriteBytes"/> and which ends at <paramref name="segmentSize"/>.
    /// </summary>
    public SlotVerdict ReadSlot(long offset, uint salt, ulong expectedLsn, uint maxWriteBytes, long segmentSize, out BatchHeader header, out string? reason)
    {
        header = default;
        byte* bytes = Fetch(offset, BatchHeader.Size);
        if (bytes is null)
        {
            reason = $"the file ends at byte {Length}, before the {BatchHeader.Size}-byte slot at {offset}: it was cut short (its header says {segmentSize} bytes)";
            return SlotVerdict.PastEnd;
        }

        var span = new ReadOnlySpan<byte>(bytes, BatchHeader.Size);
        if (!span.ContainsAnyExcept((byte)0))
        {
            reason = "zeros where a batch header or the end marker must be";
            return SlotVerdict.Damaged;
        }

        if (!BatchHeader.TryRead(span, salt, out header))
        {
            reason = "the batch header's CRC-32C does not match (or it is not a batch header or end marker of this segment)";
            return SlotVerdict.Damaged;
        }

        if (header.FirstLsn != expectedLsn)
        {
            reason = header.IsEndMarker
                ? $"an end marker says the log continues at LSN {header.FirstLsn}, but it continues at LSN {expectedLsn}"
                : $"the batch starts at LSN {header.FirstLsn} but the log continues at LSN {expectedLsn}";
            return SlotVerdict.Damaged;
        }

        if (header.IsEndMarker)
        {
            reason = null;
            return SlotVerdict.EndMarker;
        }

        long writeBytes = BatchHeader.Size + (long)header.FrameBytes + BatchHeader.Size;
        if (writeBytes > maxWriteBytes || offset + writeBytes > segmentSize)
        {
            reason = $"the batch claims {header.FrameBytes} bytes in {header.RecordCount} frames: more than one write into this segment holds ({maxWriteBytes} bytes) or past its end";
            return SlotVerdict.Damaged;
        }

        reason = null;
        return SlotVerdict.Batch;
    }

    /// <summary>Reads and checks the frame at <paramref name="offset"/>, which must end by <paramref name="batchEnd"/>.</summary>
    public bool TryReadFrame(long offset, long batchEnd, ulong expectedLsn, uint salt, out byte* frame, out string? reason)
    {
        frame = Fetch(offset, FrameHeader.Size);
        if (offset + FrameHeader.Size > batchEnd)
        {
            reason = "a frame header runs past the end of its batch";
            return false;
        }

        if (frame is null)
        {
            reason = $"the file ends at byte {Length}, inside the frame at {offset}: it was cut short";
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
            reason = $"the file ends at byte {Length}, inside the frame at {offset}: it was cut short";
            return false;
        }

        if (!FrameHeader.IsIntactOnDisk(frame, (int)size, salt))
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
    /// Visits every valid batch header and end marker of the segment with <paramref name="salt"/> at an 8-aligned offset in
    /// [<paramref name="from"/>, <paramref name="to"/>) whose highest LSN is at least <paramref name="minLsn"/>, in order,
    /// until the visitor returns false. The work is bounded by the bytes: one read of the range, a few compares per
    /// 8-byte position, and a CRC of 20 bytes only for positions that pass them; no frame is checksummed, so payloads
    /// full of LSN-like words cost no more than any other bytes, and the buffer never grows.
    /// </summary>
    public void ScanStructures<TVisitor>(long from, long to, uint salt, ulong minLsn, ref TVisitor visitor)
        where TVisitor : struct, IStructureVisitor
    {
        to = Math.Min(to, Length);
        long position = (from + Alignment - 1) & ~(long)(Alignment - 1);
        while (position + BatchHeader.Size <= to)
        {
            int chunk = (int)Math.Min(_array.Length, to - position);
            byte* bytes = Fetch(position, chunk);
            if (bytes is null)
            {
                return;
            }

            int last = chunk - BatchHeader.Size;
            for (int at = 0; at <= last; at += Alignment)
            {
                var candidate = new ReadOnlySpan<byte>(bytes + at, BatchHeader.Size);
                ulong firstLsn = BinaryPrimitives.ReadUInt64LittleEndian(candidate[8..]);
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(candidate[16..]);
                if (!BatchHeader.LooksLikeOne(candidate) || firstLsn + count <= minLsn || firstLsn + count < firstLsn)
                {
                    continue;
                }

                CandidatesChecked++;
                if (BatchHeader.TryRead(candidate, salt, out BatchHeader header) && !visitor.Visit(position + at, header))
                {
                    return;
                }
            }

            // The next chunk starts at the first position not yet examined (8-aligned, since the chunk start is).
            position += last + Alignment;
        }
    }

    private sealed class PinnedBufferPolicy : Microsoft.Extensions.ObjectPool.IPooledObjectPolicy<byte[]>
    {
        public byte[] Create() => GC.AllocateUninitializedArray<byte>(PooledBytes, pinned: true);

        public bool Return(byte[] obj) => true;
    }

    private void Grow(int count)
    {
        int capacity = (int)Math.Min(Array.MaxLength, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)count));
        _array = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
        _buffer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        _bufferStart = 0;
        _bufferCount = 0;
    }
}

/// <summary>Visits the structures <see cref="SegmentScanner.ScanStructures{TVisitor}"/> finds.</summary>
internal interface IStructureVisitor
{
    /// <summary>A valid batch header or end marker at <paramref name="offset"/>; return false to stop.</summary>
    bool Visit(long offset, in BatchHeader header);
}
