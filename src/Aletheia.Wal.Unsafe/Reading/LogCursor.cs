using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Reading;

/// <summary>
/// Walks a log directory frame by frame in LSN order, checking every byte it passes: segment headers, batch headers,
/// frames (CRC-32C, LSN continuity), segment numbering and log identity. At the end of the log it returns false; at
/// damage it returns false and sets <see cref="Damage"/>, having looked ahead for valid data after the damage.
/// Recovery and <c>WalReader</c> both read through it and apply their recovery mode to what it reports.
/// </summary>
internal sealed unsafe class LogCursor : IDisposable
{
    private readonly WalStorage _storage;
    private readonly string _directory;
    private readonly SegmentScanner _scanner = new();
    private readonly List<ulong> _segments;
    private int _index = -1;
    private int _rereadIndex = -1;
    private WalFile? _file;
    private SegmentHeader _segmentHeader;
    private long _offset;
    private long _batchStart;
    private long _batchEnd;
    private uint _framesLeft;
    private bool _inBatch;
    private BatchHeader _batch;

    public LogCursor(WalStorage storage, string directory)
    {
        _storage = storage;
        _directory = directory;
        _segments = SegmentNames.List(storage, directory);
    }

    /// <summary>The segment numbers found, ascending.</summary>
    public IReadOnlyList<ulong> Segments => _segments;

    /// <summary>The LSN the next frame must carry (0 until the first segment header is read).</summary>
    public ulong NextLsn { get; private set; }

    /// <summary>The first LSN of the first segment read.</summary>
    public ulong FirstLsn { get; private set; }

    public ulong LogId { get; private set; }

    /// <summary>The damage the cursor stopped at, if it stopped at damage.</summary>
    public LogDamage? Damage { get; private set; }

    /// <summary>Index (in <see cref="Segments"/>) of the last segment with a valid header, -1 if none.</summary>
    public int LastUsedIndex { get; private set; } = -1;

    /// <summary>Where the data of the last used segment ends (valid once the cursor returned false without damage).</summary>
    public long EndOffset { get; private set; }

    /// <summary>
    /// Where the last whole batch read in the last used segment starts, -1 if none was (the segment holds only its header).
    /// </summary>
    public long LastBatchStart { get; private set; } = -1;

    /// <summary>The header of the last used segment (default until one is read).</summary>
    public SegmentHeader LastHeader => _segmentHeader;

    /// <summary>Where the damaged write can end at most (-1: unknown, the segment header was damaged).</summary>
    public long DamagedWriteEnd { get; private set; }

    /// <summary>The current frame's LSN and payload, valid until the next <see cref="MoveNext"/>.</summary>
    public ulong CurrentLsn { get; private set; }

    public byte* CurrentFrame { get; private set; }

    /// <summary>Whole batches whose frames all lie below this LSN are skipped unread (a reader seeking its start).</summary>
    public ulong SkipBelowLsn { get; set; }

    /// <summary>
    /// Starts at segment <paramref name="index"/> instead of the first one (a reader skipping segments below the LSN it wants).
    /// </summary>
    public void StartAt(int index) => _index = index - 1;

    /// <summary>Moves to the next frame; false at the end of the log or at damage (see <see cref="Damage"/>).</summary>
    public bool MoveNext()
    {
        if (Damage is not null)
        {
            return false;
        }

        while (true)
        {
            if (_file is null && !OpenNextSegment())
            {
                return false;
            }

            if (_framesLeft > 0)
            {
                if (!_scanner.TryReadFrame(_offset, _batchEnd, NextLsn, out byte* frame, out string? reason))
                {
                    StopAtDamage(_offset, reason!, batchHeaderValid: true);
                    return false;
                }

                CurrentFrame = frame;
                CurrentLsn = NextLsn;
                _offset += FrameHeader.FrameSize((int)((FrameHeader*)frame)->PayloadLength);
                _framesLeft--;
                NextLsn++;
                return true;
            }

            if (_inBatch)
            {
                _inBatch = false;
                if (_offset != _batchEnd)
                {
                    StopAtDamage(_offset, $"the batch at offset {_batchStart} claims {_batch.FrameBytes} bytes of frames but its {_batch.RecordCount} frames end at offset {_offset}", batchHeaderValid: true);
                    return false;
                }

                LastBatchStart = _batchStart;
            }

            BatchVerdict verdict = _scanner.ReadBatch(_offset, NextLsn, out _batch, out string? batchReason);
            switch (verdict)
            {
                case BatchVerdict.Valid when NextLsn + _batch.RecordCount <= SkipBelowLsn:
                    LastBatchStart = _offset;
                    NextLsn += _batch.RecordCount;
                    _offset += BatchHeader.Size + _batch.FrameBytes;
                    break;
                case BatchVerdict.Valid:
                    _batchStart = _offset;
                    _batchEnd = _offset + BatchHeader.Size + _batch.FrameBytes;
                    _framesLeft = _batch.RecordCount;
                    _inBatch = true;
                    _offset += BatchHeader.Size;
                    break;
                case BatchVerdict.End or BatchVerdict.Stale:
                    EndOffset = _offset;
                    CloseSegment();
                    break;
                default:
                    _batchStart = _offset;
                    StopAtDamage(_offset, batchReason!, batchHeaderValid: false);
                    return false;
            }
        }
    }

    public void Dispose()
    {
        CloseSegment();
        _scanner.Dispose();
    }

    /// <summary>Reads the header of segment <paramref name="index"/> (null when empty or damaged).</summary>
    public SegmentHeader? PeekHeader(int index) => SegmentScanner.ReadValidHeader(_storage, SegmentNames.PathOf(_directory, _segments[index]));

    private bool OpenNextSegment()
    {
        if (_index + 1 >= _segments.Count)
        {
            return false;
        }

        _index++;
        ulong number = _segments[_index];
        _file = _storage.OpenRead(SegmentNames.PathOf(_directory, number));
        _scanner.Attach(_file);
        HeaderVerdict verdict = _scanner.ReadSegmentHeader(out SegmentHeader header, out string? reason);
        if (verdict == HeaderVerdict.Empty)
        {
            // Prepared and never used: the end of the log, unless a used segment follows (then this is damage).
            for (int later = _index + 1; later < _segments.Count; later++)
            {
                if (PeekHeader(later) is not null)
                {
                    // Damage of this segment's header: offsets from here on are this segment's, not the previous one's.
                    _offset = 0;
                    _batchStart = 0;
                    StopAtDamage(0, $"segment {number} is empty (zero header) but segment {_segments[later]} after it holds records", batchHeaderValid: false);
                    return false;
                }
            }

            CloseSegment();
            _index = _segments.Count;
            return false;
        }

        _offset = 0;
        _batchStart = 0;
        if (verdict == HeaderVerdict.Damaged)
        {
            StopAtDamage(0, reason!, batchHeaderValid: false);
            return false;
        }

        string? mismatch =
            header.SegmentNumber != number ? $"the header names segment {header.SegmentNumber} but the file is segment {number}"
            : LogId != 0 && header.LogId != LogId ? $"the segment belongs to another log (log id {header.LogId:X16}, this log is {LogId:X16})"
            : LastUsedIndex >= 0 && number != _segments[LastUsedIndex] + 1 ? $"segment {_segments[LastUsedIndex] + 1} is missing before segment {number}"
            : NextLsn != 0 && header.FirstLsn != NextLsn ? $"the segment starts at LSN {header.FirstLsn} but the log continues at LSN {NextLsn}: a segment is missing or out of place"
            : null;
        if (mismatch is not null && NextLsn != 0 && header.FirstLsn > NextLsn && header.SegmentNumber == number && header.LogId == LogId
            && LastUsedIndex == _index - 1 && number == _segments[LastUsedIndex] + 1 && _rereadIndex != LastUsedIndex)
        {
            // A live log: the previous segment was read (through the buffer) before its last batches were written, and
            // the writer has moved on since. It writes a segment's first batch only after its last write into the
            // previous one returned, so those batches are all there now: read the previous segment again from where it
            // seemed to end, once. In a log nobody writes, the same end and the same gap come back: damage.
            _rereadIndex = LastUsedIndex;
            CloseSegment();
            _index = LastUsedIndex;
            _file = _storage.OpenRead(SegmentNames.PathOf(_directory, _segments[_index]));
            _scanner.Attach(_file);
            _offset = EndOffset;
            _batchStart = EndOffset;
            return true;
        }

        if (mismatch is not null)
        {
            // A valid header that does not belong here is never an interrupted write.
            StopAtDamage(header.SegmentNumber != number ? 16 : header.LogId != LogId && LogId != 0 ? 32 : 24, mismatch, batchHeaderValid: false, notTorn: true);
            return false;
        }

        _segmentHeader = header;
        LogId = header.LogId;
        if (NextLsn == 0)
        {
            NextLsn = header.FirstLsn;
            FirstLsn = header.FirstLsn;
        }

        LastUsedIndex = _index;
        LastBatchStart = -1;
        _offset = SegmentHeader.Size;
        _framesLeft = 0;
        _inBatch = false;
        return true;
    }

    private void StopAtDamage(long offset, string reason, bool batchHeaderValid, bool notTorn = false)
    {
        string path = _file?.Path ?? SegmentNames.PathOf(_directory, _segments[_index]);
        bool headerDamaged = offset < SegmentHeader.Size && _batchStart == 0;
        int keptFrames = batchHeaderValid ? (int)(NextLsn - _batch.FirstLsn) : 0;
        long cut = headerDamaged ? 0 : keptFrames > 0 ? offset : _batchStart;
        int keptBytes = keptFrames > 0 ? (int)(offset - _batchStart - BatchHeader.Size) : 0;

        // Valid data after the damage means it is not a torn tail. The damaged write itself may hold valid frames
        // (sectors persisted out of order), so the search starts after its end: the batch's end when its header is
        // intact, else the largest write the writer makes.
        ulong highest = notTorn ? Math.Max(NextLsn, 1) : 0;
        long searchFrom = batchHeaderValid ? _batchEnd : _batchStart + Math.Max(_segmentHeader.MaxWriteBytes, (uint)BatchHeader.Size);
        if (headerDamaged && !notTorn && _file is not null)
        {
            // The first write into a segment carries its header and first batch: valid data after that batch means the
            // header was damaged after it was written, not torn while being written.
            byte* first = _scanner.Fetch(SegmentHeader.Size, BatchHeader.Size);
            searchFrom = first is not null && BatchHeader.TryRead(new ReadOnlySpan<byte>(first, BatchHeader.Size), out BatchHeader firstBatch)
                ? SegmentHeader.Size + BatchHeader.Size + firstBatch.FrameBytes
                : SegmentHeader.FirstWriteMaxBytes + BatchHeader.Size;
        }

        if (highest == 0 && _file is not null)
        {
            highest = _scanner.FindCurrentDataAfter(searchFrom, Math.Max(NextLsn, 1));
        }

        for (int later = _index + 1; later < _segments.Count && highest == 0; later++)
        {
            if (PeekHeader(later) is { } laterHeader && (LogId == 0 || laterHeader.LogId == LogId))
            {
                highest = Math.Max(laterHeader.FirstLsn, 1);
            }
        }

        DamagedWriteEnd = headerDamaged ? -1 : searchFrom;
        Damage = new LogDamage(path, _index, offset, cut, (_batchStart, keptFrames, keptBytes), reason, NextLsn, highest);
        CloseSegment();
    }

    private void CloseSegment()
    {
        _file?.Dispose();
        _file = null;
    }
}
