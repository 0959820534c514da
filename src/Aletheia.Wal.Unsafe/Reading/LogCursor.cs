using Aletheia.Wal.Recovery;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal.Reading;

/// <summary>
/// Walks a log directory frame by frame in LSN order from its head, checking every byte it passes: segment headers,
/// batch headers and frames (salted CRC-32C, LSN continuity), segment numbering and log identity. A segment's data ends
/// only where a valid end marker (or the next segment's header, starting at exactly the right LSN) proves it, and the
/// log ends only at an open end marker. At the end of the log it returns false; at damage it returns false and sets
/// <see cref="Damage"/>, having looked at everything after the damaged write for evidence of a later one
/// (<see cref="DamageKind"/>). Recovery and <c>WalReader</c> both
/// read through it and apply their recovery mode to what it reports.
/// </summary>
internal sealed unsafe class LogCursor : IDisposable
{
    private readonly WalStorage _storage;
    private readonly string _directory;
    private readonly LogHead _head;
    private readonly bool _tolerateRepairableMarkers;
    private readonly WalRecoveryMode? _retryBeforeRefusing;
    private readonly HashSet<(ulong Segment, long WriteStart)> _retried = [];
    private readonly SegmentScanner _scanner = new();
    private readonly List<ulong> _segments;
    private readonly HashSet<ulong> _present;
    private ulong _number;
    private WalFile? _file;
    private SegmentHeader _header;
    private uint _salt;
    private long _offset;
    private long _batchStart;
    private long _batchEnd;
    private ulong _writeFirstLsn;
    private uint _framesLeft;
    private bool _done;
    private ulong _yieldedUpTo;
    private bool _continues; // the previous segment was closed: this one must continue the log
    private ulong _batchLastLsn;
    private ulong _batchFirstLsn;

    /// <param name="storage">The file system.</param>
    /// <param name="directory">The log directory.</param>
    /// <param name="head">What wal.head says: the log's id, its oldest segment and first LSN.</param>
    /// <param name="tolerateRepairableMarkers">Read past a damaged end marker that the next segment's header makes good
    /// (<see cref="MarkerRepair"/>); false (Strict) reports it as damage.</param>
    /// <param name="retryBeforeRefusing">A reader's mode: before reporting damage that this mode refuses, read the damaged
    /// write once more, fresh, from its start (null: never, for recovery, which has the directory to itself). A reader of a
    /// log that a writer has open may have read a write in flight; by the time it looked for later writes, more were made.</param>
    public LogCursor(WalStorage storage, string directory, LogHead head, bool tolerateRepairableMarkers, WalRecoveryMode? retryBeforeRefusing)
    {
        _storage = storage;
        _directory = directory;
        _head = head;
        _tolerateRepairableMarkers = tolerateRepairableMarkers;
        _retryBeforeRefusing = retryBeforeRefusing;
        _segments = SegmentNames.List(storage, directory).Where(n => n >= head.Segment).ToList();
        _present = [.. _segments];
        _number = head.Segment;
        NextLsn = head.FirstLsn;
    }

    /// <summary>The segment numbers found at or above the head, ascending.</summary>
    public IReadOnlyList<ulong> Segments => _segments;

    /// <summary>The LSN the next frame must carry: after the end of the log, the LSN the log continues with.</summary>
    public ulong NextLsn { get; private set; }

    /// <summary>The current frame's LSN and bytes, valid until the next <see cref="MoveNext"/>.</summary>
    public ulong CurrentLsn { get; private set; }

    public byte* CurrentFrame { get; private set; }

    /// <summary>The current frame's payload, as a span the GC tracks (see <see cref="SegmentScanner"/>).</summary>
    public ReadOnlySpan<byte> CurrentPayload => _scanner.SpanOf(CurrentFrame + FrameHeader.Size, (int)((FrameHeader*)CurrentFrame)->PayloadLength);

    /// <summary>The damage the cursor stopped at, if it stopped at damage.</summary>
    public LogDamage? Damage { get; private set; }

    /// <summary>Damaged end markers read past because the next segment made them good (only when tolerated).</summary>
    public List<MarkerRepair> Repairs { get; } = [];

    /// <summary>The last segment whose data ended before the cursor stopped (0: none, the log is empty up to there).</summary>
    public ulong EndSegment { get; private set; }

    /// <summary>Where <see cref="EndSegment"/>'s data ends: its end marker's offset.</summary>
    public long EndOffset { get; private set; }

    /// <summary>The header of <see cref="EndSegment"/>.</summary>
    public SegmentHeader EndHeader { get; private set; }

    /// <summary>
    /// Where the last whole batch read in the segment being read (or in <see cref="EndSegment"/>, once it ended) starts;
    /// -1 if none was (the segment holds only its opening write).
    /// </summary>
    public long LastBatchStart { get; private set; } = -1;

    /// <summary>The header of the segment being read when the cursor stopped at damage inside it (after its header).</summary>
    public SegmentHeader CurrentHeader => _header;

    /// <summary>Whole batches whose frames all lie below this LSN are skipped unread (a reader seeking its start).</summary>
    public ulong SkipBelowLsn { get; set; }

    /// <summary>
    /// The cursor stops, without judging what follows, once every LSN up to this one was read: it ends there, or, when
    /// <see cref="Resumable"/>, pauses there (<see cref="CursorPause.Bound"/>) until <see cref="Resume"/> raises it.
    /// </summary>
    public ulong StopAfterLsn { get; set; } = ulong.MaxValue;

    /// <summary>
    /// A cursor of a reader that follows a log being written: where the log ends for now (an open end marker, the bound,
    /// or a write it cannot verify) it pauses (<see cref="Paused"/>) instead of ending, keeps its position, and goes on
    /// from there after <see cref="Resume"/>. A write it cannot verify is not judged (no search for later writes) unless
    /// <see cref="ClassifyPauses"/> is set: it may be a write in flight.
    /// </summary>
    public bool Resumable { get; init; }

    /// <summary>With <see cref="Resumable"/>: judge a write that cannot be verified as recovery would; damage the reader's mode refuses is reported (<see cref="Damage"/>), a torn tail pauses.</summary>
    public bool ClassifyPauses { get; set; }

    /// <summary>
    /// Called each time a segment's data ends (its end marker, or a damaged one the next segment makes good), in log order:
    /// for a caller that reports on every segment it read (<c>WalInspection</c>, through recovery's trace). Null: nothing.
    /// </summary>
    public Action<SegmentEnd>? SegmentEnded { get; init; }

    /// <summary>Why a <see cref="Resumable"/> cursor paused (<see cref="CursorPause.None"/> while it reads or once it ended).</summary>
    public CursorPause Paused { get; private set; }

    /// <summary>Where and why the cursor paused at a write it could not verify (<see cref="CursorPause.Unverified"/>).</summary>
    public (string Path, long Offset, string Reason) PausedAt { get; private set; }

    /// <summary>Reads from the files so far: bytes the caller has not seen since it last looked (see <see cref="SegmentScanner.FileReads"/>).</summary>
    public long FileReads => _scanner.FileReads;

    /// <summary>Where the batch of <see cref="CurrentLsn"/> starts in its segment, and its segment.</summary>
    public (ulong Segment, long Offset, ulong FirstLsn) CurrentBatch => (_number, _batchStart, _batchFirstLsn);

    /// <summary>Candidates the evidence searches checked, over the whole walk (tests: their work is bounded by the bytes).</summary>
    public long EvidenceCandidatesChecked { get; private set; }

    /// <summary>The largest buffer the cursor needed (tests: hostile payloads do not grow it).</summary>
    public int BufferCapacity => _scanner.Capacity;

    /// <summary>Starts at segment <paramref name="number"/>, whose first LSN is <paramref name="firstLsn"/> (a reader skipping older segments).</summary>
    public void StartAt(ulong number, ulong firstLsn)
    {
        _number = number;
        NextLsn = firstLsn;
    }

    /// <summary>
    /// Goes on after a pause of a <see cref="Resumable"/> cursor, from where it paused, reading the file afresh (the writer
    /// may have written there since): with <paramref name="stopAfterLsn"/> as the new <see cref="StopAfterLsn"/>.
    /// </summary>
    public void Resume(ulong stopAfterLsn)
    {
        StopAfterLsn = stopAfterLsn;
        if (Paused != CursorPause.None)
        {
            Paused = CursorPause.None;
            _scanner.Invalidate();
        }
    }

    /// <summary>Moves to the next frame; false at the end of the log, at damage (see <see cref="Damage"/>), or at a pause (<see cref="Paused"/>).</summary>
    public bool MoveNext()
    {
        while (!_done && Paused == CursorPause.None)
        {
            if (_file is null)
            {
                OpenSegment();
                continue;
            }

            if (_framesLeft > 0 && NextLsn > StopAfterLsn && Resumable)
            {
                // A bound inside a batch (a pending TruncateAfter's): pause before it; on resume the batch is read and
                // checked again from its start (the bytes may have changed), and what was handed out is skipped.
                Paused = CursorPause.Bound;
                _framesLeft = 0;
                _offset = _batchStart;
                NextLsn = _batchFirstLsn;
                break;
            }

            if (_framesLeft > 0 && NextLsn > StopAfterLsn)
            {
                _framesLeft = 0;
                _done = true;
                CloseSegment();
                break;
            }

            if (_framesLeft > 0)
            {
                // The batch was checked whole when it was reached (VerifyBatch) and is in the buffer: hand out its frames.
                byte* frame = _scanner.Fetch(_offset, FrameHeader.Size);
                _offset += FrameHeader.FrameSize((int)((FrameHeader*)frame)->PayloadLength);
                _framesLeft--;
                ulong lsn = NextLsn++;
                if (_framesLeft == 0)
                {
                    LastBatchStart = _batchStart;
                }

                if (lsn <= _yieldedUpTo)
                {
                    continue; // handed out before a fresh re-read of this write
                }

                CurrentFrame = frame;
                CurrentLsn = lsn;
                _yieldedUpTo = lsn;
                return true;
            }

            if (NextLsn > StopAfterLsn)
            {
                if (Resumable)
                {
                    Paused = CursorPause.Bound; // before the slot is read: bytes past the bound may be a write in flight
                    break;
                }

                _done = true;
                CloseSegment();
                break;
            }

            if (_head.RewindPending && _number == _head.RewindSegment && _offset == _head.RewindOffset && NextLsn == _head.RewindBatchLsn && NextLsn <= _head.RewindLsn)
            {
                ReadPendingCutBatch();
                continue;
            }

            _writeFirstLsn = NextLsn;
            SlotVerdict verdict = _scanner.ReadSlot(_offset, _salt, NextLsn, _header.MaxWriteBytes, (long)_header.SegmentSize, out BatchHeader batch, out string? slotReason);
            switch (verdict)
            {
                case SlotVerdict.Batch when NextLsn + batch.RecordCount <= SkipBelowLsn:
                    LastBatchStart = _offset;
                    NextLsn += batch.RecordCount;
                    _offset += BatchHeader.Size + batch.FrameBytes;
                    break;
                case SlotVerdict.Batch:
                    _batchStart = _offset;
                    _batchEnd = _offset + BatchHeader.Size + batch.FrameBytes;
                    _batchLastLsn = batch.LastLsn;
                    _batchFirstLsn = NextLsn;
                    if (VerifyBatch(batch.RecordCount))
                    {
                        _framesLeft = batch.RecordCount;
                        _offset += BatchHeader.Size;
                    }

                    break;
                case SlotVerdict.EndMarker when Resumable && !batch.IsClosed:
                    Paused = CursorPause.End; // the end for now: the next write starts on this marker
                    PausedAt = (SegmentNames.PathOf(_directory, _number), _offset, "an open end marker: the log ends here");
                    break;
                case SlotVerdict.EndMarker:
                    EndSegmentData(batch.IsClosed);
                    break;
                case SlotVerdict.PastEnd:
                    Stop(_offset, _offset, slotReason!, WriteShape.UnknownExtent, cutShort: true);
                    break;
                default:
                    if (_offset == SegmentHeader.Size && IsUnopenedHead(_number) && UnopenedHeadIsEmpty(_number, out _))
                    {
                        // The unopened head's opening write, its header through and its end marker torn: an empty log.
                        CloseSegment();
                        _done = true;
                        break;
                    }

                    if (_tolerateRepairableMarkers && NextSegmentStartsAt(NextLsn))
                    {
                        Repairs.Add(new MarkerRepair(SegmentNames.PathOf(_directory, _number), _offset, NextLsn, _salt, slotReason!));
                        EndSegmentData(closed: true);
                        break;
                    }

                    Stop(_offset, _offset, slotReason!, WriteShape.UnknownExtent);
                    break;
            }
        }

        return false;
    }

    /// <summary>Closes the file and gives the buffer back: no frame or payload of this cursor may be used after this.</summary>
    public void Dispose()
    {
        CloseSegment();
        _scanner.Dispose();
    }

    /// <summary>
    /// The batch of a TruncateAfter that wal.head records as not completed (being made, or interrupted by a crash): it
    /// keeps LSNs from its first to <see cref="LogHead.RewindLsn"/> only, whatever its header says now (being rewritten,
    /// or torn), so those frames are checked one by one, as completing the cut checks them, and handed out; the log ends
    /// after them (found by review: a reader checked the batch as its header said, dropped frames included, and called a
    /// torn rewrite of that header damage).
    /// </summary>
    private void ReadPendingCutBatch()
    {
        _writeFirstLsn = NextLsn;
        ulong last = _head.RewindLsn;
        long offset = _offset + BatchHeader.Size;
        for (ulong lsn = NextLsn; lsn <= last; lsn++)
        {
            if (!_scanner.TryReadFrame(offset, _scanner.Length, lsn, _salt, out byte* frame, out string? reason))
            {
                Stop(_offset, offset, reason!, WriteShape.UnknownExtent);
                return;
            }

            offset += FrameHeader.FrameSize((int)((FrameHeader*)frame)->PayloadLength);
        }

        _batchStart = _offset;
        _batchEnd = offset;
        _batchFirstLsn = NextLsn;
        _batchLastLsn = last;
        if (_scanner.Fetch(_batchStart + BatchHeader.Size, (int)(_batchEnd - _batchStart - BatchHeader.Size)) is null)
        {
            Stop(_offset, _batchEnd, "the kept frames run past the end of the file", WriteShape.UnknownExtent, cutShort: true);
            return;
        }

        _framesLeft = (uint)(last + 1 - NextLsn);
        _offset += BatchHeader.Size;
        StopAfterLsn = Math.Min(StopAfterLsn, last); // the log ends after them
    }

    /// <summary>
    /// Checks every frame of the batch at <see cref="_batchStart"/> before any is handed out, with the whole batch in the
    /// buffer: a write is kept whole or not at all, by readers as by recovery (a reader in PointInTime must not return the
    /// first records of the damaged write and then stop). Stops at damage and returns false if a frame is bad.
    /// </summary>
    private bool VerifyBatch(uint records)
    {
        if (_scanner.Fetch(_batchStart, (int)(_batchEnd - _batchStart)) is null)
        {
            // The file ends inside the batch: find the frame it cuts, for the error's offset.
            _scanner.Fetch(_batchStart, (int)Math.Min(_batchEnd - _batchStart, Math.Max(0, _scanner.Length - _batchStart)));
        }

        long offset = _batchStart + BatchHeader.Size;
        ulong lsn = NextLsn;
        for (uint i = 0; i < records; i++)
        {
            if (!_scanner.TryReadFrame(offset, _batchEnd, lsn, _salt, out byte* frame, out string? reason))
            {
                Stop(_batchStart, offset, reason!, WriteShape.KnownBatch);
                return false;
            }

            offset += FrameHeader.FrameSize((int)((FrameHeader*)frame)->PayloadLength);
            lsn++;
        }

        if (offset != _batchEnd)
        {
            Stop(_batchStart, offset, $"the batch at offset {_batchStart} claims {_batchEnd - _batchStart - BatchHeader.Size} bytes of frames but its {records} frames end at offset {offset}", WriteShape.KnownBatch);
            return false;
        }

        return true;
    }

    /// <summary>Reads the header of segment <paramref name="number"/> (null when missing, empty, damaged or of another version).</summary>
    public SegmentHeader? PeekHeader(ulong number) =>
        _present.Contains(number) ? SegmentHeader.ReadCurrent(_storage, SegmentNames.PathOf(_directory, number)) : null;

    /// <summary>
    /// Starts at the newest segment whose header says it starts at or below <paramref name="lsn"/>, peeking headers from
    /// the newest segment down: the segments below it are never opened (a truncation may be removing them).
    /// </summary>
    /// <returns>False if no segment after the head qualifies (the cursor then starts at the head).</returns>
    public bool StartAtSegmentOf(ulong lsn)
    {
        for (int i = _segments.Count - 1; i >= 0 && _segments[i] > _head.Segment; i--)
        {
            if (PeekHeader(_segments[i]) is { } header && header.SegmentNumber == _segments[i] && header.LogId == _head.LogId && header.FirstLsn <= lsn)
            {
                StartAt(_segments[i], header.FirstLsn);
                return true;
            }
        }

        return false;
    }

    private void OpenSegment()
    {
        ulong number = _number;
        _writeFirstLsn = NextLsn;
        if (!_present.Contains(number))
        {
            // A reader of a live log listed the directory before the writer created this segment: look again.
            foreach (ulong found in SegmentNames.List(_storage, _directory).Where(n => n >= _head.Segment && !_present.Contains(n)))
            {
                _present.Add(found);
                _segments.Add(found);
            }

            _segments.Sort();
        }

        if (!_present.Contains(number))
        {
            // A head never opened (wal.head says so): a log whose creation, or emptying, stopped before the head's opening
            // write; empty, unless later segments hold writes of this log.
            if (IsUnopenedHead(number))
            {
                if (!UnopenedHeadIsEmpty(number, out Evidence evidence))
                {
                    Stop(0, 0, $"segment {number}, the head, is missing, but writes of this log follow it", WriteShape.Opening, cutShort: true, known: evidence);
                    return;
                }
            }
            else if (_continues || (_segments.Count > 0 && _segments[^1] > number) || number == _head.Segment)
            {
                // Never left by a crash: the writer prepares a segment (and makes its name durable) before it closes the
                // one before, removes segments from the head only, and says in wal.head when the head was opened.
                Stop(0, 0, _continues ? $"segment {number} is missing, but the segment before it was closed: the log goes on in it"
                    : _segments.Count > 0 && _segments[^1] > number ? $"segment {number} is missing, but segment {_segments.First(n => n > number)} after it exists"
                    : $"segment {number}, the head, is missing, but wal.head says it was opened", WriteShape.Opening, cutShort: true);
                return;
            }

            _done = true;
            return;
        }

        _file = TryOpenRead(number);
        if (_file is null)
        {
            // Removed (truncated) since the directory was listed: as if it had not been listed.
            _present.Remove(number);
            _segments.Remove(number);
            Stop(0, 0, $"segment {number} was removed while the log was read", WriteShape.Opening, cutShort: true);
            return;
        }

        _scanner.Attach(_file);
        HeaderVerdict verdict = _scanner.ReadSegmentHeader(out SegmentHeader header, out string? reason);
        switch (verdict)
        {
            case HeaderVerdict.Empty or HeaderVerdict.Damaged when IsUnopenedHead(number):
                // The head of a log whose creation (or emptying) stopped at, or before, the head's opening write, zero or
                // torn: empty, unless something of a write into it, or a later segment, says it was written after all.
                if (!UnopenedHeadIsEmpty(number, out Evidence evidence))
                {
                    Stop(0, 0, reason ?? "the head segment's header is zero, but writes of this log follow it", WriteShape.Opening, known: evidence);
                    return;
                }

                CloseSegment();
                _done = true;
                return;
            case HeaderVerdict.Empty:
                // Where the log goes on (an opened head, or after a closed segment) a zero header is a lost opening write,
                // torn or damaged, never a segment nobody used.
                Stop(0, 0, "the segment header is zero where the log goes on (the opened head, or after a closed segment)", WriteShape.Opening);
                return;
            case HeaderVerdict.Short:
                Stop(0, 0, reason!, WriteShape.Opening, cutShort: true);
                return;
            case HeaderVerdict.Damaged:
                Stop(0, 0, reason!, WriteShape.Opening);
                return;
        }

        if (header.FormatVersion != SegmentHeader.CurrentFormatVersion)
        {
            throw new WalException(SegmentHeader.UnsupportedVersion(_file.Path, header.FormatVersion));
        }

        (long field, string? mismatch) =
            header.SegmentNumber != number ? (16, $"the header names segment {header.SegmentNumber} but the file is segment {number}")
            : header.LogId != _head.LogId ? (32, $"the segment belongs to another log (log id {header.LogId:X16}, this log is {_head.LogId:X16})")
            : header.FirstLsn != NextLsn ? (24, $"the segment starts at LSN {header.FirstLsn} but the log continues at LSN {NextLsn}")
            : header.SegmentSize < (ulong)(SegmentHeader.Size + (2 * BatchHeader.Size) + FrameHeader.Size) || header.MaxWriteBytes < (2 * BatchHeader.Size) + FrameHeader.Size
                ? (40, $"the header's sizes are impossible (segment {header.SegmentSize} bytes, writes of {header.MaxWriteBytes})")
            : (0, null);
        if (mismatch is not null)
        {
            Stop(0, field, mismatch, WriteShape.Opening, cutShort: true); // a valid header out of place is never an interrupted write
            return;
        }

        _header = header;
        _salt = SegmentSalt.Of(_head.LogId, number);
        _offset = SegmentHeader.Size;
        _framesLeft = 0;
        LastBatchStart = -1;
    }

    /// <summary>
    /// The segment's data ends here (its end marker, or a damaged one the next segment makes good). An open end marker
    /// proves that the log ends here: the writer closes a segment before it opens the next, so whatever the files after
    /// it hold was never part of the log. A closed one says the log goes on in the next segment.
    /// </summary>
    private void EndSegmentData(bool closed)
    {
        SegmentEnded?.Invoke(new SegmentEnd(_number, _header, _offset, NextLsn, closed));
        EndSegment = _number;
        EndOffset = _offset;
        EndHeader = _header;
        CloseSegment();
        _number++;
        _continues = closed;
        _done = !closed;
    }

    /// <summary>Segment <paramref name="number"/> is the head, read first, and wal.head says its opening write was not made (or was dropped by a cut).</summary>
    private bool IsUnopenedHead(ulong number) => !_continues && number == _head.Segment && !_head.HeadOpened;

    /// <summary>
    /// Whether an unopened head that is missing, zero or torn in its opening write is an empty log: when a recorded cut
    /// emptied the log (whatever segments after the head hold are that cut's leftovers), or when nothing after it is a
    /// write of this log.
    /// </summary>
    private bool UnopenedHeadIsEmpty(ulong number, out Evidence evidence)
    {
        if (_head.CutFrom == _head.FirstLsn)
        {
            evidence = default;
            return true;
        }

        evidence = FindEvidence(number, 0, WriteShape.Opening);
        return !evidence.LaterWrite;
    }

    /// <summary>True when the next segment has a valid header of this log that starts at exactly <paramref name="lsn"/>.</summary>
    private bool NextSegmentStartsAt(ulong lsn) =>
        PeekHeader(_number + 1) is { } next && next.SegmentNumber == _number + 1 && next.LogId == _head.LogId && next.FirstLsn == lsn;

    /// <summary>
    /// Stops at damage in the write starting at <paramref name="writeStart"/> of the current segment: looks for evidence
    /// of a later write and records the verdict. A reader whose mode refuses that verdict first reads the write once
    /// more, fresh from its start: it may have seen a write in flight, and later writes made since.
    /// </summary>
    private void Stop(long writeStart, long offset, string reason, WriteShape shape, bool cutShort = false, Evidence? known = null)
    {
        ulong number = _number;
        if (Resumable && !ClassifyPauses)
        {
            PauseAt(writeStart, offset, reason);
            return;
        }

        // A segment file shorter than its header says was cut short: a write never shrinks a file (segments are prepared
        // at full size), so whatever the cut took may have held later writes.
        cutShort |= writeStart > 0 && _scanner.Length < (long)_header.SegmentSize;
        Evidence evidence = known ?? FindEvidence(number, writeStart, shape);
        DamageKind kind = cutShort || evidence.LaterWrite ? DamageKind.Corruption : DamageKind.TornTail;
        if (Resumable && kind == DamageKind.TornTail)
        {
            PauseAt(writeStart, offset, reason); // for all the files can tell, a write in flight
            return;
        }
        if (_retryBeforeRefusing is { } mode && RecoveryPolicy.Decide(kind, mode) == RecoveryAction.Refuse && _retried.Add((number, writeStart)))
        {
            if (writeStart == 0)
            {
                CloseSegment(); // reopened, fresh, by the loop
            }
            else
            {
                _scanner.Invalidate();
                _offset = writeStart;
                NextLsn = _writeFirstLsn;
                _framesLeft = 0;
            }

            return;
        }

        Damage = new LogDamage(SegmentNames.PathOf(_directory, number), number, offset, writeStart, _writeFirstLsn, reason, kind, evidence.Highest);
        NextLsn = _writeFirstLsn;
        _done = true;
        CloseSegment();
    }

    /// <summary>A <see cref="Resumable"/> cursor stops before the write at <paramref name="writeStart"/> and reads it afresh when resumed.</summary>
    private void PauseAt(long writeStart, long offset, string reason)
    {
        Paused = CursorPause.Unverified;
        PausedAt = (SegmentNames.PathOf(_directory, _number), offset, reason);
        NextLsn = _writeFirstLsn;
        _framesLeft = 0;
        if (writeStart == 0)
        {
            CloseSegment(); // reopened, and its header read again, on resume
        }
        else
        {
            _offset = writeStart;
        }
    }

    /// <summary>
    /// Everything at or after the damaged write that is intact and speaks of LSNs from the damaged write's on: batch
    /// headers and end markers of segment <paramref name="number"/> after <paramref name="writeStart"/> (salted for that
    /// segment, so stale ones of a recycled file do not count), and the headers and structures of every later segment.
    /// The damaged write's own header and end marker speak of its records but are not a later write.
    /// </summary>
    private Evidence FindEvidence(ulong number, long writeStart, WriteShape shape)
    {
        ulong from = _writeFirstLsn;
        var visitor = new EvidenceVisitor
        {
            OwnBatchAt = shape == WriteShape.Opening ? -1 : writeStart,
            OwnMarkerAt = shape switch
            {
                WriteShape.Opening => SegmentHeader.Size,
                WriteShape.KnownBatch => _batchEnd,
                _ => -1,
            },
            OwnReachEnd = shape == WriteShape.UnknownExtent ? writeStart + _header.MaxWriteBytes : -1,
        };

        using var scanner = new SegmentScanner();
        if (_present.Contains(number))
        {
            // A damaged write whose batch header is intact: its own frames are payload, not structures of later writes
            // (a payload may hold anything, a copy of a batch header included); its header speaks of its records.
            long scanFrom = writeStart;
            if (shape == WriteShape.KnownBatch)
            {
                visitor.Highest = _batchLastLsn;
                scanFrom = _batchEnd;
            }

            using WalFile? file = TryOpenRead(number);
            if (file is not null)
            {
                scanner.Attach(file);
                scanner.ScanStructures(scanFrom, scanner.Length, SegmentSalt.Of(_head.LogId, number), from, ref visitor);
            }
        }

        foreach (ulong later in _segments)
        {
            if (later <= number)
            {
                continue;
            }

            using WalFile? file = TryOpenRead(later);
            if (file is null)
            {
                continue;
            }

            scanner.Attach(file);
            if (scanner.ReadSegmentHeader(out SegmentHeader header, out _) == HeaderVerdict.Valid && header.LogId == _head.LogId && header.SegmentNumber == later)
            {
                visitor.LaterWrite = true;
                if (header.FirstLsn > from)
                {
                    visitor.Highest = Math.Max(visitor.Highest, header.FirstLsn - 1);
                }
            }

            var laterVisitor = new EvidenceVisitor { OwnBatchAt = -1, OwnMarkerAt = -1, OwnReachEnd = -1 };
            scanner.ScanStructures(0, scanner.Length, SegmentSalt.Of(_head.LogId, later), from, ref laterVisitor);
            visitor.LaterWrite |= laterVisitor.LaterWrite;
            visitor.Highest = Math.Max(visitor.Highest, laterVisitor.Highest);
        }

        EvidenceCandidatesChecked += scanner.CandidatesChecked;
        return new Evidence(visitor.LaterWrite, visitor.Highest);
    }

    /// <summary>Opens segment <paramref name="number"/> to read it; null when it was removed since the listing (a truncation of a log a writer has open).</summary>
    private WalFile? TryOpenRead(ulong number)
    {
        try
        {
            return _storage.OpenRead(SegmentNames.PathOf(_directory, number));
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private void CloseSegment()
    {
        if (_file is not null)
        {
            _scanner.Detach();
            _file.Dispose();
            _file = null;
        }
    }

    /// <summary>What is known of the damaged write's extent, to tell its own header and end marker from a later write's.</summary>
    private enum WriteShape
    {
        /// <summary>The segment's opening write (its header): its own end marker is at offset 64; it has no batch header.</summary>
        Opening,

        /// <summary>A write whose batch header is intact: its own end marker is right after its frames.</summary>
        KnownBatch,

        /// <summary>A write whose batch header is damaged: its own end marker lies somewhere within one write's reach.</summary>
        UnknownExtent,
    }

    private readonly record struct Evidence(bool LaterWrite, ulong Highest);

    private struct EvidenceVisitor : IStructureVisitor
    {
        public long OwnBatchAt;
        public long OwnMarkerAt;
        public long OwnReachEnd;
        public bool LaterWrite;
        public ulong Highest;

        public bool Visit(long offset, in BatchHeader header)
        {
            Highest = Math.Max(Highest, header.LastLsn);
            bool own = header.IsEndMarker
                ? offset == OwnMarkerAt || (OwnReachEnd >= 0 && offset + BatchHeader.Size <= OwnReachEnd)
                : offset == OwnBatchAt;
            LaterWrite |= !own;
            return true;
        }
    }
}

/// <summary>Where a segment's data ended, as a <see cref="LogCursor"/> read it (<see cref="LogCursor.SegmentEnded"/>).</summary>
/// <param name="Number">The segment number.</param>
/// <param name="Header">Its header, checked.</param>
/// <param name="EndOffset">The offset of its end marker: the bytes of its data.</param>
/// <param name="NextLsn">The LSN its end marker says the log continues with: its records are [Header.FirstLsn, NextLsn).</param>
/// <param name="Closed">The log goes on in the next segment.</param>
internal readonly record struct SegmentEnd(ulong Number, SegmentHeader Header, long EndOffset, ulong NextLsn, bool Closed);

/// <summary>Why a resumable <see cref="LogCursor"/> paused.</summary>
internal enum CursorPause
{
    /// <summary>Not paused.</summary>
    None,

    /// <summary>Every LSN up to <see cref="LogCursor.StopAfterLsn"/> was read.</summary>
    Bound,

    /// <summary>At an open end marker: the end of the log for now.</summary>
    End,

    /// <summary>At a write that cannot be verified (yet): a write in flight, or damage (<see cref="LogCursor.PausedAt"/>).</summary>
    Unverified,
}
